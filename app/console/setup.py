"""Wire the console into the app: routers, static assets, CSRF middleware, HTML error pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import quote, urlsplit

from asgi_csrf import Errors, asgi_csrf
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.config import Settings
from app.console.csrf import exempt_multipart
from app.console.i18n import console_language, form_error_text, word
from app.console.render import HERE, page
from app.console.routers import ROUTERS
from app.console.session import signed_in_caller
from app.errors import AppError, problem
from app.honours.service import VERIFY_PATH
from app.i18n import title_for

PREFIX = "/console"
Handler = Callable[[Request, Any], Awaitable[Response]]


def _is_console(path: str) -> bool:
    return path == PREFIX or path.startswith(f"{PREFIX}/")


def _is_page(path: str) -> bool:
    # The public certificate check is a page for people too: a valid code shows a person's name, so it
    # is framed by no site and kept by no shared cache, as the console's pages are.
    return _is_console(path) or path == VERIFY_PATH.rstrip("/") or path.startswith(VERIFY_PATH)


def _way_back(request: Request) -> str | None:
    """The page to go back to from an error: the same page without its query (a filter it refused), or
    for a form the console page it was sent from; None where there is nothing better than home."""
    if request.method == "GET":
        return request.url.path if request.url.query else None
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc == request.url.netloc and _is_console(referer.path):
        return referer.path + (f"?{referer.query}" if referer.query else "")
    return None


def _error_page(request: Request, status: int, code: str, detail: Any) -> Response:
    lang = console_language(request)
    if status == 401:
        # Not signed in (or the session ended): back to the sign-in page, then here again. A form sent
        # after the session ended was not saved: the sign-in page says so, then leads back to the page
        # the form was on (its POST address has no page to show).
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"{PREFIX}/login?next={quote(target)}", status_code=303)
        target = _way_back(request) or PREFIX
        return RedirectResponse(f"{PREFIX}/login?next={quote(target)}&unsaved=1", status_code=303)
    if isinstance(detail, tuple):
        detail = detail[0] if lang == "zh-CN" else detail[1]
    if status == 403 and code == "forbidden":
        detail = word("staff_only", lang)
    if status == 404:
        detail = word("not_found_page", lang)
    return page(
        request,
        "error.html",
        {
            "status": status,
            "code": code,
            "title": title_for(code, status, lang),
            "detail": detail,
            "back": _way_back(request) if status in (400, 404, 409, 412, 413, 422) else None,
        },
        caller=signed_in_caller(request),
        status_code=status,
    )


async def front_answer(request: Request, status: int, code: str, detail: Any, **extra: Any) -> Response:
    """A refusal made in front of the routes (413, NUL, 500): a console page on console paths.

    A township office whose file is too large reads why on a page, not a problem+json document.
    """
    if _is_console(request.url.path):
        # In the thread pool: the page's navigation may look up the signed-in account.
        return await run_in_threadpool(_error_page, request, status, code, detail)
    return problem(request, status, code, detail, **extra)


def _invalid_page(request: Request, exc: RequestValidationError) -> Response:
    # An address whose id cannot exist (/console/proposals/0, /abc) is a page that is not there: a 404
    # like any other, not a form error. Only a bad form or query is the visitor's to correct (422).
    if exc.errors() and all(tuple(e.get("loc", ()))[:1] == ("path",) for e in exc.errors()):
        return _error_page(request, 404, "not_found", None)
    # What was wrong, field by field as the page labels them, and the way back to the page.
    return _error_page(request, 422, "validation_failed", form_error_text(exc, console_language(request)))


def _install_error_pages(app: FastAPI) -> None:
    """Console paths get error pages (401 redirects to sign-in); elsewhere problem+json as before."""
    api_handlers: dict[Any, Handler] = dict(app.exception_handlers)  # type: ignore[arg-type]

    def wrap(kind: Any, to_page: Callable[[Request, Any], Response]) -> None:
        api = api_handlers[kind]

        async def handler(request: Request, exc: Any) -> Response:
            if _is_console(request.url.path):
                return await run_in_threadpool(to_page, request, exc)
            return await api(request, exc)

        app.add_exception_handler(kind, handler)

    wrap(AppError, lambda r, e: _error_page(r, e.status, e.code, e.detail))
    wrap(RequestValidationError, _invalid_page)
    wrap(
        StarletteHTTPException,
        lambda r, e: _error_page(
            r, e.status_code, "not_found" if e.status_code == 404 else "bad_request", None
        ),
    )


async def _csrf_failed(scope: Scope, send: Send, message_id: Errors) -> None:
    request = Request(scope)
    response = await run_in_threadpool(_error_page, request, 403, "csrf_failed", None)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    await response(scope, receive, send)


class ConsoleCsrf:
    """asgi-csrf around the console's paths only; every other request goes straight through.

    asgi-csrf signs a fresh token for each request it sees, before it asks `skip_if_scope`, so routing
    the API around it saves that work on every API call (the API never used the token).

    What asgi-csrf cannot read is refused here first, with a page: it decodes the cookie header and a
    form body as UTF-8 and would fail (a 500) on other bytes, and its multipart parser does not run with
    current python-multipart, so multipart is taken only where `check_upload_token` checks it. An
    `Authorization: Bearer` header would make asgi-csrf skip its check; the console authenticates by
    cookie only, so the header is removed before it looks.
    """

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        self.app = app
        self.protected = asgi_csrf(app, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_console(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = [(name, value) for name, value in scope.get("headers") or () if name != b"authorization"]
        scope = {**scope, "headers": headers}
        found = dict(headers)
        content_type = found.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        refusal: Refusal | None = None
        if not _is_utf8(found.get(b"cookie", b"")):
            refusal = BAD_COOKIE
        elif scope["method"] not in SAFE_METHODS and content_type == b"multipart/form-data":
            if not exempt_multipart(scope):
                refusal = NO_UPLOAD_HERE
        elif scope["method"] not in SAFE_METHODS and content_type == b"application/x-www-form-urlencoded":
            body, receive = await _buffered(receive)
            if not _is_utf8(body):
                refusal = FORM_NOT_UTF8
        if refusal is not None:
            status, code, detail = refusal
            response = await run_in_threadpool(_error_page, Request(scope), status, code, detail)
            await response(scope, receive, send)
            return
        await self.protected(scope, receive, send)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # the ones asgi-csrf does not check
Refusal = tuple[int, str, tuple[str, str]]  # status, code, detail (Chinese, English)
BAD_COOKIE: Final[Refusal] = (
    400,
    "bad_request",
    ("Cookie 不是有效的 UTF-8 文本", "the cookie header is not valid UTF-8"),
)
NO_UPLOAD_HERE: Final[Refusal] = (
    415,
    "unsupported_media_type",
    ("此处不接受文件上传", "no file upload is taken here"),
)
FORM_NOT_UTF8: Final[Refusal] = (
    400,
    "bad_request",
    ("表单内容不是 UTF-8 编码", "the form is not encoded as UTF-8"),
)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (its size is already bounded in front), and a receive that plays it again."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()  # after the body: only the disconnect is left to hear
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay


# Every console answer: never inside another site's frame (a framed proposal page plus the A/R keys
# would be a click-jacked approval), no type sniffing of uploaded text (errors.csv), no URLs with
# filters or `next` in a Referer to other sites.
PAGE_HEADERS: Final = (
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
# Pages and downloads show names and phones: kept by no cache, so after signing out on a shared
# computer (a township office's) Back or the disk cache shows nothing. The static assets stay cacheable.
NO_STORE: Final = (b"cache-control", b"no-store")


class ConsoleHeaders:
    """Adds PAGE_HEADERS (and no-store, except for static assets) to every console and public page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_page(scope["path"]):
            await self.app(scope, receive, send)
            return
        extra = list(PAGE_HEADERS)
        if not scope["path"].startswith(f"{PREFIX}/static/"):
            extra.append(NO_STORE)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                added = [(name, value) for name, value in extra if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_console(app: FastAPI, settings: Settings) -> None:
    """Add the console's pages, assets and CSRF protection; `/` leads to the console."""
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for router in ROUTERS:
        app.include_router(router)
    _install_error_pages(app)
    assert settings.secret_key is not None
    app.add_middleware(
        ConsoleCsrf,
        signing_secret=settings.secret_key.get_secret_value(),
        # Only the console uses cookies; the API authenticates with bearer tokens, which CSRF cannot forge.
        skip_if_scope=exempt_multipart,
        always_protect={f"{PREFIX}/login", f"{PREFIX}/logout"},
        cookie_path=PREFIX,
        cookie_secure=settings.env == "production",
        cookie_samesite="Lax",
        send_csrf_failed=_csrf_failed,
    )
    # Outside the CSRF layer, so its refusal pages carry the headers too.
    app.add_middleware(ConsoleHeaders)
