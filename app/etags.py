"""Optimistic concurrency over HTTP: a row's version is its strong ETag, and writes send it as If-Match."""

from __future__ import annotations

from app.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    """The strong ETag of a row version."""
    return f'"{version}"'


def check_if_match(version: int, if_match: str | None) -> None:
    """428 without If-Match; 412 when it names another version (a weak W/ prefix and * are accepted)."""
    if if_match is None:
        raise PreconditionRequired()
    tags = {t.strip().removeprefix("W/") for t in if_match.split(",")}
    if "*" not in tags and etag(version) not in tags:
        raise PreconditionFailed()
