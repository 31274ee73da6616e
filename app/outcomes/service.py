"""Outcomes of a match: the baseline taken at activation, milestones, and the before/after they give."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import Caller
from app.access.matches import MatchView, load_view
from app.db import EARLIEST_DAY, china_today
from app.errors import Conflict, Forbidden, NotFound, Unprocessable
from app.models import CategoryLink, Match, MatchOutcome, MentorProduct, NewcomerProduct, OutcomeReport

# Milestones can be reported while the pair works together and after it has ended.
REPORTABLE_STATUSES = ("active", "completed", "cancelled")


@dataclass(frozen=True, slots=True)
class OutcomeView:
    """A match's outcome row with its milestone reports, oldest first."""

    outcome: MatchOutcome
    reports: list[OutcomeReport]


def classify_pairing(mentor_main: str | None, newcomer_main: str | None, links: set[tuple[str, str]]) -> str:
    """chain: main products one link apart (either way); same_trade: one category group; else other."""
    if mentor_main is None or newcomer_main is None:
        return "other"
    # A chain link is the more specific relation, so it wins over a shared category group.
    if (mentor_main, newcomer_main) in links or (newcomer_main, mentor_main) in links:
        return "chain"
    if mentor_main.split(".")[0] == newcomer_main.split(".")[0]:
        return "same_trade"
    return "other"


def pairing_type(session: Session, *, mentor_id: int, newcomer_id: int) -> str:
    """The pairing type of two profiles, from their main (first) products and the chain links."""
    mentor_main = session.scalar(
        select(MentorProduct.category_code)
        .where(MentorProduct.mentor_id == mentor_id)
        .order_by(MentorProduct.position)
        .limit(1)
    )
    newcomer_main = session.scalar(
        select(NewcomerProduct.category_code)
        .where(NewcomerProduct.newcomer_id == newcomer_id)
        .order_by(NewcomerProduct.position)
        .limit(1)
    )
    links: set[tuple[str, str]] = set()
    if mentor_main is not None and newcomer_main is not None:
        pair = (mentor_main, newcomer_main)
        rows = session.execute(
            select(CategoryLink.upstream_code, CategoryLink.downstream_code).where(
                CategoryLink.upstream_code.in_(pair), CategoryLink.downstream_code.in_(pair)
            )
        )
        links = {(a, b) for a, b in rows}
    return classify_pairing(mentor_main, newcomer_main, links)


def record_baseline(session: Session, *, match: Match) -> MatchOutcome:
    """Open the outcome row of a match that has just become active (called by the transition function)."""
    existing = session.get(MatchOutcome, match.id)
    if existing is not None:
        return existing
    outcome = MatchOutcome(
        match_id=match.id,
        activated_on=china_today(),
        newcomer_id=match.newcomer_id,
        mentor_id=match.mentor_id,
        newcomer_county_code=match.newcomer_county_code,
        mentor_county_code=match.mentor_county_code,
        pairing_type=pairing_type(session, mentor_id=match.mentor_id, newcomer_id=match.newcomer_id),
        baseline_has_store=False,
        baseline_channels=[],
        baseline_orders_per_month=0,
        baseline_sales_band=None,
    )
    session.add(outcome)
    session.flush()
    return outcome


def record_end(session: Session, *, match: Match) -> None:
    """Note on the outcome row how an active match ended (called by the transition function)."""
    outcome = session.get(MatchOutcome, match.id)
    if outcome is not None:
        outcome.ended_as = match.status
        session.flush()


def _reporter(view: MatchView, caller: Caller, on_behalf: bool) -> None:
    """The newcomer reports their own business; staff who review the match may report for them."""
    if on_behalf:
        if not view.is_reviewer:
            raise Forbidden(detail=("只有协调员可以代为填报", "only a coordinator reports on behalf"))
        return
    if not view.is_newcomer:
        raise Forbidden(detail=("由新农人本人或协调员填报", "the newcomer, or staff on behalf, reports"))


def _outcome_of(session: Session, view: MatchView) -> MatchOutcome:
    outcome = session.get(MatchOutcome, view.match.id)
    if outcome is None or view.match.status not in REPORTABLE_STATUSES:
        raise Conflict(code="match_not_started", detail=("结对尚未开始", "this match has not started"))
    return outcome


