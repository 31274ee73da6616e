"""Console pages beside their API twins, same server, same run; the review queue with 10,000+ pending.

    .venv/bin/python -m bench.console_bench [--requests 200] [--pending 10000] [--database-url URL]

Seeds a throwaway demo database (SQLite by default), runs a nationwide matching run and tops the queue
up to --pending proposals, then times each console page and the API call that returns the same data,
alternating, as the admin (who sees the whole queue). Prints p50/p99 and the page/API ratio (target ≤ 2).
"""

from __future__ import annotations

import argparse
import random
import re
import time

import httpx
from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.orm import Session

from app.models import Match, Mentor, Newcomer
from bench._server import percentiles, seeded_app

TOKEN = re.compile(r'name="csrftoken" value="([^"]+)"')


def top_up(url: str, wanted: int) -> int:
    """Insert synthetic pending proposals until the queue holds `wanted` (the run made the rest)."""
    engine = create_engine(url)
    with Session(engine) as s:
        have = s.scalar(select(func.count()).select_from(Match).where(Match.status == "proposed")) or 0
        mentors = s.execute(select(Mentor.id, Mentor.county_code)).all()
        newcomers = s.execute(select(Newcomer.id, Newcomer.county_code)).all()
        taken = set(s.execute(select(Match.newcomer_id, Match.mentor_id)).all())
        rng = random.Random(7)
        rows = []
        while have + len(rows) < wanted:
            (nid, ncounty), (mid, mcounty) = rng.choice(newcomers), rng.choice(mentors)
            if (nid, mid) in taken or ncounty == mcounty:
                continue
            taken.add((nid, mid))
            rows.append(
                {
                    "newcomer_id": nid,
                    "mentor_id": mid,
                    "newcomer_county_code": ncounty,
                    "mentor_county_code": mcounty,
                    "status": "proposed",
                    "score": round(rng.random(), 4),
                    "score_parts": {"product": rng.random()},
                    "rank": 2,
                    "distance_km": round(rng.uniform(50, 2500), 1),
                    "reasons": {"zh": ["基准测试数据"], "en": ["benchmark data"]},
                    "suggested_commitments": [],
                    "version": 1,
                }
            )
        for i in range(0, len(rows), 1000):
            s.execute(insert(Match), rows[i : i + 1000])
        s.commit()
        total = s.scalar(select(func.count()).select_from(Match).where(Match.status == "proposed")) or 0
    engine.dispose()
    return int(total)


def timed(client: httpx.Client, paths: str | tuple[str, ...]) -> float:
    """GET each path in turn (a page's API twin may take several calls), in ms; each must succeed."""
    start = time.perf_counter()
    for path in (paths,) if isinstance(paths, str) else paths:
        client.get(path).raise_for_status()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pending", type=int, default=10_000)
    parser.add_argument("--database-url")
    parser.add_argument("--only", help="time only the cases whose label contains this text")
    args = parser.parse_args()

    with seeded_app(args.database_url, JIEDUAN_RUN_WORKER="true") as (url, base):
        api = httpx.Client(base_url=base, timeout=60)
        token = api.post("/api/v1/auth/token", data={"username": "admin", "password": "jieduan-demo"})
        api.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        run = api.post("/api/v1/matching-runs", json={"separation": "county", "k": 10}).json()
        while api.get(run["url"]).json()["status"] not in ("done", "failed"):
            time.sleep(0.5)
        pending = top_up(url, args.pending)

        console = httpx.Client(base_url=base, timeout=60)
        csrf = TOKEN.search(console.get("/console/login").text).group(1)  # type: ignore[union-attr]
        console.post(
            "/console/login", data={"csrftoken": csrf, "username": "admin", "password": "jieduan-demo"}
        )
        best = api.get("/api/v1/proposals", params={"limit": 1}).json()["items"][0]["id"]
        cases = [
            ("review queue (50 of all pending)", "/console/proposals", "/api/v1/proposals?limit=50"),
            ("proposal", f"/console/proposals/{best}", f"/api/v1/proposals/{best}"),
            ("runs", "/console/runs", "/api/v1/matching-runs?limit=50"),
            ("run", f"/console/runs/{run['id']}", f"/api/v1/matching-runs/{run['id']}"),
            ("matches (approved)", "/console/matches?status=approved", "/api/v1/proposals?status=approved"),
            ("imports", "/console/office/imports", "/api/v1/imports?limit=50"),
            ("accounts", "/console/admin/accounts", "/api/v1/accounts?limit=100"),
            ("home (counts; API twin: /me)", "/console", "/api/v1/me"),
            (
                "flows (twin: flows + equity reports)",
                "/console/flows",
                ("/api/v1/reports/flows", "/api/v1/reports/equity"),
            ),
        ]
        cases = [c for c in cases if args.only is None or args.only in c[0]]
        print(
            f"database: {url.split(':')[0]}, pending proposals: {pending}, requests per case: {args.requests}"
        )
        print(f"{'page':34} {'page p50':>9} {'p99':>8} {'API p50':>9} {'p99':>8} {'p50 x':>6} {'p99 x':>6}")
        for label, page, twin in cases:
            for _ in range(10):  # warm-up
                timed(console, page), timed(api, twin)
            page_ms, api_ms = [], []
            for _ in range(args.requests):  # alternate, so both see the same machine load
                page_ms.append(timed(console, page))
                api_ms.append(timed(api, twin))
            p50, p99 = percentiles(page_ms)
            a50, a99 = percentiles(api_ms)
            print(f"{label:34} {p50:9.2f} {p99:8.2f} {a50:9.2f} {a99:8.2f} {p50 / a50:6.2f} {p99 / a99:6.2f}")


if __name__ == "__main__":
    main()
