"""Background jobs as their requesters see them: status, attempts and the reason of a failure."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import Field

from app.access import STAFF_ROLES, Caller
from app.deps import SessionDep, require_role
from app.jobs import service
from app.jobs.queue import reason_of
from app.models import Job
from app.models.jobs import JobStatus
from app.openapi import problems
from app.schemas import IdPath, Output

router = APIRouter(prefix="/api/v1", tags=["jobs"])
StaffUser = Annotated[Caller, Depends(require_role(*STAFF_ROLES))]


class JobRead(Output):
    """One background job (roster import, matching run, retrain)."""

    id: int
    """Job id"""
    kind: str = Field(description="roster_import, matching_run or retrain")
    status: str = Field(description="queued, running, done, failed or cancelled (a run stopped by a user)")
    attempts: int = Field(description="How many times a worker has started it")
    max_attempts: int
    """Attempts before it is marked failed"""
    error: str | None = Field(description="Why the last attempt failed (the reason, not a traceback)")
    object_url: str | None = Field(description="Where the import, run or models list can be read")
    created_at: datetime
    """When queued (UTC)"""
    run_after: datetime | None = Field(description="A retried job waits until then")
    finished_at: datetime | None
    """When it ended (done or failed)"""

    @classmethod
    def of(cls, job: Job) -> JobRead:
        """Map a job row, keeping only the last line of a stored traceback."""
        return cls(
            id=job.id,
            kind=job.kind,
            status=job.status,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            error=reason_of(job.last_error) if job.last_error else None,
            object_url=service.object_url(job),
            created_at=job.created_at,
            run_after=job.run_after if job.status == JobStatus.QUEUED else None,
            finished_at=job.finished_at,
        )


@router.get("/jobs/{job_id}", response_model=JobRead, responses=problems(401, 403, 404, 422))
def get_job(job_id: IdPath, caller: StaffUser, session: SessionDep) -> JobRead:
    """A job of yours (or one over an object you may see): status, attempts, and the error if it failed."""
    return JobRead.of(service.get_job(session, caller, job_id))
