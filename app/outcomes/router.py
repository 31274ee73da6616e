"""A match's outcome: read it, correct the baseline, report milestones."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from app.access import Caller, Role
from app.access.roles import MOBILE_ROLES, REVIEWER_ROLES
from app.deps import SessionDep, require_role
from app.openapi import problems
from app.outcomes import service
from app.outcomes.schemas import (
    Baseline,
    BaselineUpdate,
    BeforeAfter,
    MilestoneCreate,
    MilestoneRead,
    OutcomeRead,
)
from app.schemas import IdPath

router = APIRouter(prefix="/api/v1", tags=["outcomes"])
OutcomeReader = Annotated[Caller, Depends(require_role(*REVIEWER_ROLES, *MOBILE_ROLES))]
OutcomeReporter = Annotated[Caller, Depends(require_role(*REVIEWER_ROLES, Role.NEWCOMER))]


def _read(view: service.OutcomeView) -> OutcomeRead:
    o = view.outcome
    return OutcomeRead(
        match_id=o.match_id,
        activated_on=o.activated_on,
        pairing_type=o.pairing_type,
        baseline=Baseline(
            has_store=o.baseline_has_store,
            channels=o.baseline_channels,
            orders_per_month=o.baseline_orders_per_month,
            sales_band=o.baseline_sales_band,
        ),
        after=BeforeAfter.model_validate(o),
        milestones=[MilestoneRead.model_validate(r) for r in view.reports],
    )


@router.get("/matches/{match_id}/outcome", response_model=OutcomeRead, responses=problems(401, 403, 404))
def get_outcome(match_id: IdPath, caller: OutcomeReader, session: SessionDep) -> OutcomeRead:
    """Baseline, milestones and before/after of a match that became active."""
    return _read(service.get_outcome(session, caller=caller, match_id=match_id))


@router.put(
    "/matches/{match_id}/outcome/baseline",
    response_model=OutcomeRead,
    responses=problems(401, 403, 404, 409, 422),
)
def put_baseline(
    match_id: IdPath, body: BaselineUpdate, caller: OutcomeReporter, session: SessionDep
) -> OutcomeRead:
    """Correct the newcomer's baseline (store, channels, orders, sales band) before any milestone."""
    view = service.update_baseline(
        session,
        caller=caller,
        match_id=match_id,
        has_store=body.has_store,
        channels=list(body.channels),
        orders_per_month=body.orders_per_month,
        sales_band=body.sales_band,
        on_behalf=body.on_behalf,
    )
    return _read(view)


@router.post(
    "/matches/{match_id}/outcome/milestones",
    status_code=status.HTTP_201_CREATED,
    response_model=OutcomeRead,
    responses=problems(401, 403, 404, 409, 422),
)
def post_milestone(
    match_id: IdPath, body: MilestoneCreate, caller: OutcomeReporter, session: SessionDep
) -> OutcomeRead:
    """Report a store opened, the first online sale, or monthly orders and sales band."""
    view = service.report_milestone(
        session,
        caller=caller,
        match_id=match_id,
        kind=body.kind,
        on_date=body.on_date,
        channel=body.channel,
        orders_per_month=body.orders_per_month,
        sales_band=body.sales_band,
        on_behalf=body.on_behalf,
    )
    return _read(view)
