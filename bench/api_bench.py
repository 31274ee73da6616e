"""API speed: a page of 50 mentors, the review queue's page and one profile, beside a bare FastAPI floor.

    .venv/bin/python -m bench.api_bench [--database-url URL] [--rounds 3] [--requests 400]
        [--seconds 4] [--connections 10] [--plain-floor] [--wrk]

Seeds a database with the demo set (a temporary SQLite file unless --database-url is given; a given
database is reused if it is already seeded), runs one nationwide matching run so the review queue is
full, then serves the app with one uvicorn process (no worker) and, beside it, `bench.bare_app`
returning the very bodies the app returned for each case (typed FastAPI endpoints: the floor).

Each case is measured as the Jiangsu coordinator (jurisdiction scope and phone masking apply):
- single client: --requests sequential GETs over one keep-alive connection, p50;
- load: --connections keep-alive connections for --seconds (`bench.load`, a bounded Python load
  generator like `wrk -c10`), requests per second, and the server's CPU time per request.
App and floor alternate, case by case, for --rounds rounds; the figures are the medians over rounds,
with the targets: throughput at least 1/3 of the floor's, single-client p50 at most 3x the floor's.
--plain-floor adds the untyped floor (jsonable_encoder); --wrk adds `wrk -t1 -cN` req/s if installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select

from app.models import Match
from bench._server import Server, app_settings, prepare_database, serve_process
from bench.load import LoadResult, load

USER = "coord-jiangsu"
PASSWORD = "jieduan-demo"  # noqa: S105 - the demo set's published password


def login(base: str, username: str = USER) -> dict[str, str]:
    """Bearer headers for a demo account (access tokens live 15 minutes: log in again per round)."""
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def ensure_proposals(url: str) -> int:
    """Run one nationwide matching run through the API unless the database holds proposals already."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            pending = conn.scalar(select(func.count()).select_from(Match).where(Match.status == "proposed"))
    finally:
        engine.dispose()
    if pending:
        return int(pending)
    env = app_settings(url, JIEDUAN_RUN_WORKER="true")
    with serve_process("app.main:create_app", env=env, factory=True) as server:
        client = httpx.Client(base_url=server.base, headers=login(server.base, "admin"), timeout=60)
        run = client.post("/api/v1/matching-runs", json={"separation": "county", "k": 10}).json()
        while (status := client.get(run["url"]).json()["status"]) not in ("done", "failed"):
            time.sleep(0.5)
        if status != "done":
            raise RuntimeError("the matching run failed")
    return ensure_proposals(url)


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """The given database, or a temporary SQLite file; seeded either way."""
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        prepare_database(url)
        ensure_proposals(url)
        yield url


def measure(server: Server, path: str, headers: dict[str, str], args: argparse.Namespace) -> dict[str, float]:
    """Single-client p50 and load throughput (with the server's CPU per request) of one path."""
    load(server.base, path, headers=headers, connections=1, seconds=1.0, max_requests=50)  # warm-up
    single = load(server.base, path, headers=headers, connections=1, seconds=30, max_requests=args.requests)
    cpu_before = server.cpu_seconds()
    loaded: LoadResult = load(
        server.base, path, headers=headers, connections=args.connections, seconds=args.seconds
    )
    cpu = server.cpu_seconds() - cpu_before
    if single.errors or loaded.errors:
        raise RuntimeError(f"{path}: {single.errors + loaded.errors} non-2xx answers")
    return {
        "p50": single.percentile(0.5),
        "p99": single.percentile(0.99),
        "rps": loaded.throughput,
        "load_p50": loaded.percentile(0.5),
        "load_p99": loaded.percentile(0.99),
        "cpu_us": 1e6 * cpu / max(1, len(loaded.latencies_ms)),
    }


