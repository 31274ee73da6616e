"""ASGI middleware: request ids with access logs, a 500 that keeps the connection, NUL guard, body limits."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import read_only_transactions
from app.errors import problem

log = logging.getLogger("jieduan.access")
error_log = logging.getLogger("jieduan.errors")


class RequestLogMiddleware:
    """Log one line when a request completes, with the id CorrelationIdMiddleware gave it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        request_id = incoming if incoming.isprintable() and incoming else uuid.uuid4().hex
        started = time.perf_counter()
        status_holder: dict[str, Any] = {}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The X-Request-ID response header is added by the outer CorrelationIdMiddleware.
                status_holder["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "%s %s %s %.1fms id=%s",
                scope["method"],
                scope["path"],
                status_holder.get("status", 500),
                (time.perf_counter() - started) * 1000,
                request_id,
            )


class UnhandledErrorMiddleware:
    """Answer an unhandled exception with a 500 problem and end the request normally.

    Starlette's own last-resort handler re-raises after sending its 500, and the server then closes the
    connection under a client that was told nothing (no `Connection: close`): a pooled keep-alive
    connection is dead on its next use. Caught here, the exception is logged once and the connection
    stays usable. If the response had already started, there is nothing to say, so it is re-raised.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if started:
                raise
            error_log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            response = problem(Request(scope), 500, "internal_error", None)
            await response(scope, _empty_receive, send)


class NulGuardMiddleware:
    """Refuse a NUL character anywhere in the path or query string (422) before any route sees it.

    PostgreSQL text cannot hold NUL, and no parameter has a use for one; checking here covers every
    query parameter of every route at once (request bodies are checked by the `Input` schema base).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"\x00" in unquote_to_bytes(scope.get("query_string") or b"")
        ):
            where = "path" if "\x00" in scope["path"] else "query"
            error = {"loc": [where], "msg": "must not contain NUL characters", "type": "value_error"}
            response = problem(Request(scope), 422, "validation_failed", None, errors=[error])
            await response(scope, _empty_receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse bodies over the limit: by Content-Length up front, or while streaming a chunked body.

    Either way the client gets the same 413 problem. Past the limit mid-stream, the 413 is sent from
    here, the application is told the client left (so it stops reading), and anything it still tries
    to send is dropped.
    """

    def __init__(
        self, app: ASGIApp, *, default_limit: int, upload_limit: int, upload_prefix: str | tuple[str, ...]
    ) -> None:
        self.app = app
        self.default_limit = default_limit
        self.upload_limit = upload_limit
        self.upload_prefix = upload_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_upload = scope["path"].startswith(self.upload_prefix)
        limit = self.upload_limit if is_upload else self.default_limit
        # Multipart framing adds a little; allow it so a file of exactly the limit still fits.
        allowed = limit + (64 * 1024 if is_upload else 0)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > allowed:
            await _too_large(scope, send, limit)
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
                        await _too_large(scope, send, limit)
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


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    # Rendered here rather than through the app: nothing downstream has run yet.
    response = problem(Request(scope), 413, "payload_too_large", None, limit_bytes=limit)
    await response(scope, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


# Methods that only read: their transactions are read-only (no write lock on SQLite).
READ_ONLY_METHODS = frozenset({"GET", "HEAD"})
PROBES = ("/healthz", "/readyz")


class ReadOnlyMethodsMiddleware:
    """Run GET and HEAD requests, on every path (probes and console pages too), in read-only transactions.

    On SQLite a read-only transaction is a WAL snapshot beside the writer: it never queues for the write
    lock (see app.db). Set here, outside the routes, so no GET handler can forget it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in READ_ONLY_METHODS:
            with read_only_transactions():
                await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ConcurrencyLimitMiddleware:
    """Admit at most `limit` requests at a time, of which at most `write_limit` may write.

    Waiting requests wait here, on the event loop, holding nothing. Sync endpoints hop between worker
    threads (each dependency, then the handler). A request that has begun a transaction must find a free
    thread for its next hop; if every thread were taken by requests blocked on a database lock or a pool
    checkout, nobody could finish. Keeping admissions below the thread-pool size (40 by default) and the
    connection-pool size makes that starvation impossible.

    Writers can block for as long as a lock is held (SQLite's one write lock; a row lock on
    PostgreSQL); readers cannot. The write cap keeps `limit - write_limit` admissions that only readers
    can take, so a queue of blocked writers never makes a GET wait for a slot.
    """

    def __init__(self, app: ASGIApp, *, limit: int, write_limit: int | None = None) -> None:
        write_limit = limit - 1 if write_limit is None else write_limit
        if not 1 <= write_limit < limit:
            raise ValueError("write_limit must be at least 1 and below limit")
        self.app = app
        self.admitted = asyncio.Semaphore(limit)
        self.writers = asyncio.Semaphore(write_limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return
        if scope["method"] in READ_ONLY_METHODS:
            async with self.admitted:
                await self.app(scope, receive, send)
            return
        # A writer first waits for a writer's slot, then for an admission: it never holds one idle.
        async with self.writers, self.admitted:
            await self.app(scope, receive, send)
