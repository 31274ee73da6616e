"""Which function runs which kind of job."""

from __future__ import annotations

from app.jobs.worker import Handler

HANDLERS: dict[str, Handler] = {}
