"""Retention: what is purged, and when. One sweep, safe to run at any time and from several places.

| data | kept for | then |
| --- | --- | --- |
| failed-login records (username, client address) | `retain_login_failures_days` | deleted |
| rate-limit counters | until their window no longer counts (at most two windows) | deleted |
| refresh tokens | until expiry, or `retain_refresh_tokens_days` after revocation | deleted |
| idempotency records (stored answers) | `retain_idempotency_days` | deleted |
| notifications | `retain_notifications_days` | deleted |
| finished jobs (done or failed) | `retain_finished_jobs_days` | deleted |
| import reports: raw cells, cell values, the file | `retain_import_personal_data_days` after end | erased |

Of an erased import report the counts, codes and outcomes stay. A spent refresh token that has not
expired is kept on purpose: replaying it must still be recognised as reuse,
which revokes its family. Every step is one set-based statement in the caller's transaction.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, null, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import utcnow
from app.models import (
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

log = logging.getLogger("jieduan.retention")


@dataclass(frozen=True, slots=True)
class SweepReport:
    """How many rows each step deleted (or, for import reports, erased)."""

    login_failures: int
    rate_limit_counters: int
    refresh_tokens: int
    idempotency_records: int
    notifications: int
    finished_jobs: int
    import_rows_erased: int
    import_issues_erased: int
    import_files_deleted: int

    def as_dict(self) -> dict[str, int]:
        """The counts by name, for the CLI and logs."""
        return asdict(self)


def _days(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def sweep(session: Session, settings: Settings, *, now: datetime | None = None) -> SweepReport:
    """Purge everything past its retention period (see the module docstring); add + flush only."""
    now = now or utcnow()

    def deleted(stmt: object) -> int:
        return session.execute(stmt).rowcount  # type: ignore[call-overload, no-any-return]

    ended_imports = select(RosterImport.id).where(
        RosterImport.status.in_(("done", "failed")),
        RosterImport.finished_at < _days(now, settings.retain_import_personal_data_days),
    )
    report = SweepReport(
        login_failures=deleted(
            delete(LoginFailure).where(LoginFailure.at < _days(now, settings.retain_login_failures_days))
        ),
        rate_limit_counters=deleted(delete(RateLimitCounter).where(RateLimitCounter.expires_at < now)),
        refresh_tokens=deleted(
            delete(RefreshToken).where(
                or_(
                    RefreshToken.expires_at < now,
                    RefreshToken.revoked_at < _days(now, settings.retain_refresh_tokens_days),
                )
            )
        ),
        idempotency_records=deleted(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.created_at < _days(now, settings.retain_idempotency_days)
            )
        ),
        notifications=deleted(
            delete(Notification).where(
                Notification.created_at < _days(now, settings.retain_notifications_days)
            )
        ),
        finished_jobs=deleted(
            delete(Job).where(
                Job.status.in_(("done", "failed")),
                Job.finished_at < _days(now, settings.retain_finished_jobs_days),
            )
        ),
        import_rows_erased=deleted(
            update(ImportRowResult)
            .where(ImportRowResult.import_id.in_(ended_imports), ImportRowResult.raw.is_not(None))
            .values(raw=null())  # SQL NULL, not a JSON null
        ),
        import_issues_erased=deleted(
            update(ImportRowIssue)
            .where(ImportRowIssue.import_id.in_(ended_imports), ImportRowIssue.original_value.is_not(None))
            .values(original_value=null())
        ),
        import_files_deleted=deleted(delete(RosterFile).where(RosterFile.import_id.in_(ended_imports))),
    )
    session.flush()
    return report


def run_retention_sweep(sessions: sessionmaker[Session], settings: Settings) -> SweepReport:
    """The sweep in its own transaction, with the caller's settings: a worker's periodic task."""
    with sessions.begin() as session:
        report = sweep(session, settings)
    if any(report.as_dict().values()):
        log.info("retention sweep: %s", report.as_dict())
    return report
