"""The per-township locks a roster chunk takes: every key held until the transaction ends."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from app.bulk import _lock_id, lock_for_transaction

KEYS = [f"roster-import:{code}" for code in ("371721101", "371721102", "410327101")]


def test_all_township_locks_are_held_by_the_chunk_transaction(db: Session, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's write lock serialises writers; named locks exist only on PostgreSQL")
    lock_for_transaction(db, *KEYS, KEYS[0], 7201)  # a repeated key is taken once
    held = db.scalars(
        text(
            "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks"
            " WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
        )
    ).all()
    wanted = {_lock_id(k) & 0xFFFFFFFFFFFFFFFF for k in [*KEYS, 7201]}
    assert {k & 0xFFFFFFFFFFFFFFFF for k in held} == wanted
    with engine.connect() as other:
        for key in [*KEYS, 7201]:
            assert other.scalar(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": _lock_id(key)}) is False
        other.rollback()
