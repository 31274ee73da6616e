"""Workflow fixtures (runs, proposals, matches): a seeded population, pairs, an in-process worker."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from app.jobs.handlers import HANDLERS
from app.jobs.worker import Worker
from app.models import Match, Mentor, MentorProduct, Newcomer, NewcomerProduct
from app.seed.demo import seed_demo
from tests.conftest import DAJI, ZHAXIA, User


@pytest.fixture
def seeded(db):
    return seed_demo(db, mentors=150, newcomers=1000, seed=3)


@pytest.fixture
def drain(session_factory):
    worker = Worker(session_factory, HANDLERS, name="test-worker")
    return worker.run_until_idle


@dataclass
class Pair:
    """A proposed match between two profiles whose owners have accounts."""

    match_id: int
    mentor_id: int
    newcomer_id: int
    mentor_user: User
    newcomer_user: User


@pytest.fixture
def make_profiles(db, make_user):
    """Mentors in Shuyang (Jiangsu) and newcomers in Caoxian (Shandong), with or without accounts."""

    def _mentor(capacity: int = 3, *, with_account: bool = True) -> tuple[Mentor, User | None]:
        user = make_user("mentor") if with_account else None
        mentor = Mentor(
            name="花木合作社",
            kind="cooperative",
            region_code=ZHAXIA,
            county_code=ZHAXIA[:6],
            capacity=capacity,
            account_id=user.id if user else None,
            resources_offered=[{"type": "logistics", "description": "冷链"}],
            resources_mask=8,
            products=[MentorProduct(category_code="flowers.seedlings")],
        )
        db.add(mentor)
        db.commit()
        return mentor, user

    def _newcomer(*, with_account: bool = True, region: str = DAJI) -> tuple[Newcomer, User | None]:
        user = make_user("newcomer") if with_account else None
        newcomer = Newcomer(
            name="新农人",
            region_code=region,
            county_code=region[:6],
            account_id=user.id if user else None,
            resources_needed=["logistics"],
            resources_mask=8,
            products=[NewcomerProduct(category_code="flowers.pots_miniascape")],
        )
        db.add(newcomer)
        db.commit()
        return newcomer, user

    return _mentor, _newcomer


@pytest.fixture
def propose_pair(db):
    """Insert a proposal as a matching run would."""

    def _propose(mentor: Mentor, newcomer: Newcomer, score: float = 0.8) -> Match:
        match = Match(
            newcomer_id=newcomer.id,
            mentor_id=mentor.id,
            newcomer_county_code=newcomer.county_code,
            mentor_county_code=mentor.county_code,
            score=score,
            score_parts={"product": 0.8},
            reasons={"zh": ["产业链上下游"], "en": ["one link along the chain"]},
            suggested_commitments=[
                {
                    "resource_type": "logistics",
                    "area": "after_sales_follow_up",
                    "description": "共享冷链",
                    "cadence_days": 14,
                }
            ],
        )
        db.add(match)
        db.commit()
        return match

    return _propose


@pytest.fixture
def pair(make_profiles, propose_pair) -> Pair:
    make_mentor, make_newcomer = make_profiles
    mentor, mentor_user = make_mentor()
    newcomer, newcomer_user = make_newcomer()
    match = propose_pair(mentor, newcomer)
    assert mentor_user and newcomer_user
    return Pair(match.id, mentor.id, newcomer.id, mentor_user, newcomer_user)
