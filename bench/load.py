"""A bounded HTTP/1.1 load generator: a few keep-alive connections, each sending GETs back to back.

Like `wrk -c N` but in the project's own Python: asyncio (uvloop when installed) and httptools' C
response parser, both already installed with uvicorn[standard]. Bounded by a duration and a request
budget, so it always ends. One client process costs about 30-60 µs of CPU per request, well below
what the servers under test spend, so on this machine it does not cap the figures it reports.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httptools

try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] installs it
    uvloop = None


@dataclass
class LoadResult:
    """Latencies of the completed requests, the wall time they took, and the non-2xx answers."""

    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    errors: int = 0

    @property
    def throughput(self) -> float:
        """Completed requests per second."""
        return len(self.latencies_ms) / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        """The q-quantile (0..1) of the latencies in ms."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


class _Response:
    """httptools callbacks: note the end of each response on the connection."""

    def __init__(self) -> None:
        self.complete = False

    def on_message_complete(self) -> None:
        self.complete = True


def _request(host: str, port: int, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Accept: application/json"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


async def _connection(
    host: str, port: int, request: bytes, deadline: float, budget: list[int], out: LoadResult
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    state = _Response()
    parser = httptools.HttpResponseParser(state)
    try:
        while budget[0] > 0 and time.perf_counter() < deadline:
            budget[0] -= 1
            state.complete = False
            start = time.perf_counter()
            writer.write(request)
            while not state.complete:
                data = await reader.read(1 << 18)
                if not data:
                    raise ConnectionError("server closed the connection")
                parser.feed_data(data)
            out.latencies_ms.append((time.perf_counter() - start) * 1000)
            if not 200 <= parser.get_status_code() < 300:
                out.errors += 1
    finally:
        writer.close()


async def _run(
    host: str, port: int, path: str, headers: dict[str, str], connections: int, seconds: float, limit: int
) -> LoadResult:
    request = _request(host, port, path, headers)
    out = LoadResult()
    budget = [limit]
    start = time.perf_counter()
    deadline = start + seconds
    await asyncio.gather(
        *(_connection(host, port, request, deadline, budget, out) for _ in range(connections))
    )
    out.seconds = time.perf_counter() - start
    return out


def load(
    base_url: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    connections: int = 10,
    seconds: float = 5.0,
    max_requests: int = 1_000_000,
) -> LoadResult:
    """GET `path` over `connections` keep-alive connections for `seconds` or `max_requests` requests."""
    hostport = base_url.removeprefix("http://").rstrip("/")
    host, _, port = hostport.partition(":")
    coro = _run(host, int(port), path, headers or {}, connections, seconds, max_requests)
    if uvloop is not None:
        return uvloop.run(coro)
    return asyncio.run(coro)
