"""Background execution of roster imports (being built)."""

from __future__ import annotations

from app.jobs.worker import JobContext


def run_roster_import(ctx: JobContext) -> None:
    """Validate and apply one uploaded roster."""
    raise NotImplementedError("roster import job is not wired yet")
