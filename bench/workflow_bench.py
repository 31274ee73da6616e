"""The matching workflow over the demo data set, through the API on loopback.

    .venv/bin/python -m bench.workflow_bench [--database-url URL] [--requests 300]

Measures: a nationwide matching run (time to done, proposals/s), review-queue page p50/p99 (50 per
page, -score), approve p50/p99 under 20 concurrent clients, recommendations p50/p99 (k=5).
"""

from __future__ import annotations

import argparse
import random
import threading
import time

import httpx

from bench._server import percentiles, seeded_app


def _token(base: str, username: str) -> dict[str, str]:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": "jieduan-demo"})
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _timed(client: httpx.Client, method: str, path: str, **kwargs: object) -> tuple[float, httpx.Response]:
    start = time.perf_counter()
    r = client.request(method, path, **kwargs)  # type: ignore[arg-type]
    return (time.perf_counter() - start) * 1000, r


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url")
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    worker = {"JIEDUAN_RUN_WORKER": "true", "JIEDUAN_WORKER_POLL_SECONDS": "0.1"}
    with seeded_app(args.database_url, **worker) as (url, base):
        admin = _token(base, "admin")
        coord = _token(base, "coord-jiangsu")
        with httpx.Client(base_url=base, timeout=600) as c:
            start = time.perf_counter()
            run_url = c.post("/api/v1/matching-runs", json={"k": 10}, headers=admin).json()["url"]
            while (run := c.get(run_url, headers=admin).json())["status"] not in ("done", "failed"):
                time.sleep(0.1)
            elapsed = time.perf_counter() - start
            n = run["counts"]["proposals"]
            print(f"database: {url.split(':')[0]}")
            print(
                f"matching run, whole demo set: {run['status']} in {elapsed:.2f} s, "
                f"{run['counts']['newcomers']} newcomers x {run['counts']['mentors']} mentors, "
                f"{n} proposals, {n / elapsed:.0f} proposals/s, "
                f"coverage {run['evaluation']['coverage']:.3f}, "
                f"equity ratio {run['evaluation'].get('equity_ratio', float('nan')):.2f}"
            )

            queue_ms, cursor = [], None
            for _ in range(args.requests):
                params = {"status": "pending", "limit": 50, **({"cursor": cursor} if cursor else {})}
                ms, r = _timed(c, "GET", "/api/v1/proposals", params=params, headers=coord)
                queue_ms.append(ms)
                cursor = r.json()["next_cursor"]
            p50, p99 = percentiles(queue_ms)
            print(
                f"review queue page (50, -score), coordinator of Jiangsu: p50 {p50:.1f} ms, p99 {p99:.1f} ms"
            )

            items, cursor = [], None
            while len(items) < 400:
                page = c.get(
                    "/api/v1/proposals",
                    params={"status": "pending", "limit": 100, **({"cursor": cursor} if cursor else {})},
                    headers=admin,
                ).json()
                items += page["items"]
                cursor = page["next_cursor"]
                if not cursor:
                    break
            newcomer_ids = [p["newcomer"]["id"] for p in items]
            ids = [p["id"] for p in items][:400]

        approve_ms: list[float] = []
        codes: dict[int, int] = {}
        lock = threading.Lock()
        chunks = [ids[i::20] for i in range(20)]

        def client_thread(chunk: list[int]) -> None:
            with httpx.Client(base_url=base, timeout=60) as tc:
                for pid in chunk:
                    ms, r = _timed(
                        tc,
                        "POST",
                        f"/api/v1/proposals/{pid}/approve",
                        json={},
                        headers={**admin, "If-Match": '"1"'},
                    )
                    with lock:
                        approve_ms.append(ms)
                        codes[r.status_code] = codes.get(r.status_code, 0) + 1

        threads = [threading.Thread(target=client_thread, args=(ch,)) for ch in chunks]
        wall = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - wall
        p50, p99 = percentiles(approve_ms)
        print(
            f"approve, 20 concurrent clients, {len(approve_ms)} requests: "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
            f"{len(approve_ms) / wall:.0f} req/s, statuses {codes}"
        )

        rec_ms = []
        rng = random.Random(7)
        with httpx.Client(base_url=base, timeout=60) as c:
            c.get(f"/api/v1/newcomers/{newcomer_ids[0]}/recommendations", headers=admin)  # builds the index
            for _ in range(args.requests):
                ms, r = _timed(
                    c,
                    "GET",
                    f"/api/v1/newcomers/{rng.choice(newcomer_ids)}/recommendations",
                    params={"k": 5},
                    headers=admin,
                )
                r.raise_for_status()
                rec_ms.append(ms)
        p50, p99 = percentiles(rec_ms)
        print(f"recommendations (k=5, 2,000 mentors): p50 {p50:.1f} ms, p99 {p99:.1f} ms")


if __name__ == "__main__":
    main()
