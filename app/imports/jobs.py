"""The background job that runs a roster import (kind "roster_import")."""

from __future__ import annotations

import json
import logging

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.imports.apply import ImportLimits, LeaseLost, run_import
from app.jobs.worker import JobContext
from app.models import Job, RosterImport

log = logging.getLogger("jieduan.imports")


def run_roster_import(ctx: JobContext) -> None:
    """Validate and apply one uploaded roster; owns its transactions and resumes after a crash."""
    try:
        run_import(ctx.sessions, ctx.ref_id, limits=ImportLimits.from_settings(ctx.settings), beat=ctx.beat)
    except LeaseLost:
        # Another worker re-claimed the import after our lease expired; it carries on from the checkpoint.
        log.warning("import %s: lease lost, leaving it to the worker that took it over", ctx.ref_id)
    except Exception:
        _fail_if_last_attempt(ctx)
        raise


def _fail_if_last_attempt(ctx: JobContext) -> None:
    """When the job will not be retried, the import must not stay 'applying' forever."""
    with ctx.sessions.begin() as session:
        job = session.get(Job, ctx.job_id)
        if job is None or job.attempts < job.max_attempts:
            return
        session.execute(
            update(RosterImport)
            .where(RosterImport.id == ctx.ref_id, RosterImport.status.not_in(("done", "failed")))
            .values(
                status="failed",
                error_code="internal_error",
                error_detail=json.dumps(
                    {
                        "zh": "导入因内部错误中止，请联系管理员。",
                        "en": "The import stopped on an internal error.",
                    },
                    ensure_ascii=False,
                ),
                finished_at=utcnow(),
            )
        )


def mark_import_failed(session: Session, *, import_id: int, reason: str) -> None:
    """End an unfinished import `failed` with the job's reason (its job failed for good)."""
    session.execute(
        update(RosterImport)
        .where(RosterImport.id == import_id, RosterImport.status.not_in(("done", "failed")))
        .values(
            status="failed",
            error_code="job_failed",
            error_detail=json.dumps(
                {"zh": f"导入任务失败：{reason}", "en": f"the import job failed: {reason}"},
                ensure_ascii=False,
            ),
            finished_at=utcnow(),
        )
    )
