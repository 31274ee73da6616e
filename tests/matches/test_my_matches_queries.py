"""GET /me/matches loads a page in a fixed number of queries, however many matches it holds."""

from __future__ import annotations

import pytest
from sqlalchemy import event


@pytest.fixture
def count_queries(engine):
    statements: list[str] = []

    def _record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", _record)
    yield statements
    event.remove(engine, "before_cursor_execute", _record)


def _page_queries(client, user, count_queries) -> tuple[int, int]:
    count_queries.clear()
    items = client.get("/api/v1/me/matches", headers=user.headers).json()["items"]
    return len(items), sum(1 for s in count_queries if s.lstrip().upper().startswith("SELECT"))


def test_my_matches_does_not_query_per_row(client, db, make_profiles, propose_pair, count_queries):
    make_mentor, make_newcomer = make_profiles
    mentor, mentor_user = make_mentor(capacity=10)
    matches = [propose_pair(mentor, make_newcomer(with_account=False)[0]) for _ in range(5)]
    matches[0].status = "approved"
    db.commit()
    one, one_queries = _page_queries(client, mentor_user, count_queries)
    for match in matches[1:]:
        match.status = "declined"
    db.commit()
    five, five_queries = _page_queries(client, mentor_user, count_queries)
    assert (one, five) == (1, 5)
    assert five_queries == one_queries
