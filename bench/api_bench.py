"""API latency: mentor list (page of 50, one province) and one profile, against a bare FastAPI floor.

    .venv/bin/python -m bench.api_bench [--requests 1000] [--concurrency 1] [--database-url URL]

Seeds a throwaway database with the demo set (SQLite by default), serves the app and a bare FastAPI
app with uvicorn on loopback, and prints p50/p99 per endpoint and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from bench._server import percentiles, seeded_app, serve


def measure(base: str, path: str, headers: dict[str, str], n: int, concurrency: int) -> list[float]:
    """Latencies in ms of n GETs, issued by `concurrency` clients."""

    def worker(count: int) -> list[float]:
        out = []
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            for _ in range(count):
                start = time.perf_counter()
                r = client.get(path)
                out.append((time.perf_counter() - start) * 1000)
                r.raise_for_status()
        return out

    with ThreadPoolExecutor(concurrency) as pool:
        parts = pool.map(worker, [n // concurrency] * concurrency)
    return [x for part in parts for x in part]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    with seeded_app(args.database_url) as (url, app_url), serve("bench.bare_app:app") as bare:
        token = httpx.post(
            f"{app_url}/api/v1/auth/token", data={"username": "admin", "password": "jieduan-demo"}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        first = httpx.get(
            f"{app_url}/api/v1/mentors", params={"region": "53", "limit": 50}, headers=auth
        ).json()
        one_id = first["items"][0]["id"]
        cases = [
            (
                "GET /api/v1/mentors?region=53&limit=50",
                app_url,
                "/api/v1/mentors?region=53&limit=50",
                auth,
                "/page",
                len(first["items"]),
            ),
            (f"GET /api/v1/mentors/{one_id}", app_url, f"/api/v1/mentors/{one_id}", auth, "/one", 1),
        ]
        print(
            f"database: {url.split(':')[0]}, requests per case: {args.requests}, "
            f"concurrency: {args.concurrency}"
        )
        print(
            f"{'case':45} {'p50 ms':>8} {'p99 ms':>8} {'floor p50':>10} {'floor p99':>10} "
            f"{'p50 x':>7} {'p99 x':>7}"
        )
        for label, base, path, headers, floor_path, items in cases:
            for _ in range(20):  # warm-up
                httpx.get(f"{base}{path}", headers=headers)
            app_ms = measure(base, path, headers, args.requests, args.concurrency)
            floor_ms = measure(bare, floor_path, {}, args.requests, args.concurrency)
            a50, a99 = percentiles(app_ms)
            f50, f99 = percentiles(floor_ms)
            print(
                f"{label:45} {a50:8.2f} {a99:8.2f} {f50:10.2f} {f99:10.2f} "
                f"{a50 / f50:7.1f} {a99 / f99:7.1f}   ({items} items, "
                f"mean {statistics.mean(app_ms):.2f} ms)"
            )


if __name__ == "__main__":
    main()