def update_baseline(
    session: Session,
    *,
    caller: Caller,
    match_id: int,
    has_store: bool,
    channels: list[str],
    orders_per_month: int,
    sales_band: str | None,
    on_behalf: bool,
) -> OutcomeView:
    """Correct the baseline (the situation when the match began) before any milestone is reported."""
    view = load_view(session, caller, match_id, lock=True)
    _reporter(view, caller, on_behalf)
    outcome = _outcome_of(session, view)
    if session.scalar(select(OutcomeReport.id).where(OutcomeReport.match_id == match_id).limit(1)):
        raise Conflict(
            code="baseline_locked",
            detail=("已有进展记录，基线不能再改", "milestones exist: the baseline can no longer change"),
        )
    outcome.baseline_has_store = has_store
    outcome.baseline_channels = channels
    outcome.baseline_orders_per_month = orders_per_month
    outcome.baseline_sales_band = sales_band
    fold_milestones(outcome)
    session.flush()
    return OutcomeView(outcome, [])


def report_milestone(
    session: Session,
    *,
    caller: Caller,
    match_id: int,
    kind: str,
    on_date: date,
    channel: str | None,
    orders_per_month: int | None,
    sales_band: str | None,
    on_behalf: bool,
) -> OutcomeView:
    """Record a store opening, a first sale or a monthly figure, and fold it into the outcome row."""
    view = load_view(session, caller, match_id, lock=True)
    _reporter(view, caller, on_behalf)
    outcome = _outcome_of(session, view)
    if on_date > china_today():
        raise Unprocessable(
            code="milestone_in_future", detail=("日期不能晚于今天", "the date is in the future")
        )
    if on_date < EARLIEST_DAY:
        # A store opened before the match is a fact (the baseline); one opened in year 1 is a typo.
        raise Unprocessable(
            code="milestone_too_early",
            detail=(
                f"日期不能早于 {EARLIEST_DAY.isoformat()}",
                f"the date is before {EARLIEST_DAY.isoformat()}",
            ),
            earliest=EARLIEST_DAY.isoformat(),
        )
    if kind != "store_opened" and on_date < outcome.activated_on:
        raise Unprocessable(
            code="milestone_before_activation",
            detail=("该日期早于结对开始", "that date is before the match began (it belongs in the baseline)"),
        )
    if kind == "store_opened" and not channel:
        raise Unprocessable(code="channel_required", detail=("请填写开店平台", "say on which channel"))
    if kind == "monthly" and orders_per_month is None:
        raise Unprocessable(code="orders_required", detail=("请填写月订单数", "give the orders per month"))
    session.add(
        OutcomeReport(
            match_id=match_id,
            kind=kind,
            on_date=on_date,
            channel=channel,
            orders_per_month=orders_per_month,
            sales_band=sales_band,
            reported_by=caller.id,
            on_behalf=on_behalf,
        )
    )
    if kind == "store_opened" and (outcome.store_opened_on is None or on_date < outcome.store_opened_on):
        outcome.store_opened_on, outcome.store_channel = on_date, channel
    elif kind == "first_sale" and (outcome.first_sale_on is None or on_date < outcome.first_sale_on):
        outcome.first_sale_on = on_date
    elif kind == "monthly" and (outcome.latest_reported_on is None or on_date >= outcome.latest_reported_on):
        outcome.latest_reported_on = on_date
        outcome.latest_orders_per_month = orders_per_month
        outcome.latest_sales_band = sales_band
    fold_milestones(outcome)
    session.flush()
    return get_outcome(session, caller=caller, match_id=match_id)


def fold_milestones(outcome: MatchOutcome) -> None:
    """The derived before/after columns: days from activation to first sale, growth in monthly orders."""
    outcome.days_to_first_sale = (
        (outcome.first_sale_on - outcome.activated_on).days if outcome.first_sale_on is not None else None
    )
    outcome.orders_growth = (
        outcome.latest_orders_per_month - outcome.baseline_orders_per_month
        if outcome.latest_orders_per_month is not None
        else None
    )


def get_outcome(session: Session, *, caller: Caller, match_id: int) -> OutcomeView:
    """The outcome of a match the caller may see (404 if it never became active)."""
    load_view(session, caller, match_id)
    outcome = session.get(MatchOutcome, match_id)
    if outcome is None:
        raise NotFound()
    reports = list(
        session.scalars(
            select(OutcomeReport)
            .where(OutcomeReport.match_id == match_id)
            .order_by(OutcomeReport.on_date, OutcomeReport.id)
        )
    )
    return OutcomeView(outcome, reports)
