"""A plausible year of pairing history for the demo: matches, check-ins, outcomes, ratings, honours.

Deterministic for a seed. Each province draws its mentors from a small pool in other provinces, weighted so a
few "lead geese" carry many newcomers (as in the corridors coordinators work in); chain pairings reach a
first sale more often than same-trade ones, and those more often than unrelated ones.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from app.access import Caller, Role
from app.db import CHINA_TZ, china_today, utcnow
from app.honours import service as honours
from app.matches import reasons
from app.matches.commitments import refresh_fulfilment
from app.models import (
    Account,
    CategoryLink,
    CheckIn,
    Commitment,
    Match,
    MatchOutcome,
    MatchRating,
    MatchTransition,
    Mentor,
    MentorProduct,
    Newcomer,
    NewcomerProduct,
    OutcomeReport,
)
from app.outcomes.service import classify_pairing
from app.seed.bulk import bulk_insert

SALE_CHANCE = {"chain": 0.72, "same_trade": 0.6, "other": 0.42}
POOL_PER_PROVINCE = 12
HONOUR_REGIONS = ("32", "53", "37", "51", "52", "45")
DEMO_COUNTIES = ("321322",)
# Pairs began up to 420 days ago, proposed a week before; the profiles were there two months earlier.
REGISTERED_DAYS_AGO = 490


def _at(day: date) -> datetime:
    """09:00 in Beijing on a China day, never later than now (the history must not end in the future)."""
    return min(datetime.combine(day, time(9), tzinfo=CHINA_TZ), utcnow())


def seed_history(
    session: Session, *, seed: int, share: float = 0.25, today: date | None = None
) -> dict[str, int]:
    """Add about `share` of the newcomers' pairings over the past ~14 months, with what came of them."""
    rng = random.Random(seed)
    today = today or china_today()
    admin_id = session.scalar(
        select(Account.id).where(Account.role == Role.ADMIN).order_by(Account.id).limit(1)
    )
    assert admin_id is not None
    mentors = session.execute(select(Mentor.id, Mentor.county_code, Mentor.capacity, Mentor.account_id)).all()
    newcomers = session.execute(
        select(Newcomer.id, Newcomer.county_code).where(Newcomer.account_id.is_(None)).order_by(Newcomer.id)
    ).all()
    mentor_main = {
        m: c
        for m, c in session.execute(
            select(MentorProduct.mentor_id, MentorProduct.category_code).where(MentorProduct.position == 0)
        )
    }
    newcomer_main = {
        n: c
        for n, c in session.execute(
            select(NewcomerProduct.newcomer_id, NewcomerProduct.category_code).where(
                NewcomerProduct.position == 0
            )
        )
    }
    links = {
        (a, b) for a, b in session.execute(select(CategoryLink.upstream_code, CategoryLink.downstream_code))
    }
    demo_mentor = next((m for m in mentors if m.account_id is not None), None)
    seats = {m.id: m.capacity for m in mentors}
    diligence = {m.id: rng.betavariate(6, 2) for m in mentors}
    county_of = {m.id: m.county_code for m in mentors}

    # The demo mentor gets only the few pairs given below, so seats stay free for the README tour.
    drawn = [m for m in mentors if m.account_id is None]
    # Each province's pool: mentors elsewhere, with Zipf-like weights (a few carry many newcomers).
    pools: dict[str, list[int]] = {}
    weights = [1.0 / (rank + 1) for rank in range(POOL_PER_PROVINCE)]
    for province in sorted({n.county_code[:2] for n in newcomers}):
        elsewhere = [m.id for m in drawn if m.county_code[:2] != province]
        pools[province] = rng.sample(elsewhere, min(POOL_PER_PROVINCE, len(elsewhere)))

    # Mentors by main product, so most newcomers get a complementary (chain) or same-trade mentor.
    by_product: dict[str, list[int]] = defaultdict(list)
    for m in drawn:
        if m.id in mentor_main:
            by_product[mentor_main[m.id]].append(m.id)
    linked: dict[str, list[str]] = defaultdict(list)
    for a, b in sorted(links):
        linked[a].append(b)
        linked[b].append(a)

    def pick(n: Any) -> int:
        main = newcomer_main.get(n.id)
        roll = rng.random()
        if main is not None and roll < 0.75:
            related = (
                linked[main]
                if roll < 0.45
                else [c for c in by_product if c.split(".")[0] == main.split(".")[0]]
            )
            options = [m for c in related for m in by_product[c] if county_of[m][:2] != n.county_code[:2]]
            if options:
                # A few mentors of each product carry most newcomers (the lead geese).
                options = sorted(options)[:POOL_PER_PROVINCE]
                return rng.choices(options, weights[: len(options)])[0]
        pool = pools[n.county_code[:2]]
        return rng.choices(pool, weights[: len(pool)])[0]

    # Every newcomer of the demo coordinators' counties, and a sample of the rest.
    local = [n for n in newcomers if n.county_code in DEMO_COUNTIES]
    rest = [n for n in newcomers if n.county_code not in DEMO_COUNTIES]
    chosen = local + rng.sample(rest, int(len(rest) * share))
    plans: list[dict[str, Any]] = []
    demo_pairs = 0
    for n in chosen:
        mentor_id = pick(n)
        if demo_mentor is not None and demo_pairs < 4 and demo_mentor.county_code[:2] != n.county_code[:2]:
            # The demo mentor's account has a history to look at: its first four newcomers from
            # other provinces (the demo coordinators' own county comes first in `chosen`).
            mentor_id = demo_mentor.id
            demo_pairs += 1
        activated = today - timedelta(days=rng.randint(3, 420))
        age = (today - activated).days
        if age > 150:
            status = rng.choices(["completed", "cancelled", "active"], [0.7, 0.2, 0.1])[0]
        else:
            status = rng.choices(["active", "cancelled"], [0.88, 0.12])[0]
        if status == "active":
            if seats[mentor_id] > 0:
                seats[mentor_id] -= 1
            else:
                status = "completed" if age > 60 else "cancelled"
        ended = activated + timedelta(days=rng.randint(min(30, age), age)) if status != "active" else None
        plans.append(
            {"n": n, "mentor_id": mentor_id, "status": status, "activated": activated, "ended": ended}
        )

    match_rows = [
        {
            "newcomer_id": p["n"].id,
            "mentor_id": p["mentor_id"],
            "newcomer_county_code": p["n"].county_code,
            "mentor_county_code": county_of[p["mentor_id"]],
            "status": p["status"],
            "score": round(rng.uniform(0.55, 0.95), 3),
            "score_parts": {},
            "rank": 1,
            "reasons": {"zh": ["示范数据"], "en": ["demo data"]},
            "suggested_commitments": [],
            "mentor_accepted": True,
            "newcomer_accepted": True,
            "decided_by": admin_id,
            "decided_at": _at(p["activated"] - timedelta(days=3)),
            "version": 1,
            "created_at": _at(p["activated"] - timedelta(days=7)),
            "updated_at": _at(p["ended"] or p["activated"]),
        }
        for p in plans
    ]
    match_ids = bulk_insert(session, Match, match_rows, returning=True)
    # The population predates its history: no report may count a pair whose newcomer or mentor
    # registered after the pair began (the profiles were inserted just now).
    registered = _at(today - timedelta(days=REGISTERED_DAYS_AGO))
    session.execute(update(Newcomer).where(Newcomer.account_id.is_(None)).values(created_at=registered))
    session.execute(update(Mentor).values(created_at=registered))

    transitions, outcomes, reports, commitments, ratings = [], [], [], [], []
    check_ins_for: list[tuple[int, int, dict[str, Any]]] = []
    for match_id, p in zip(match_ids, plans, strict=True):
        act, end, status = p["activated"], p["ended"], p["status"]
        steps = [
            (None, "proposed", act - timedelta(days=7)),
            ("proposed", "approved", act - timedelta(days=3)),
        ]
        steps.append(("approved", "active", act))
        if end is not None:
            steps.append(("active", status, end))
        transitions += [
            {
                "match_id": match_id,
                "from_status": a,
                "to_status": b,
                "actor_id": admin_id,
                "reason": reasons.DEMO,
                "at": _at(d),
            }
            for a, b, d in steps
        ]
        window_end = end or today
        pairing = classify_pairing(mentor_main.get(p["mentor_id"]), newcomer_main.get(p["n"].id), links)
        chance = SALE_CHANCE[pairing] * (0.5 if status == "cancelled" else 1.0)
        days = int(rng.gammavariate(2.0, 24)) + 3 if rng.random() < chance else None
        if days is not None and act + timedelta(days=days) > window_end:
            days = None
        baseline = rng.choice((0, 0, 0, 1, 2, 5))
        row: dict[str, Any] = {
            "match_id": match_id,
            "activated_on": act,
            "newcomer_id": p["n"].id,
            "mentor_id": p["mentor_id"],
            "newcomer_county_code": p["n"].county_code,
            "mentor_county_code": county_of[p["mentor_id"]],
            "ended_as": status if end is not None else None,
            "pairing_type": pairing,
            "baseline_has_store": baseline > 0,
            "baseline_channels": ["pinduoduo"] if baseline > 0 else [],
            "baseline_orders_per_month": baseline,
            "baseline_sales_band": "lt10",
            "first_sale_on": act + timedelta(days=days) if days is not None else None,
            "days_to_first_sale": days,
            "store_opened_on": None,
            "store_channel": None,
            "latest_orders_per_month": None,
            "latest_sales_band": None,
            "latest_reported_on": None,
            "orders_growth": None,
        }
        if baseline == 0 and (days is not None or rng.random() < 0.4):
            opened = act + timedelta(
                days=rng.randint(0, days if days is not None else min(30, (window_end - act).days))
            )
            channel = rng.choice(("pinduoduo", "douyin", "taobao", "wechat"))
            row |= {"store_opened_on": opened, "store_channel": channel}
            reports.append(_report(match_id, "store_opened", opened, admin_id, channel=channel))
        if days is not None:
            reports.append(_report(match_id, "first_sale", row["first_sale_on"], admin_id))
        if (window_end - act).days > 45:
            latest = baseline + max(0, int(rng.gauss(22 if days is not None else 2, 9)))
            on = act + timedelta(days=rng.randint(40, (window_end - act).days))
            band = "10-50" if latest > 60 else "lt10"
            row |= {"latest_orders_per_month": latest, "latest_sales_band": band, "latest_reported_on": on}
            row["orders_growth"] = latest - baseline
            reports.append(_report(match_id, "monthly", on, admin_id, orders=latest, band=band))
        outcomes.append(row)
        for resource, area, text, cadence in rng.sample(
            [
                ("technology", "marketing_innovation", "直播带货与店铺运营指导", 14),
                ("logistics", "after_sales_follow_up", "共享快递协议价与包装", 30),
                ("information", "production_decisions", "每月市场行情与平台规则", 30),
            ],
            rng.choice((1, 2)),
        ):
            periods = max(0, (window_end - act).days // cadence)
            done = sum(rng.random() < diligence[p["mentor_id"]] for _ in range(periods))
            partial = sum(rng.random() < 0.5 for _ in range(periods - done))
            c = {
                "match_id": match_id,
                "resource_type": resource,
                "area": area,
                "description": text,
                "cadence_days": cadence,
                "next_due": act + timedelta(days=(periods + 1) * cadence) if status == "active" else None,
                "done_count": done,
                "partial_count": partial,
                "missed_count": periods - done - partial,
                "created_at": _at(act),
            }
            commitments.append(c)
            if demo_mentor is not None and p["mentor_id"] == demo_mentor.id:
                check_ins_for.append((match_id, demo_mentor.account_id, c))
        if end is not None:
            if rng.random() < 0.7:
                score = rng.choice((4, 5, 5)) if days is not None else rng.choice((2, 3, 4))
                ratings.append(_rating(match_id, p["mentor_id"], "newcomer", admin_id, score, rng))
            if rng.random() < 0.5:
                ratings.append(
                    _rating(match_id, p["mentor_id"], "mentor", admin_id, rng.choice((3, 4, 5)), rng)
                )

    bulk_insert(session, MatchTransition, transitions)
    bulk_insert(session, MatchOutcome, outcomes)
    bulk_insert(session, OutcomeReport, reports)
    bulk_insert(session, MatchRating, ratings)
    commitment_ids = bulk_insert(session, Commitment, commitments, returning=True)
    ids_by_row = {id(c): cid for c, cid in zip(commitments, commitment_ids, strict=True)}
    check_ins = []
    for _, author, c in check_ins_for:
        for k in range(min(3, c["done_count"] + c["partial_count"])):
            outcome = "done" if k < c["done_count"] else "partial"
            on = c["created_at"] + timedelta(days=c["cadence_days"] * (k + 1))
            check_ins.append(
                {
                    "commitment_id": ids_by_row[id(c)],
                    "author_id": author,
                    "party": "mentor",
                    "period": k + 1,
                    "outcome": outcome,
                    "note": "按计划完成",
                    "created_at": on,
                }
            )
    bulk_insert(session, CheckIn, check_ins)

    used = defaultdict(int)
    for p in plans:
        if p["status"] == "active":
            used[p["mentor_id"]] += 1
    mentors_t = Mentor.__table__
    if used:
        session.execute(
            update(mentors_t)
            .where(mentors_t.c.id == bindparam("mid"))
            .values(capacity_used=bindparam("used")),
            [{"mid": m, "used": u} for m, u in used.items()],
        )
    refresh_fulfilment(session, sorted({p["mentor_id"] for p in plans}))
    honour_count = _confirm_some_honours(session, admin_id, today)
    return {
        "matches": len(match_ids),
        "commitments": len(commitments),
        "check_ins": len(check_ins),
        "outcome_reports": len(reports),
        "ratings": len(ratings),
        "honours": honour_count,
    }


def _report(
    match_id: int,
    kind: str,
    on: date,
    author: int,
    *,
    channel: str | None = None,
    orders: int | None = None,
    band: str | None = None,
) -> dict[str, Any]:
    return {
        "match_id": match_id,
        "kind": kind,
        "on_date": on,
        "channel": channel,
        "orders_per_month": orders,
        "sales_band": band,
        "reported_by": author,
        "on_behalf": True,
        "created_at": _at(on),
    }


def _rating(
    match_id: int, mentor_id: int, party: str, author: int, score: int, rng: random.Random
) -> dict[str, Any]:
    good = ("useful_knowhow", "responsive", "resources_delivered", "good_partner")
    bad = ("poor_communication", "promises_not_kept", "product_mismatch")
    return {
        "match_id": match_id,
        "mentor_id": mentor_id,
        "party": party,
        "author_id": author,
        "score": score,
        "reason_code": rng.choice(good if score >= 4 else bad),
        "comment": "",
        "created_at": utcnow(),
    }


def _confirm_some_honours(session: Session, admin_id: int, today: date) -> int:
    """Evaluate the rules over the past year (ending yesterday: today has not ended) in a few provinces and
    confirm the first honours proposed."""
    admin = Caller(admin_id, Role.ADMIN, None, "admin")
    confirmed = 0
    yesterday = today - timedelta(days=1)
    for region in HONOUR_REGIONS:
        proposed = honours.evaluate(
            session,
            caller=admin,
            region=region,
            period_start=yesterday - timedelta(days=364),
            period_end=yesterday,
        )
        for honour in proposed[:3]:
            honours.confirm(session, caller=admin, honour_id=honour.id)
            confirmed += 1
    return confirmed
