"""The demo history: consistent with the rules the service enforces, and every report has rows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from app.access import Caller, Role
from app.db import china_today, utcnow
from app.models import Honour, Match, MatchOutcome, Mentor, Newcomer
from app.reports.service import CATALOGUE, run_report
from app.seed.demo import seed_demo


def test_history_is_consistent_and_feeds_every_report(db):
    result = seed_demo(db, mentors=60, newcomers=400, seed=5, history=True)
    history = result["history"]
    assert history["matches"] >= 100 and history["outcome_reports"] > 0 and history["ratings"] > 0
    # Seats: capacity_used is exactly the number of active matches of each mentor.
    active = dict(
        db.execute(
            select(Match.mentor_id, func.count()).where(Match.status == "active").group_by(Match.mentor_id)
        ).all()
    )
    for mentor in db.scalars(select(Mentor)):
        assert mentor.capacity_used == active.get(mentor.id, 0) <= mentor.capacity
    # One seat per newcomer, and every match that started has its outcome row, never a sale before it.
    assert db.scalar(select(func.count()).select_from(Match).where(Match.status == "active")) == db.scalar(
        select(func.count(func.distinct(Match.newcomer_id))).where(Match.status == "active")
    )
    assert db.scalar(select(func.count()).select_from(MatchOutcome)) == history["matches"]
    assert (
        db.scalar(select(func.count()).select_from(MatchOutcome).where(MatchOutcome.days_to_first_sale < 0))
        == 0
    )
    assert all(m != n for m, n in db.execute(select(Match.mentor_county_code, Match.newcomer_county_code)))
    # The outcome rows the reports aggregate agree with their matches: parties, counties, how it ended.
    disagree = (
        select(func.count())
        .select_from(MatchOutcome)
        .join(Match, Match.id == MatchOutcome.match_id)
        .where(
            (MatchOutcome.newcomer_id != Match.newcomer_id)
            | (MatchOutcome.mentor_id != Match.mentor_id)
            | (MatchOutcome.newcomer_county_code != Match.newcomer_county_code)
            | (MatchOutcome.mentor_county_code != Match.mentor_county_code)
            | (func.coalesce(MatchOutcome.ended_as, "active") != Match.status)
        )
    )
    assert db.scalar(disagree) == 0
    admin = Caller(1, Role.ADMIN, None, "admin")
    # Homogenisation needs 5 newcomers in one county: the full demo set has such counties, 400 do not.
    for name in set(CATALOGUE) - {"homogenisation"}:
        report = run_report(db, caller=admin, name=name, region=None, date_from=None, date_to=None, by=None)
        assert report.rows, name
    # Nobody is paired before they registered, and nothing happened later than now.
    early = (
        select(func.count())
        .select_from(Match)
        .join(Newcomer, Newcomer.id == Match.newcomer_id)
        .join(Mentor, Mentor.id == Match.mentor_id)
        .where((Newcomer.created_at > Match.created_at) | (Mentor.created_at > Match.created_at))
    )
    assert db.scalar(early) == 0
    assert db.scalar(select(func.max(Match.updated_at))) <= utcnow()
    # So over any past range, the matched newcomers of a penetration quintile are among its newcomers.
    today = china_today()
    for start, end in ((today - timedelta(days=300), today - timedelta(days=200)), (None, None)):
        equity = run_report(
            db, caller=admin, name="equity", region=None, date_from=start, date_to=end, by=None
        )
        for row in equity.records():
            assert row["newcomers_matched"] <= row["newcomers"], row
    confirmed = db.scalars(select(Honour).where(Honour.status == "confirmed")).all()
    for honour in confirmed:
        assert honour.verification_code and db.get(Mentor, honour.mentor_id).honours
