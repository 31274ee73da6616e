"""Which function runs which kind of job."""

from __future__ import annotations

from app.imports.jobs import run_roster_import
from app.jobs.worker import Handler

HANDLERS: dict[str, Handler] = {
    "roster_import": run_roster_import,
}
