"""Application errors and their RFC 9457 problem+json rendering."""

from __future__ import annotations

import logging
from typing import Any

from asgi_correlation_id import correlation_id
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.i18n import Lang, default_detail, preferred_language, title_for, validation_message

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class AppError(Exception):
    """An error a client can act on: it carries its HTTP status and a stable machine code."""

    status: int = 400
    code: str = "bad_request"

    def __init__(
        self,
        detail: str | tuple[str, str] | None = None,
        *,
        code: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        self.headers = headers or {}
        self.extra = extra
        super().__init__(detail if isinstance(detail, str) else (detail or (self.code,))[-1])


class NotFound(AppError):
    status, code = 404, "not_found"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"

    def __init__(self, detail: str | tuple[str, str] | None = None, *, code: str | None = None) -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status, code = 403, "forbidden"


class Conflict(AppError):
    status, code = 409, "conflict"


class PreconditionFailed(AppError):
    status, code = 412, "precondition_failed"


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class Unprocessable(AppError):
    status, code = 422, "unprocessable"


class UnsupportedMediaType(AppError):
    status, code = 415, "unsupported_media_type"


class PreconditionRequired(AppError):
    status, code = 428, "precondition_required"


class TooManyRequests(AppError):
    status, code = 429, "too_many_requests"


def problem(
    request: Request, status: int, code: str, detail: str | tuple[str, str] | None, **extra: Any
) -> JSONResponse:
    """Render one problem document in the caller's language."""
    lang: Lang = preferred_language(request.headers.get("accept-language"))
    body: dict[str, Any] = {
        "type": f"https://jieduan.org/problems/{code}",
        "title": title_for(code, status, lang),
        "status": status,
        "code": code,
        "instance": request.url.path,
    }
    # Quotable by the user: the same id is in the X-Request-ID header and on every log line.
    if (request_id := correlation_id.get()) is not None:
        body["request_id"] = request_id
    detail = detail or default_detail(code)
    if isinstance(detail, tuple):
        body["detail"] = detail[0] if lang == "zh-CN" else detail[1]
    elif detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers={"Content-Language": lang})


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
}


_UNPARSED_BODY = "There was an error parsing the body"
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at this request's path."""
    allowed = []
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return allowed


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves the service as problem+json with a stable `code`."""

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        response = problem(request, exc.status, exc.code, exc.detail, **exc.extra)
        response.headers.update(exc.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            # Not JSON at all (a typo, a cut-off body, a trailing comma): nothing in it was validated.
            return problem(request, 400, "body_unreadable", None)
        lang = preferred_language(request.headers.get("accept-language"))
        errors = [
            {"loc": list(e.get("loc", ())), "msg": validation_message(e, lang), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem(request, 422, "validation_failed", None, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.detail == _UNPARSED_BODY:
            # The framework's words for a body that is not JSON (bad UTF-8, nesting too deep, a number
            # too long): said in the caller's language, under a code of its own.
            return problem(request, 400, "body_unreadable", None)
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) and exc.detail not in ("Not Found",) else None
        response = problem(request, exc.status_code, code, detail)
        if exc.headers:
            response.headers.update(exc.headers)
        if exc.status_code == 405:
            # The router names the methods of the first route whose path matched; the path may have others.
            response.headers["Allow"] = ", ".join(allowed_methods(request))
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        response = problem(request, 500, "internal_error", None)
        # This answer is sent from outside every middleware, so the request id header is set here.
        if (request_id := correlation_id.get()) is not None:
            response.headers["X-Request-ID"] = request_id
        return response
