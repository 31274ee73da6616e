"""ASGI middleware: request ids with access logs, and request body limits (413 before parsing)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import read_only_transactions
from app.errors import PayloadTooLarge, problem

log = logging.getLogger("jieduan.access")


class RequestLogMiddleware:
    """Tag each request with an X-Request-ID and log one line when it completes."""

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
                status_holder["status"] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
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


class BodyLimitMiddleware:
    """Refuse bodies over the limit: by Content-Length up front, or while streaming a chunked body."""

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

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > allowed:
                    raise PayloadTooLarge(code="payload_too_large", limit_bytes=limit)
            return message

        await self.app(scope, counting_receive, send)


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    # Rendered here rather than through the app: nothing downstream has run yet.
    response = problem(Request(scope), 413, "payload_too_large", None, limit_bytes=limit)
    await response(scope, _empty_receive, send)


async def _empty_receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


class ConcurrencyLimitMiddleware:
    """Admit at most `limit` requests at a time; the rest wait here, on the event loop, holding nothing.

    Sync endpoints hop between worker threads (each dependency, then the handler). A request that has
    begun a transaction must find a free thread for its next hop; if every thread were taken by requests
    blocked on a database lock or a pool checkout, nobody could finish. Keeping admissions below the
    thread-pool size (40 by default) and the connection-pool size makes that starvation impossible.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.semaphore = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in ("/healthz", "/readyz"):
            await self.app(scope, receive, send)
            return
        async with self.semaphore:
            if scope["method"] in ("GET", "HEAD"):
                with read_only_transactions():
                    await self.app(scope, receive, send)
            else:
                await self.app(scope, receive, send)
