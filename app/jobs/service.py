"""Reading jobs: a caller sees a job exactly when they may see the object it works on."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.access import Caller
from app.access.jobs import may_see_retrain
from app.access.roles import IMPORTER_ROLES
from app.errors import NotFound
from app.imports.service import get_visible as get_visible_import
from app.imports.service import import_url
from app.models import Job
from app.runs.service import get_run


def get_job(session: Session, caller: Caller, job_id: int) -> Job:
    """A job whose import, run or retrain the caller may see; any other is a 404."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound()
    # The object checks live with each object; this only routes to them (they raise NotFound).
    if job.kind == "roster_import" and caller.has_role(*IMPORTER_ROLES):
        get_visible_import(session, caller, job.ref_id)
    elif job.kind == "matching_run" and caller.is_reviewer:
        get_run(session, caller, job.ref_id)
    elif not (job.kind == "retrain" and may_see_retrain(caller, job.ref_id)):
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
