"""API CPU per request without servers: the three `api_bench` cases as in-process ASGI calls.

    .venv/bin/python -m bench.api_inprocess [--database-url URL] [--rounds 3] [--requests 200] [--profile]

Seeds the database as `bench.api_bench` does (a temporary SQLite file unless a URL is given), builds
the app in this process and calls `await app(scope, receive, send)` in a loop, as the Jiangsu
coordinator. Prints the CPU time per request (time.process_time: this process only, so other work on
the machine does not count) per case, the median over rounds, and checks every answer is a 200.
No HTTP and no sockets: the figures are the app's own cost, for comparing one change with the next
(run it before and after, or on two checkouts in turn); `bench.api_bench` gives the targets' ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any

from bench._server import app_settings
from bench.api_bench import PASSWORD, USER, case_paths, database

Message = dict[str, Any]


async def call(
    app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """One ASGI request: status, headers and body of the answer."""
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"bench"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
        "state": {},
    }
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status, out_headers, chunks = 0, {}, []

    async def send(message: Message) -> None:
        nonlocal status, out_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            out_headers = {k.decode(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, out_headers, b"".join(chunks)


async def login(app: Any) -> dict[str, str]:
    """Bearer headers for the bench user."""
    form = f"username={USER}&password={PASSWORD}".encode()
    status, _, body = await call(
        app, "POST", "/api/v1/auth/token", {"content-type": "application/x-www-form-urlencoded"}, form
    )
    if status != 200:
        raise RuntimeError(f"login failed: {status} {body[:200]!r}")
    return {"Authorization": f"Bearer {json.loads(body)['access_token']}"}


async def measure(url: str, args: argparse.Namespace) -> None:
    """Build the app over `url` and time the cases, alternating, for each round."""
    os.environ.update(app_settings(url))
    from app.config import get_settings
    from app.main import create_app

    get_settings.cache_clear()
    app = create_app()
    headers = await login(app)
    _, _, body = await call(app, "GET", case_paths(0)[0][1], headers)  # the mentors page: its first item
    one = json.loads(body)["items"][0]["id"]
    plan = [(label, path) for label, path, _ in case_paths(one)]
    if args.case:
        plan = [p for p in plan if p[0].startswith(args.case)]
    per_round: dict[str, list[float]] = {label: [] for label, _ in plan}
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    for _ in range(args.rounds):
        for label, path in plan:
            for _ in range(20):  # warm-up
                await call(app, "GET", path, headers)
            if profiler:
                profiler.enable()
            start = time.process_time()
            for _ in range(args.requests):
                status, _, body = await call(app, "GET", path, headers)
                if status != 200:
                    raise RuntimeError(f"{path}: {status} {body[:200]!r}")
            per_round[label].append(1e6 * (time.process_time() - start) / args.requests)
            if profiler:
                profiler.disable()
    print(f"database: {url.split(':')[0].split('+')[0]}, rounds: {args.rounds}, requests: {args.requests}")
    for label, values in per_round.items():
        rounds = [round(v) for v in values]
        print(f"{label:24} CPU {statistics.median(values):8.0f} us/request  rounds: {rounds}")
    if profiler:
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
    app.state.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--case", help="only the case whose label starts with this (e.g. mentors)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the timed calls")
    args = parser.parse_args()
    with database(args.database_url) as url:
        asyncio.run(measure(url, args))


if __name__ == "__main__":
    main()
