"""The retention sweep purges exactly what is past its period, and keeps what a rule still needs."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cli import main as cli_main
from app.config import get_settings
from app.db import make_engine, utcnow
from app.jobs.handlers import make_worker, periodic_tasks
from app.models import (
    Account,
    IdempotencyRecord,
    ImportRowIssue,
    ImportRowResult,
    Job,
    LoginFailure,
    Notification,
    RateLimitCounter,
    RefreshToken,
    RosterFile,
    RosterImport,
)
from app.retention import run_retention_sweep, sweep
from tests.live import private_database

NOW = utcnow()


def _ago(days: float):
    return NOW - timedelta(days=days)


def _token(account_id: int, **fields) -> RefreshToken:
    return RefreshToken(
        id=str(uuid.uuid4()),
        account_id=account_id,
        family_id=str(uuid.uuid4()),
        token_hash="0" * 64,
        **{"expires_at": NOW + timedelta(days=10), **fields},
    )


def _import(account_id: int, status: str, finished_days_ago: float | None) -> RosterImport:
    imp = RosterImport(
        created_by=account_id,
        filename="名单.csv",
        size_bytes=10,
        sha256=uuid.uuid4().hex * 2,
        status=status,
        finished_at=_ago(finished_days_ago) if finished_days_ago is not None else None,
    )
    return imp


def _populate(session: Session) -> dict[str, object]:
    account = Account(
        username=f"ret-{uuid.uuid4().hex[:8]}", password_hash="x", role="admin", display_name="a"
    )
    session.add(account)
    session.flush()
    aid = account.id
    session.add_all(
        [
            LoginFailure(username="old", ip="1.2.3.4", at=_ago(31)),
            LoginFailure(username="new", ip="1.2.3.4", at=_ago(29)),
            RateLimitCounter(scope="login", key="old", window=1, count=5, expires_at=_ago(0.01)),
            RateLimitCounter(
                scope="login", key="new", window=2, count=5, expires_at=NOW + timedelta(minutes=5)
            ),
            IdempotencyRecord(
                account_id=aid,
                scope="s",
                key="old-key",
                request_hash="h",
                status_code=201,
                body={},
                created_at=_ago(3),
            ),
            IdempotencyRecord(
                account_id=aid,
                scope="s",
                key="new-key",
                request_hash="h",
                status_code=201,
                body={},
                created_at=_ago(1),
            ),
            Notification(account_id=aid, kind="match_active", payload={}, created_at=_ago(181)),
            Notification(account_id=aid, kind="match_active", payload={}, created_at=_ago(179)),
            Job(kind="retrain", ref_id=0, status="done", finished_at=_ago(31)),
            Job(kind="retrain", ref_id=0, status="failed", finished_at=_ago(31)),
            Job(kind="retrain", ref_id=0, status="done", finished_at=_ago(29)),
            Job(kind="retrain", ref_id=0, status="queued", created_at=_ago(400)),
        ]
    )
    tokens = {
        "expired": _token(aid, expires_at=_ago(1)),
        "revoked_long_ago": _token(aid, revoked_at=_ago(8)),
        "revoked_lately": _token(aid, revoked_at=_ago(6)),
        # Spent but alive: must stay, so that replaying it is still caught as reuse.
        "spent_alive": _token(aid, used_at=_ago(20)),
        "live": _token(aid),
    }
    session.add_all(tokens.values())
    imports = {
        "old_done": _import(aid, "done", 31),
        "old_failed": _import(aid, "failed", 40),
        "recent_done": _import(aid, "done", 29),
        "running": _import(aid, "applying", None),
    }
    session.add_all(imports.values())
    session.flush()
    for imp in imports.values():
        session.add_all(
            [
                RosterFile(import_id=imp.id, data=b"name,phone\n\xe5\xbc\xa0,13912345678\n"),
                ImportRowResult(
                    import_id=imp.id,
                    row_number=2,
                    outcome="rejected",
                    raw={"name": "张三", "phone": "13912345678"},
                ),
                ImportRowIssue(
                    import_id=imp.id,
                    row_number=2,
                    column="phone",
                    original_value="13912345678",
                    code="phone_invalid",
                    severity="error",
                    message_zh="x",
                    message_en="x",
                ),
            ]
        )
    session.flush()
    return {"tokens": {k: t.id for k, t in tokens.items()}, "imports": {k: i.id for k, i in imports.items()}}


def test_sweep_purges_what_is_past_its_period(db, settings):
    made = _populate(db)
    report = sweep(db, settings, now=NOW)
    assert report.login_failures == 1 and report.rate_limit_counters == 1
    assert report.idempotency_records == 1 and report.notifications == 1 and report.finished_jobs == 2
    assert report.refresh_tokens == 2 and report.import_files_deleted == 2
    assert db.scalars(select(LoginFailure.username)).all() == ["new"]
    assert db.scalars(select(RateLimitCounter.key)).all() == ["new"]
    assert db.scalars(select(IdempotencyRecord.key)).all() == ["new-key"]
    assert db.scalar(select(func.count()).select_from(Notification)) == 1
    assert sorted(db.scalars(select(Job.status))) == ["done", "queued"]
    tokens = made["tokens"]
    left = set(db.scalars(select(RefreshToken.id)))
    assert left == {tokens["revoked_lately"], tokens["spent_alive"], tokens["live"]}

    imports = made["imports"]
    ended = {imports["old_done"], imports["old_failed"]}
    for imp_id in imports.values():
        row = db.scalar(select(ImportRowResult).where(ImportRowResult.import_id == imp_id))
        issue = db.scalar(select(ImportRowIssue).where(ImportRowIssue.import_id == imp_id))
        file = db.get(RosterFile, imp_id)
        if imp_id in ended:
            # Personal data gone; what happened to the row is still on record.
            assert row.raw is None and issue.original_value is None and file is None
            assert row.outcome == "rejected" and issue.code == "phone_invalid"
        else:
            assert row.raw["phone"] == "13912345678" and issue.original_value == "13912345678"
            assert file is not None
    # Nothing left to do: a second sweep is a no-op.
    again = sweep(db, settings, now=NOW)
    assert not any(again.as_dict().values()), again


def test_periods_are_settings(db, settings):
    _populate(db)
    short = settings.model_copy(update={"retain_login_failures_days": 1, "retain_notifications_days": 1})
    report = sweep(db, short, now=NOW)
    assert report.login_failures == 2 and report.notifications == 2


def test_cli_command_sweeps_the_configured_database(database_url, tmp_path, monkeypatch, capsys):
    with private_database(database_url, tmp_path) as url:
        engine = make_engine(url)
        with Session(engine) as s:
            s.add(LoginFailure(username="old", ip="1.2.3.4", at=_ago(365)))
            s.add(LoginFailure(username="new", ip="1.2.3.4", at=NOW))
            s.commit()
        monkeypatch.setenv("JIEDUAN_DATABASE_URL", url)
        monkeypatch.setenv("JIEDUAN_SECRET_KEY", "k" * 32)
        get_settings.cache_clear()
        try:
            cli_main(["retention-sweep"])
        finally:
            get_settings.cache_clear()
        printed = json.loads(capsys.readouterr().out)
        assert printed["login_failures"] == 1
        with Session(engine) as s:
            assert s.scalars(select(LoginFailure.username)).all() == ["new"]
        engine.dispose()


def _failures(db: Session) -> list[str]:
    db.expire_all()
    return sorted(db.scalars(select(LoginFailure.username)))


def test_a_worker_tick_runs_the_sweep_with_the_worker_s_own_settings(db, session_factory, settings):
    # Three days old: kept by the default 30 days, gone under the worker's 2, so the worker's settings count.
    db.add_all(
        [
            LoginFailure(username="old", ip="1.2.3.4", at=_ago(3)),
            LoginFailure(username="new", ip="1.2.3.4", at=NOW),
        ]
    )
    db.commit()
    worker = make_worker(session_factory, settings.model_copy(update={"retain_login_failures_days": 2}))
    worker.tick()
    assert _failures(db) == ["new"]
    # Not again before its interval (an hour by default) has passed.
    db.add(LoginFailure(username="later", ip="1.2.3.4", at=_ago(3)))
    db.commit()
    worker.tick()
    assert _failures(db) == ["later", "new"]


def test_an_interval_of_zero_turns_the_periodic_sweep_off(db, session_factory, settings):
    db.add(LoginFailure(username="old", ip="1.2.3.4", at=_ago(365)))
    db.commit()
    off = settings.model_copy(update={"retention_sweep_interval_seconds": 0})
    assert run_retention_sweep not in [task for _, task in periodic_tasks(off)]
    make_worker(session_factory, off).tick()
    assert _failures(db) == ["old"]
