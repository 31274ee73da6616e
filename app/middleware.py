"""The one ASGI middleware in front of the routes: everything a request meets before it is routed.

In order, for each HTTP request:
- a request id: the caller's `X-Request-ID` if printable and at most 64 characters, else a new one; it is
  set for the log lines and problem bodies of the request and echoed in the response header;
- metrics by route template and an access-log line when the request ends;
- a 500 that keeps the connection: an unhandled exception is answered with a problem and logged once;
- HEAD is answered as GET without the body;
- GET and HEAD run in read-only transactions (see app.db);
- a NUL character in the path or query is refused (422) before any route sees it;
- admission: at most `limit` requests at a time, of which at most `write_limit` write;
- body limits: a body over the limit is refused (413), by Content-Length up front or while streaming.

One layer instead of one per concern: each layer wrapped `send` and `receive` again and cost an await
per message, and together they cost more CPU than a bare endpoint's whole request.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from asgi_correlation_id import correlation_id
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import read_only_transactions
from app.errors import problem

if TYPE_CHECKING:
    from app.observability.metrics import HttpMetrics

log = logging.getLogger("jieduan.access")
error_log = logging.getLogger("jieduan.errors")

# Methods that only read: their transactions are read-only (no write lock on SQLite).
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
PROBES = ("/healthz", "/readyz")
REQUEST_ID_HEADER = b"x-request-id"
MAX_REQUEST_ID = 64
# Multipart framing adds a little; allowed on uploads so a file of exactly the limit still fits.
MULTIPART_ALLOWANCE = 64 * 1024

# Renders a refusal made here: (request, status, code, detail, extra fields) -> the response.
Answer = Callable[..., Awaitable[Response]]


async def problem_answer(request: Request, status: int, code: str, detail: Any, **extra: Any) -> Response:
    """The default: problem+json (the console installs one that renders its pages on its paths)."""
    return problem(request, status, code, detail, **extra)


def request_id_of(scope: Scope) -> str:
    """The caller's request id if acceptable (proxies and apps use many formats), else a new one."""
    for name, value in scope.get("headers") or ():
        if name == REQUEST_ID_HEADER:
            given = value.decode("latin-1")
            # Only empty, overlong or unprintable ids are replaced.
            if given and len(given) <= MAX_REQUEST_ID and given.isprintable():
                return given
            break
    return uuid.uuid4().hex


def _without_body(send: Send) -> Send:
    async def send_headers_only(message: Message) -> None:
        if message["type"] == "http.response.body":
            message = {**message, "body": b""}
        await send(message)

    return send_headers_only


