"""Reading jobs: a caller sees a job exactly when they may see the object it works on."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.deps import Caller
from app.errors import NotFound
from app.imports.service import get_visible as get_visible_import
from app.imports.service import import_url
from app.matches.runs import get_run
from app.models import Job

_RUN_ROLES = ("admin", "coordinator")
_IMPORT_ROLES = ("admin", "township_office")


def get_job(session: Session, caller: Caller, job_id: int) -> Job:
    """A job whose import, run or retrain the caller may see; any other is a 404."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound()
    # The object checks live with each object; this only routes to them (they raise NotFound).
    if job.kind == "roster_import" and caller.role in _IMPORT_ROLES:
        get_visible_import(session, caller, job.ref_id)
    elif job.kind == "matching_run" and caller.role in _RUN_ROLES:
        get_run(session, caller, job.ref_id)
    elif job.kind == "retrain" and caller.role in _RUN_ROLES:
        # A retrain's ref_id is the account that asked for it.
        if caller.role != "admin" and job.ref_id != caller.id:
            raise NotFound()
    else:
        raise NotFound()
    return job


def object_url(job: Job) -> str | None:
    """Where the object a job works on can be read."""
    if job.kind == "roster_import":
        return import_url(job.ref_id)
    if job.kind == "matching_run":
        return f"/api/v1/matching-runs/{job.ref_id}"
    if job.kind == "retrain":
        return "/api/v1/models"
    return None
