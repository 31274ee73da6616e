"""Log set-up: text lines for development, JSON lines (`JIEDUAN_LOG_FORMAT=json`) for production.

Every record carries `request_id` (set by asgi-correlation-id for the request that caused it, and
restored by the worker for the job that request queued) and `job_id` (set while a job runs).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final, Literal, TextIO

from asgi_correlation_id import correlation_id
from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]

job_id_var: ContextVar[int | None] = ContextVar("jieduan_job_id", default=None)

_HANDLER_NAME: Final = "jieduan"
_TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s job=%(job_id)s] %(message)s"
_JSON_FIELDS: Final = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s"


class ContextFilter(logging.Filter):
    """Copy the current request id and job id onto each record (None outside a request or job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Always keeps the record; only adds the two fields."""
        record.request_id = correlation_id.get()
        record.job_id = job_id_var.get()
        return True


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    return correlation_id.get()


@contextmanager
def bind_job(job_id: int, request_id: str | None) -> Iterator[None]:
    """Tag every log line inside the block with the job's id and the id of the request that queued it."""
    job_token = job_id_var.set(job_id)
    request_token = correlation_id.set(request_id)
    try:
        yield
    finally:
        correlation_id.reset(request_token)
        job_id_var.reset(job_token)


def configure_logging(*, level: str, fmt: LogFormat, stream: TextIO | None = None) -> None:
    """Install one handler on the root logger (idempotent: a second call replaces it); stderr by default."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter())
    if fmt == "json":
        handler.setFormatter(
            JsonFormatter(
                _JSON_FIELDS,
                rename_fields={"levelname": "level", "name": "logger", "asctime": "time"},
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter(_TEXT_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's server logger has its own text handler; send its lines through ours so they match.
    for name in ("uvicorn", "uvicorn.error"):
        server_logger = logging.getLogger(name)
        server_logger.handlers.clear()
        server_logger.propagate = True
