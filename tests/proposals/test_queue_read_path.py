"""The review queue's API pages (plain-row read path) equal the ORM path's bodies, page by page."""

from __future__ import annotations

import itertools

from app.access import Caller
from app.models import Account, Match, Mentor, Newcomer
from app.models.matches import MatchStatus
from app.proposals import service
from app.proposals.schemas import ProposalRead
from tests.conftest import CAOXIAN, JIANGSU, SHANDONG, walk_pages


def _reference_page(db, user, *, sort, cursor, limit, status=MatchStatus.PROPOSED):
    """The page as the ORM path builds it: entities, their track records, ProposalRead's own JSON."""
    caller = Caller.of(db.get(Account, user.id))
    f = service.ProposalFilter(status=status)
    page = service.review_queue(db, caller, f, sort=sort, cursor=cursor, limit=limit)
    records = service.track_records(db, [v.mentor for v in page.items]) if page.items else {}
    items = [ProposalRead.of(v, records[v.mentor.id]).model_dump(mode="json") for v in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


def test_queue_pages_equal_the_orm_path(client, db, make_user, make_profiles, propose_pair):
    make_mentor, make_newcomer = make_profiles
    mentors = [make_mentor(capacity=10, with_account=i % 2 == 0)[0] for i in range(4)]
    for i, mentor in enumerate(mentors):
        mentor.phone = None if i == 1 else f"1391234567{i}"
        mentor.honours = ["县级示范户"] if i % 2 else []
    db.commit()
    scores = [0.9, 0.5, 0.5, 0.7, 0.2, 0.5, 0.8, 0.1, 0.6, 0.5, 0.3, 0.4]
    for i, score in enumerate(scores):
        newcomer = make_newcomer(with_account=i % 3 == 0)[0]
        newcomer.phone = None if i % 4 == 0 else f"137000011{i:02d}"
        match = propose_pair(mentors[i % 4], newcomer, score=score)
        if i % 5 == 4:  # past matches of the mentor: its track record
            match.status = MatchStatus.COMPLETED
        match.score_parts = {"product": 1, "distance": score}
    db.commit()
    callers = [
        make_user("admin"),
        make_user("coordinator", SHANDONG),
        make_user("coordinator", CAOXIAN),
        make_user("coordinator", JIANGSU),  # the mentors' province, not the reviewer: an empty queue
    ]
    seen = 0
    for user, sort, limit in itertools.product(callers, ("-score", "-created"), (1, 3, 50)):
        params = {"sort": sort, "limit": limit}
        for cursor, body in walk_pages(client, "/api/v1/proposals", params, user.headers):
            expected = _reference_page(db, user, sort=sort, cursor=cursor, limit=limit)
            assert body == expected, (user.role, user.jurisdiction, sort, limit, cursor)
            seen += len(expected["items"])
    assert seen > 100
    # Both kinds of phone, and past matches, were on the pages compared.
    body = client.get("/api/v1/proposals", params={"limit": 50}, headers=callers[1].headers).json()
    phones = {p["mentor"]["phone"] for p in body["items"]} | {p["newcomer"]["phone"] for p in body["items"]}
    assert None in phones and any(p and "****" in p for p in phones)
    assert any(p["mentor"]["track_record"]["past_matches"] for p in body["items"])
    assert db.query(Match).count() == len(scores) and db.query(Mentor).count() >= 4
    assert db.query(Newcomer).count() >= len(scores)