def wrk_rps(url: str, headers: dict[str, str], args: argparse.Namespace) -> float | None:
    """Requests per second from `wrk -t1 -cN`, if wrk is installed (CI does not need it)."""
    if shutil.which("wrk") is None:
        return None
    cmd = ["wrk", "-t1", f"-c{args.connections}", f"-d{max(1, int(args.seconds))}s"]
    for key, value in headers.items():
        cmd += ["-H", f"{key}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("Requests/sec:"))
    return float(line.split()[1])


def cases(base: str, headers: dict[str, str]) -> list[tuple[str, str, str]]:
    """(label, app path, floor case name); checks that each page really holds 50 items."""
    mentors = httpx.get(f"{base}/api/v1/mentors?limit=50", headers=headers).json()
    queue = httpx.get(f"{base}/api/v1/proposals?limit=50", headers=headers).json()
    if len(mentors["items"]) < 50 or len(queue["items"]) < 50:
        raise RuntimeError("the demo set should give the Jiangsu coordinator 50 mentors and 50 proposals")
    return case_paths(mentors["items"][0]["id"])


def case_paths(one: int) -> list[tuple[str, str, str]]:
    """(label, app path, floor case name) of the three cases; `one` is the profile's mentor id."""
    return [
        ("mentors page (50)", "/api/v1/mentors?limit=50", "mentors"),
        ("review queue page (50)", "/api/v1/proposals?limit=50", "queue"),
        ("one mentor profile", f"/api/v1/mentors/{one}", "one"),
    ]


Results = dict[tuple[str, str], list[dict[str, float]]]


def run(
    url: str, args: argparse.Namespace
) -> tuple[list[tuple[str, str, str]], dict[str, int], Results, dict[tuple[str, str], list[float]]]:
    """Serve the app and the floor over `url` and measure every case, alternating, for each round."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve_process("app.main:create_app", env=app_settings(url), factory=True) as app,
    ):
        headers = login(app.base)
        plan = cases(app.base, headers)
        bodies = {name: httpx.get(f"{app.base}{path}", headers=headers).json() for _, path, name in plan}
        sizes = {name: len(json.dumps(b, ensure_ascii=False).encode()) for name, b in bodies.items()}
        bodies_file = Path(tmp) / "bodies.json"
        bodies_file.write_text(json.dumps(bodies, ensure_ascii=False), encoding="utf-8")
        results: Results = {}
        wrk: dict[tuple[str, str], list[float]] = {}
        with serve_process("bench.bare_app:app", env={"JIEDUAN_BENCH_BODIES": str(bodies_file)}) as bare:
            for _ in range(args.rounds):
                headers = login(app.base)
                for label, path, name in plan:
                    targets = [("app", app, path, headers), ("floor", bare, f"/typed/{name}", {})]
                    if args.plain_floor:
                        targets.append(("plain floor", bare, f"/plain/{name}", {}))
                    for who, server, target, target_headers in targets:
                        results.setdefault((label, who), []).append(
                            measure(server, target, target_headers, args)
                        )
                        rps = wrk_rps(f"{server.base}{target}", target_headers, args) if args.wrk else None
                        if rps is not None:
                            wrk.setdefault((label, who), []).append(rps)
    return plan, sizes, results, wrk


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400, help="single-client requests per round")
    parser.add_argument("--seconds", type=float, default=4.0, help="load duration per round")
    parser.add_argument("--connections", type=int, default=10)
    parser.add_argument("--plain-floor", action="store_true", help="also measure the untyped floor")
    parser.add_argument("--wrk", action="store_true", help="also measure req/s with wrk if installed")
    args = parser.parse_args()

    with database(args.database_url) as url:
        plan, sizes, results, wrk = run(url, args)
    report(url, args, plan, sizes, results, wrk)


def report(
    url: str,
    args: argparse.Namespace,
    plan: list[tuple[str, str, str]],
    sizes: dict[str, int],
    results: Results,
    wrk: dict[tuple[str, str], list[float]],
) -> None:
    """Print the medians per case and the two ratios against the floor."""

    def med(label: str, who: str, key: str) -> float:
        return statistics.median(r[key] for r in results[(label, who)])

    print(
        f"database: {url.split(':')[0].split('+')[0]}, rounds: {args.rounds}, single-client requests: "
        f"{args.requests}, load: {args.connections} connections x {args.seconds:g} s, user: {USER}"
    )
    print(
        f"{'case':24} {'body':>7} | {'p50 ms':>7} {'floor':>6} {'x':>5} {'<=3':>4} | {'req/s':>6} "
        f"{'floor':>6} {'ratio':>6} {'>=1/3':>5} | {'cpu us/req':>10} {'floor':>6} | {'load p99 ms':>11}"
    )
    for label, _, name in plan:
        p50, f50 = med(label, "app", "p50"), med(label, "floor", "p50")
        rps, frps = med(label, "app", "rps"), med(label, "floor", "rps")
        cpu, fcpu = med(label, "app", "cpu_us"), med(label, "floor", "cpu_us")
        print(
            f"{label:24} {sizes[name] / 1024:6.1f}K | {p50:7.2f} {f50:6.2f} {p50 / f50:5.2f} "
            f"{'met' if p50 <= 3 * f50 else 'MISS':>4} | {rps:6.0f} {frps:6.0f} {rps / frps:6.2f} "
            f"{'met' if rps * 3 >= frps else 'MISS':>5} | {cpu:10.0f} {fcpu:6.0f} | "
            f"{med(label, 'app', 'load_p99'):11.1f}"
        )
    if args.plain_floor:
        for label, _, _ in plan:
            print(
                f"  untyped floor, {label}: p50 {med(label, 'plain floor', 'p50'):.2f} ms, "
                f"{med(label, 'plain floor', 'rps'):.0f} req/s"
            )
    for (label, who), values in wrk.items():
        print(f"  wrk -c{args.connections}, {label}, {who}: {statistics.median(values):.0f} req/s")
    per_round = {
        label: [
            round(r["rps"] / f["rps"], 2)
            for r, f in zip(results[(label, "app")], results[(label, "floor")], strict=True)
        ]
        for label, _, _ in plan
    }
    print(f"throughput ratio per round: {per_round}")


if __name__ == "__main__":
    main()
