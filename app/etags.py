"""Optimistic concurrency over HTTP: a row's version is its strong ETag, and writes send it as If-Match."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

from app.errors import PreconditionFailed, PreconditionRequired

# Optional to the parser on purpose: a missing header is the documented 428, not a 422. The API
# document marks it required on every route that declares 428 (app/openapi.py).
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description="The ETag you read (GET answers it): required, 428 without it, 412 if it changed since",
    ),
]


def etag(version: int) -> str:
    """The strong ETag of a row version."""
    return f'"{version}"'


def check_if_match(version: int, if_match: str | None) -> None:
    """428 without If-Match, or with `*`; 412 unless it names this version's strong ETag.

    RFC 9110 compares If-Match strongly: a weak tag (W/"3") never matches, since it does not promise the
    same bytes, so a write based on it could overwrite a change the client never saw. `*` only says the
    row exists, which every row these writes reach does: it would approve a proposal (or save a profile)
    without the client ever having read it, the very thing the required header is there to prevent.
    """
    if if_match is None:
        raise PreconditionRequired()
    tags = {t.strip() for t in if_match.split(",")}
    if "*" in tags:
        raise PreconditionRequired(
            detail=(
                'If-Match 须为您读到的 ETag（如 "3"），不接受 *',
                'If-Match must name the ETag you read (e.g. "3"); * is not accepted',
            )
        )
    if etag(version) not in tags:
        raise PreconditionFailed()
