"""Capacity and exclusivity hold under concurrent approvals, and duplicate check-ins store one report.

Runs on both databases; on PostgreSQL the approvals really interleave (row locks), on SQLite the write
lock serialises them.
"""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.auth.tokens import issue_access_token
from app.config import Settings
from app.db import make_engine
from app.models import Account, CheckIn, Commitment, Match, Mentor, MentorProduct, Newcomer, NewcomerProduct
from tests.conftest import DAJI, ZHAXIA
from tests.live import live_server, private_database


@pytest.fixture(scope="module")
def live(database_url, tmp_path_factory):
    with private_database(database_url, tmp_path_factory.mktemp("live")) as url:
        settings = Settings(
            env="test",
            database_url=url,
            secret_key="live-secret-key-0123456789abcdef",
            run_worker=False,
            log_level="WARNING",
        )
        engine = make_engine(url)
        with live_server(settings) as base:
            yield settings, engine, base
        engine.dispose()


def _coordinator(session: Session, settings: Settings) -> dict[str, str]:
    account = Account(
        username=f"coord-{session.scalar(select(func.count()).select_from(Account))}",
        password_hash="x",
        role="coordinator",
        display_name="c",
        jurisdiction_code="37",
    )
    session.add(account)
    session.flush()
    token = issue_access_token(
        settings, account_id=account.id, role="coordinator", jurisdiction="37", generation=0
    )
    return {"Authorization": f"Bearer {token}", "If-Match": '"1"'}


def _mentor(session: Session, capacity: int) -> Mentor:
    mentor = Mentor(
        name="m",
        kind="household",
        region_code=ZHAXIA,
        county_code=ZHAXIA[:6],
        capacity=capacity,
        resources_offered=[{"type": "logistics", "description": ""}],
        products=[MentorProduct(category_code="flowers.seedlings")],
    )
    session.add(mentor)
    session.flush()
    return mentor


def _newcomer(session: Session) -> Newcomer:
    newcomer = Newcomer(
        name="n",
        region_code=DAJI,
        county_code=DAJI[:6],
        resources_needed=["logistics"],
        products=[NewcomerProduct(category_code="flowers.cut")],
    )
    session.add(newcomer)
    session.flush()
    return newcomer


def _proposal(session: Session, mentor: Mentor, newcomer: Newcomer) -> int:
    match = Match(
        newcomer_id=newcomer.id,
        mentor_id=mentor.id,
        newcomer_county_code=newcomer.county_code,
        mentor_county_code=mentor.county_code,
        score=0.5,
    )
    session.add(match)
    session.flush()
    return match.id


def _fire(
    base: str, requests: list[tuple[str, dict[str, str]]], body: dict[str, str] | None = None
) -> list[httpx.Response]:
    """Send all requests at the same instant from separate threads and connections."""
    barrier = threading.Barrier(len(requests))
    results: list[httpx.Response | None] = [None] * len(requests)

    def send(i: int, path: str, headers: dict[str, str]) -> None:
        with httpx.Client(base_url=base, timeout=60) as client:
            barrier.wait()
            results[i] = client.post(path, json=body or {}, headers=headers)

    threads = [threading.Thread(target=send, args=(i, p, h)) for i, (p, h) in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]


def test_fifty_approvals_for_one_capacity_three_mentor(live):
    settings, engine, base = live
    with Session(engine) as s:
        mentor = _mentor(s, capacity=3)
        headers = _coordinator(s, settings)
        ids = [_proposal(s, mentor, _newcomer(s)) for _ in range(50)]
        s.commit()
        mentor_id = mentor.id
    responses = _fire(base, [(f"/api/v1/proposals/{i}/approve", headers) for i in ids])
    outcome = Counter((r.status_code, r.json().get("code")) for r in responses)
    assert outcome == {(200, None): 3, (409, "mentor_capacity_full"): 47}, outcome
    with Session(engine) as s:
        assert s.get(Mentor, mentor_id).capacity_used == 3
        approved = s.scalar(
            select(func.count())
            .select_from(Match)
            .where(Match.mentor_id == mentor_id, Match.status == "approved")
        )
        assert approved == 3


def test_twenty_mentors_race_for_one_newcomer(live):
    settings, engine, base = live
    with Session(engine) as s:
        newcomer = _newcomer(s)
        headers = _coordinator(s, settings)
        mentors = [_mentor(s, capacity=2) for _ in range(20)]
        ids = [_proposal(s, m, newcomer) for m in mentors]
        s.commit()
        mentor_ids = [m.id for m in mentors]
    responses = _fire(base, [(f"/api/v1/proposals/{i}/approve", headers) for i in ids])
    outcome = Counter((r.status_code, r.json().get("code")) for r in responses)
    assert outcome == {(200, None): 1, (409, "newcomer_already_matched"): 19}, outcome
    with Session(engine) as s:
        # Every refused approval gave its seat back.
        used = s.scalars(select(Mentor.capacity_used).where(Mentor.id.in_(mentor_ids))).all()
        assert sorted(used) == [0] * 19 + [1]


def test_concurrent_duplicate_check_ins_store_one_report(live):
    settings, engine, base = live
    with Session(engine) as s:
        account = Account(username="racer-mentor", password_hash="x", role="mentor", display_name="m")
        s.add(account)
        s.flush()
        mentor = _mentor(s, capacity=1)
        mentor.account_id = account.id
        match = Match(
            newcomer_id=_newcomer(s).id,
            mentor_id=mentor.id,
            newcomer_county_code=DAJI[:6],
            mentor_county_code=mentor.county_code,
            score=0.5,
            status="active",
        )
        s.add(match)
        s.flush()
        commitment = Commitment(
            match_id=match.id, resource_type="logistics", area="marketing", description="d", cadence_days=14
        )
        s.add(commitment)
        s.commit()
        cid, mentor_id = commitment.id, mentor.id
        token = issue_access_token(
            settings, account_id=account.id, role="mentor", jurisdiction=None, generation=0
        )
    headers = {"Authorization": f"Bearer {token}"}
    responses = _fire(
        base, [(f"/api/v1/commitments/{cid}/check-ins", headers) for _ in range(20)], body={"outcome": "done"}
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 200: 19}, [r.text for r in responses]
    with Session(engine) as s:
        stored = s.scalars(select(CheckIn).where(CheckIn.commitment_id == cid)).all()
        assert [(c.party, c.outcome) for c in stored] == [("mentor", "done")]
        assert s.get(Commitment, cid).done_count == 1
        assert s.get(Mentor, mentor_id).fulfilment_rate == 1.0
