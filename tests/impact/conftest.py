"""Impact fixtures: a small hand-built world of matches and outcomes whose report figures are known."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from app.models import (
    Commitment,
    Match,
    MatchOutcome,
    MatchRating,
    Mentor,
    MentorProduct,
    Newcomer,
    NewcomerProduct,
    Region,
)
from tests.conftest import CAOXIAN, SHUYANG

LONG_AGO = datetime(2025, 12, 1, tzinfo=UTC)
RANGE = {"date_from": "2026-01-01", "date_to": "2026-06-30"}


def first_county(db, prefix: str, exclude: tuple[str, ...] = ()) -> str:
    """A real county under a prefix (deterministic)."""
    return db.scalar(
        select(Region.code)
        .where(Region.level == "county", Region.code.startswith(prefix), Region.code.not_in(exclude))
        .order_by(Region.code)
        .limit(1)
    )


def add_mentor(db, county: str, name: str, *, product: str = "tea.processing", account_id: int | None = None):
    mentor = Mentor(
        name=name,
        kind="household",
        region_code=county,
        county_code=county,
        capacity=20,
        account_id=account_id,
        products=[MentorProduct(category_code=product, position=0)],
        created_at=LONG_AGO,
    )
    db.add(mentor)
    db.flush()
    return mentor


def add_newcomer(db, county: str, name: str, *, product: str = "tea.growing"):
    newcomer = Newcomer(
        name=name,
        region_code=county,
        county_code=county,
        products=[NewcomerProduct(category_code=product, position=0)],
        created_at=LONG_AGO,
    )
    db.add(newcomer)
    db.flush()
    return newcomer


def add_match(
    db,
    mentor: Mentor,
    newcomer: Newcomer,
    *,
    status: str,
    activated_on: date,
    days_to_first_sale: int | None = None,
    baseline_orders: int = 0,
    latest_orders: int | None = None,
    pairing: str = "other",
    periods: tuple[int, int, int] | None = None,
) -> Match:
    """A match that became active on a given day, with its outcome row (and one commitment)."""
    match = Match(
        newcomer_id=newcomer.id,
        mentor_id=mentor.id,
        newcomer_county_code=newcomer.county_code,
        mentor_county_code=mentor.county_code,
        status=status,
        score=0.5,
    )
    db.add(match)
    db.flush()
    db.add(
        MatchOutcome(
            match_id=match.id,
            activated_on=activated_on,
            newcomer_id=newcomer.id,
            mentor_id=mentor.id,
            newcomer_county_code=newcomer.county_code,
            mentor_county_code=mentor.county_code,
            ended_as=status if status in ("completed", "cancelled") else None,
            pairing_type=pairing,
            baseline_orders_per_month=baseline_orders,
            first_sale_on=activated_on + timedelta(days=days_to_first_sale)
            if days_to_first_sale is not None
            else None,
            days_to_first_sale=days_to_first_sale,
            latest_orders_per_month=latest_orders,
            orders_growth=latest_orders - baseline_orders if latest_orders is not None else None,
        )
    )
    if periods is not None:
        done, partial, missed = periods
        db.add(
            Commitment(
                match_id=match.id,
                resource_type="technology",
                area="marketing_innovation",
                description="直播培训",
                cadence_days=14,
                done_count=done,
                partial_count=partial,
                missed_count=missed,
            )
        )
    if status in ("approved", "active"):
        mentor.capacity_used += 1
    db.flush()
    return match


@dataclass
class World:
    """Codes and objects of the hand-built world (see the module docstring of test_reports)."""

    caoxian: str
    shandong_other: str
    yunnan: str
    shuyang: str
    fifth: str
    mentors: dict[str, Mentor] = field(default_factory=dict)
    newcomers: dict[str, Newcomer] = field(default_factory=dict)
    matches: dict[str, Match] = field(default_factory=dict)


@pytest.fixture
def world(db) -> World:
    w = World(
        caoxian=CAOXIAN,
        shandong_other=first_county(db, "37", (CAOXIAN,)),
        yunnan=first_county(db, "53"),
        shuyang=SHUYANG,
        fifth=first_county(db, "44"),
    )
    a = add_mentor(db, w.shuyang, "花木导师A")
    b = add_mentor(db, w.yunnan, "云南导师B")
    c = add_mentor(db, w.shandong_other, "山东导师C")
    w.mentors = {"A": a, "B": b, "C": c}
    n = {f"n{i}": add_newcomer(db, w.caoxian, f"曹县新农人{i}") for i in (1, 2, 3, 4)}
    n["n6"] = add_newcomer(db, w.caoxian, "曹县新农人6", product="flowers.seedlings")
    n["n5"] = add_newcomer(db, w.yunnan, "云南新农人5")
    n["n7"] = add_newcomer(db, w.shandong_other, "山东新农人7")
    w.newcomers = n
    w.matches = {
        "m1": add_match(
            db,
            a,
            n["n1"],
            status="active",
            activated_on=date(2026, 1, 10),
            days_to_first_sale=30,
            latest_orders=20,
            pairing="chain",
            periods=(3, 1, 0),
        ),
        "m2": add_match(
            db,
            a,
            n["n2"],
            status="completed",
            activated_on=date(2026, 2, 1),
            days_to_first_sale=100,
            baseline_orders=5,
            latest_orders=15,
            pairing="same_trade",
            periods=(1, 0, 1),
        ),
        "m3": add_match(db, b, n["n3"], status="cancelled", activated_on=date(2026, 3, 1), periods=(0, 0, 2)),
        "m4": add_match(
            db, a, n["n4"], status="active", activated_on=date(2026, 7, 15), days_to_first_sale=5
        ),
        "m5": add_match(
            db,
            a,
            n["n5"],
            status="active",
            activated_on=date(2026, 4, 1),
            days_to_first_sale=60,
            baseline_orders=2,
            latest_orders=4,
            pairing="chain",
        ),
    }
    # Penetration of five counties only, so the national quintiles are one county each.
    db.execute(update(Region).where(Region.level == "county").values(penetration=None))
    for code, p in (
        (w.caoxian, 0.1),
        (w.shandong_other, 0.2),
        (w.yunnan, 0.3),
        (w.shuyang, 0.4),
        (w.fifth, 0.5),
    ):
        db.execute(update(Region).where(Region.code == code).values(penetration=p))
    db.commit()
    return w


@pytest.fixture
def star(db, make_user):
    """A Shuyang mentor with an account: 5 Caoxian newcomers, 3 first sales in 90 days, 12 periods kept."""
    user = make_user("mentor")
    mentor = add_mentor(db, "321322", "沭阳花木合作社", account_id=user.id)
    mentor.honours = ["电商示范户"]  # imported, must survive
    other = add_mentor(db, "321322", "另一位导师")
    for i, days in enumerate((10, 45, 90, 91, None)):
        newcomer = add_newcomer(db, "371721", f"新农人{i}")
        match = add_match(
            db,
            mentor,
            newcomer,
            status="completed",
            activated_on=date(2026, 2, 1),
            days_to_first_sale=days,
            periods=(3, 0, 0) if i < 4 else None,
        )
        if i < 3:
            db.add(
                MatchRating(
                    match_id=match.id,
                    mentor_id=mentor.id,
                    party="newcomer",
                    author_id=user.id,
                    score=(5, 5, 4)[i],
                    reason_code="useful_knowhow",
                )
            )
    add_match(db, other, add_newcomer(db, "371721", "x"), status="active", activated_on=date(2026, 3, 1))
    db.commit()
    return mentor, user
