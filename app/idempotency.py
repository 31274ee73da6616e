"""Idempotency-Key support: the first answer to a keyed request is stored and replayed on retries."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from app.errors import Unprocessable
from app.models import IdempotencyRecord

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=128,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="Retry-safe key: the same key with the same body replays the first answer",
    ),
]


def request_fingerprint(*parts: Any) -> str:
    """A stable hash of what identifies a request (body fields, file digest, path ids)."""
    raw = json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def replay(
    session: Session, *, account_id: int, scope: str, key: str | None, fingerprint: str
) -> JSONResponse | None:
    """The stored answer for this key, or None; the same key with a different request is a 422."""
    if key is None:
        return None
    record = session.get(IdempotencyRecord, (account_id, scope, key))
    if record is None:
        return None
    if record.request_hash != fingerprint:
        raise Unprocessable(
            code="idempotency_key_reused",
            detail=(
                "该 Idempotency-Key 已用于另一个请求",
                "this Idempotency-Key was used for a different request",
            ),
        )
    return JSONResponse(
        record.body, status_code=record.status_code, headers={**record.headers, "Idempotent-Replayed": "true"}
    )


def remember(
    session: Session,
    *,
    account_id: int,
    scope: str,
    key: str | None,
    fingerprint: str,
    status_code: int,
    body: Any,
    headers: dict[str, str] | None = None,
) -> None:
    """Store the answer in the same transaction as the effect, so both happen or neither does."""
    if key is None:
        return
    session.add(
        IdempotencyRecord(
            account_id=account_id,
            scope=scope,
            key=key,
            request_hash=fingerprint,
            status_code=status_code,
            body=body,
            headers=headers or {},
        )
    )
    session.flush()
