"""Matching runs: the policy form, live progress (a small JSON endpoint polled by the page), evaluation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from pydantic import ValidationError
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.access import Caller
from app.console.forms import PageFilter
from app.console.i18n import console_language, error_text, form_error_text, word
from app.console.render import label_in, page
from app.console.session import CoordinatorPage
from app.deps import SessionDep as Db
from app.errors import AppError
from app.i18n import Lang
from app.models.matches import FINISHED_RUN
from app.ranker.service import active_model_for
from app.regions.service import names_of
from app.runs import service as runs
from app.runs.schemas import RunCreate
from app.schemas import FORM_INPUT, IdPath

router = APIRouter(prefix="/console/runs", include_in_schema=False)
PAGE_SIZE = 50


def _list_page(
    request: Request,
    db: Db,
    caller: Caller,
    *,
    form: dict[str, str],
    error: str | None,
    f: PageFilter | None = None,
    status_code: int = 200,
) -> Response:
    cursor = f.cursor if f else None
    paged = runs.list_runs(db, caller, cursor=cursor, limit=PAGE_SIZE)
    return page(
        request,
        "runs/list.html",
        {
            "runs": paged.items,
            "names": names_of(db, {r.scope_code for r in paged.items if r.scope_code}),
            "cursor": cursor,
            "next_cursor": paged.next_cursor,
            "model": active_model_for(db, caller),
            "form": form,
            "error": error,
        },
        caller=caller,
        status_code=status_code,
    )


@router.get("")
def list_runs(
    request: Request, caller: CoordinatorPage, db: Db, f: Annotated[PageFilter, Query()]
) -> Response:
    """Recent runs in your jurisdiction, and the form to start one."""
    return _list_page(request, db, caller, form={}, error=None, f=f)


@router.post("")
def start_run(
    request: Request,
    caller: CoordinatorPage,
    db: Db,
    scope_code: Annotated[str, Form(max_length=12)] = "",
    separation: Annotated[str, Form(max_length=16)] = "county",
    max_distance_km: Annotated[str, Form(max_length=8)] = "",
    k: Annotated[str, Form(max_length=4)] = "10",
    same_product_same_prefecture: Annotated[str, Form(max_length=16)] = "penalise",
    model: Annotated[str, Form(max_length=16)] = "rules",
    pairing: Annotated[str, Form(max_length=16)] = "any",
) -> Response:
    """Queue a run with the API's own body model and rules, then watch it."""
    form = {
        "scope_code": scope_code,
        "separation": separation,
        "max_distance_km": max_distance_km,
        "k": k,
        "same_product_same_prefecture": same_product_same_prefecture,
        "model": model,
        "pairing": pairing,
    }
    try:
        body = RunCreate.model_validate(
            {
                "scope_code": scope_code or None,
                "separation": separation,
                "max_distance_km": max_distance_km or None,
                "k": k,
                "same_product_same_prefecture": same_product_same_prefecture,
                "use_learned_ranker": model == "learned",
                "pairing": pairing,
            },
            context=FORM_INPUT,
        )
    except ValidationError as exc:
        msg = form_error_text(exc, console_language(request))
        return _list_page(request, db, caller, form=form, error=msg, status_code=422)
    try:
        run = runs.create_run(db, caller, body)
    except AppError as exc:
        db.rollback()
        msg = error_text(exc, console_language(request))
        return _list_page(request, db, caller, form=form, error=msg, status_code=exc.status)
    return RedirectResponse(f"/console/runs/{run.id}", status_code=303)


@router.get("/{run_id}")
def run_page(request: Request, run_id: IdPath, caller: CoordinatorPage, db: Db) -> Response:
    """A run: parameters, live progress while it works, then its evaluation."""
    return _run_page(request, db, caller, run_id, error=None)


def _setting(key: str, value: Any, lang: Lang, names: dict[str, str]) -> tuple[str, str] | None:
    """One stored run parameter as the form words it (None: nothing to show); an unknown key as itself."""
    match key:
        case "scope_code":
            if not value:
                shown = ("scope", word("nationwide", lang))
            else:
                shown = ("scope", f"{names[value]} ({value})" if value in names else str(value))
        case "separation":
            shown = ("separation", word(f"sep_{value}", lang))
        case "max_distance_km":
            shown = ("max_distance", f"{float(value):g}" if value else word("no_limit", lang))
        case "use_learned_ranker":
            shown = ("model_version", word("model_learned" if value else "model_rules", lang))
        case "model_version_id":
            if not value:
                return None
            shown = ("pinned_model", f"#{value}")
        case "same_product_same_prefecture":
            shown = ("pairing_mode", word(f"mode_{value}", lang))
        case "pairing":
            shown = ("pairing", word(f"pairing_{value}", lang))
        case "chain_share" | "exploration":
            shown = (key, f"{float(value) * 100:.4g}%")  # 5%, 0.4%: a small share is not shown as 0%
        case "k":
            shown = ("k", str(value))
        case _:
            return key, str(value)
    return word(shown[0], lang), shown[1]


def run_settings(policy: dict[str, Any], lang: Lang, names: dict[str, str]) -> list[tuple[str, str]]:
    """A run's parameters in the page's words, the scope by its name (`names`: code → name); the chain
    share only where it applies (mixed pairing)."""
    pairs = (
        _setting(k, v, lang, names)
        for k, v in policy.items()
        if k != "chain_share" or policy.get("pairing") == "mixed"
    )
    return [p for p in pairs if p is not None]


def _run_page(
    request: Request, db: Db, caller: Caller, run_id: int, *, error: str | None, status_code: int = 200
) -> Response:
    run = runs.get_run(db, caller, run_id)
    lang = console_language(request)
    counts = [(word(f"count_{k}", lang), v) for k, v in (run.counts or {}).items()]
    return page(
        request,
        "runs/run.html",
        {
            "run": run,
            "settings": run_settings(run.policy, lang, names_of(db, {run.scope_code} - {""})),
            "counts": counts,
            "finished": run.status in FINISHED_RUN,
            "error": error,
        },
        caller=caller,
        status_code=status_code,
    )


@router.post("/{run_id}/cancel")
def cancel_run(request: Request, run_id: IdPath, caller: CoordinatorPage, db: Db) -> Response:
    """Stop a queued or running run (the API's own rule), then show it."""
    try:
        runs.cancel_run(db, caller, run_id)
    except AppError as exc:
        if exc.status == 404:
            raise
        db.rollback()
        msg = error_text(exc, console_language(request))
        return _run_page(request, db, caller, run_id, error=msg, status_code=exc.status)
    return RedirectResponse(f"/console/runs/{run_id}", status_code=303)


@router.get("/{run_id}/status.json")
def run_status(request: Request, run_id: IdPath, caller: CoordinatorPage, db: Db) -> JSONResponse:
    """What the run page polls: status and progress."""
    run = runs.get_run(db, caller, run_id)
    return JSONResponse(
        {
            "status": run.status,
            "status_label": label_in("status", run.status, console_language(request)),
            "progress": run.progress,
            "finished": run.status in FINISHED_RUN,
        }
    )
