"""The floor for API speed: bare FastAPI endpoints returning the very bodies the app returned.

`bench.api_bench` saves each case's response body to a JSON file and names it in
JIEDUAN_BENCH_BODIES; this app loads them once and serves each from a plain sync endpoint. No
middleware, no authentication, no database: what FastAPI itself costs for that body.

- `/typed/{case}` declares its return type, so FastAPI takes its fast path (pydantic validates the
  dict and writes the JSON bytes in Rust): the floor the targets are measured against.
- `/plain/{case}` declares none, so FastAPI runs `jsonable_encoder` and `json.dumps` (the shape of the
  floor this bench used before, kept for comparison; it is much slower for large bodies).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException

app = FastAPI()
_BODIES: dict[str, Any] = (
    json.loads(Path(os.environ["JIEDUAN_BENCH_BODIES"]).read_text(encoding="utf-8"))
    if os.environ.get("JIEDUAN_BENCH_BODIES")
    else {}
)


def _body(case: str) -> Any:
    if case not in _BODIES:
        raise HTTPException(404)
    return _BODIES[case]


@app.get("/healthz")
def healthz() -> dict[str, str]:
    """Readiness for the harness."""
    return {"status": "ok"}


@app.get("/typed/{case}")
def typed(case: str) -> dict[str, Any]:
    """The saved body, through FastAPI's typed (pydantic) serialisation."""
    return _body(case)  # type: ignore[no-any-return]


@app.get("/plain/{case}")
def plain(case: str):  # type: ignore[no-untyped-def]  # untyped on purpose: FastAPI's encoder path
    """The saved body, through jsonable_encoder."""
    return _body(case)