class FrontMiddleware:
    """Request id, metrics, access log, 500 guard, read-only transactions, NUL guard, admission, body limit.

    Admission: waiting requests wait here, on the event loop, holding nothing. A request that has begun a
    transaction must find a free worker thread for its next hop; if every thread were taken by requests
    blocked on a database lock or a pool checkout, nobody could finish. Keeping admissions below the
    thread-pool size (40 by default) and the connection-pool size makes that starvation impossible.
    Writers can block for as long as a lock is held (SQLite's one write lock; a row lock on PostgreSQL);
    readers cannot. The write cap keeps `limit - write_limit` admissions that only readers can take, so a
    queue of blocked writers never makes a GET wait for a slot. Probes are not held back.

    The 500 guard: Starlette's own last-resort handler re-raises after sending its 500, and the server
    then closes the connection under a client that was told nothing (no `Connection: close`): a pooled
    keep-alive connection is dead on its next use. Caught here, the exception is logged once and the
    connection stays usable. If the response had already started, there is nothing to say: re-raised.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limit: int,
        write_limit: int | None = None,
        body_limit: int,
        upload_limit: int | None = None,
        upload_prefix: str | tuple[str, ...] = (),
        metrics: HttpMetrics | None = None,
        answer: Answer = problem_answer,
    ) -> None:
        write_limit = limit - 1 if write_limit is None else write_limit
        if not 1 <= write_limit < limit:
            raise ValueError("write_limit must be at least 1 and below limit")
        self.app = app
        self.admitted = asyncio.Semaphore(limit)
        self.writers = asyncio.Semaphore(write_limit)
        self.body_limit = body_limit
        self.upload_limit = body_limit if upload_limit is None else upload_limit
        self.upload_prefix = upload_prefix
        self.metrics = metrics
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "HEAD":
            # HEAD is GET without the body (RFC 9110 §9.3.2): the routes declare GET only, so the
            # request is routed as one and the body dropped here; the headers, Content-Length included,
            # are the GET's.
            scope, send = {**scope, "method": "GET"}, _without_body(send)
        request_id = request_id_of(scope)
        correlation_id.set(request_id)
        id_header = (REQUEST_ID_HEADER, request_id.encode("latin-1"))
        started = time.perf_counter()
        status = 500  # what is counted and logged if the request fails before answering
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            if scope["method"] in READ_ONLY_METHODS:
                with read_only_transactions():
                    await self._admit(scope, receive, send_with_id)
            else:
                await self._admit(scope, receive, send_with_id)
        except Exception:
            if answered:
                raise
            error_log.exception("unhandled error on %s %s", scope["method"], scope["path"])
            try:
                await self._answer(scope, send_with_id, 500, "internal_error")
            except Exception:  # the console's error page failed too: the plain problem still answers
                await _send(problem(Request(scope), 500, "internal_error", None), scope, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.observe(scope, status, seconds)
            log.info(
                "%s %s %s %.1fms id=%s", scope["method"], scope["path"], status, seconds * 1000, request_id
            )

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        if "\x00" in scope["path"] or _has_nul(scope.get("query_string") or b""):
            # PostgreSQL text cannot hold NUL, and no parameter has a use for one: refused for every
            # route at once (request bodies are checked by the `Input` schema base).
            where = "path" if "\x00" in scope["path"] else "query"
            error = {"loc": [where], "msg": "must not contain NUL characters", "type": "value_error"}
            detail = ("地址或查询参数不能包含 NUL 字符", "the path or query must not contain NUL characters")
            await self._answer(scope, send, 422, "validation_failed", detail, errors=[error])
            return
        if scope["path"] in PROBES:
            await self._limit_body(scope, receive, send)
        elif scope["method"] in READ_ONLY_METHODS:
            async with self.admitted:
                await self._limit_body(scope, receive, send)
        else:
            # A writer first waits for a writer's slot, then for an admission: it never holds one idle.
            async with self.writers, self.admitted:
                await self._limit_body(scope, receive, send)

    async def _limit_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a body over the limit up front by Content-Length, or as soon as a stream passes it.

        Past the limit mid-stream, the 413 is sent from here, the application is told the client left
        (so it stops reading), and anything it still tries to send is dropped.
        """
        declared: bytes | None = None
        streamed = False
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                streamed = True
        is_upload = bool(self.upload_prefix) and scope["path"].startswith(self.upload_prefix)
        limit = self.upload_limit if is_upload else self.body_limit
        allowed = limit + (MULTIPART_ALLOWANCE if is_upload else 0)
        if declared is not None and declared.isdigit() and int(declared) > allowed:
            await self._too_large(scope, send, limit)
            return
        if not streamed and (declared is None or declared.isdigit()):
            # A body of known length (or none: HTTP/1.1 has no body without either header) cannot pass
            # the limit checked above, so it needs no counting.
            await self.app(scope, receive, send)
            return
        seen = 0
        refused = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > allowed:
                    refused = True
                    if not response_started:
                        await self._too_large(scope, send, limit)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if refused:
                return  # the 413 went out already; whatever the app says now has no one to hear it
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not refused:
                raise
            # The app failed only because its body was cut off; the client has its 413.

    async def _answer(
        self, scope: Scope, send: Send, status: int, code: str, detail: Any = None, **extra: Any
    ) -> None:
        # Rendered here rather than through the app: nothing downstream has run (or it failed).
        await _send(await self.answer(Request(scope), status, code, detail, **extra), scope, send)

    async def _too_large(self, scope: Scope, send: Send, limit: int) -> None:
        mb = f"{limit / 2**20:.0f} MB" if limit >= 2**20 else ""  # "0 MB" would read as nonsense
        detail = (
            f"请求内容超过 {limit:,} 字节{f'（{mb}）' if mb else ''}的上限",
            f"the body exceeds the limit of {limit:,} bytes{f' ({mb})' if mb else ''}",
        )
        await self._answer(scope, send, 413, "payload_too_large", detail, limit_bytes=limit)


def _has_nul(query_string: bytes) -> bool:
    # The same as looking for NUL after percent-decoding: only "%00" decodes to it.
    return b"\x00" in query_string or b"%00" in query_string


async def _send(response: Response, scope: Scope, send: Send) -> None:
    await response(scope, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
