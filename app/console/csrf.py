"""CSRF for file uploads: asgi-csrf's multipart parser does not run with current python-multipart,
so multipart console forms are exempt there and checked here, after FastAPI has parsed the form,
with the same signed double-submit cookie (same signer, namespace and cookie)."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Form, Request
from itsdangerous import BadSignature
from itsdangerous.url_safe import URLSafeSerializer
from starlette.types import Scope

from app.deps import SettingsDep
from app.errors import Forbidden

COOKIE = "csrftoken"
NAMESPACE = "csrftoken"  # asgi-csrf's default signing namespace
MULTIPART_PATHS = frozenset({"/console/office/imports"})


def exempt_multipart(scope: Scope) -> bool:
    """Whether asgi-csrf should leave this request to `check_upload_token`."""
    headers = dict(scope.get("headers") or [])
    return scope["path"] in MULTIPART_PATHS and headers.get(b"content-type", b"").startswith(
        b"multipart/form-data"
    )


def check_upload_token(
    request: Request, settings: SettingsDep, csrftoken: Annotated[str, Form(max_length=256)] = ""
) -> None:
    """The form's token must equal the signed CSRF cookie (403 csrf_failed otherwise)."""
    cookie = request.cookies.get(COOKIE, "")
    assert settings.secret_key is not None
    try:
        URLSafeSerializer(settings.secret_key.get_secret_value()).loads(cookie, NAMESPACE)
    except BadSignature as exc:
        raise Forbidden(code="csrf_failed") from exc
    if not csrftoken or not secrets.compare_digest(cookie, csrftoken):
        raise Forbidden(code="csrf_failed")


UploadToken = Annotated[None, Depends(check_upload_token)]
