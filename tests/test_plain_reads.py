"""`PlainSelect` reads the same rows as SQLAlchemy's `Connection.execute` of the same statement."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, column, select, table, text
from sqlalchemy.exc import DBAPIError

from app.access.profiles import MENTORS, NEWCOMERS
from app.db import make_engine
from app.deps import _ACTIVE_ACCOUNT
from app.models import Account, Match, Mentor, MentorProduct
from app.models.matches import MatchStatus
from app.plain_reads import PlainSelect, id_in
from app.profiles import service as profiles
from app.profiles.schemas import BODIES, MentorRead, NewcomerRead
from app.proposals import service as proposals


@pytest.fixture
def rows_of_every_kind(db, make_profiles, propose_pair, make_user):
    """Mentors with and without phones, products and accounts; matches with JSON and timestamps."""
    make_mentor, make_newcomer = make_profiles
    mentors = [make_mentor(with_account=i % 2 == 0)[0] for i in range(3)]
    mentors[0].phone, mentors[0].honours = "13912345678", ["县级示范户"]
    mentors[1].products = [
        MentorProduct(category_code=c, position=i)
        for i, c in enumerate(["tea.processing", "flowers.seedlings"])
    ]
    mentors[2].products = []
    newcomers = [make_newcomer(with_account=i % 2 == 1)[0] for i in range(3)]
    for i, (mentor, newcomer) in enumerate(zip(mentors, newcomers, strict=True)):
        match = propose_pair(mentor, newcomer, score=0.25 * (i + 1))
        match.status = (MatchStatus.PROPOSED, MatchStatus.COMPLETED, MatchStatus.APPROVED)[i]
    db.commit()
    make_user("admin")
    return [m.id for m in mentors], [n.id for n in newcomers]


def _statements():
    return {
        "mentor rows by id": profiles._rows_by_id(MENTORS, tuple(BODIES[MentorRead].columns)),
        "newcomer rows by id": profiles._rows_by_id(NEWCOMERS, tuple(BODIES[NewcomerRead].columns)),
        "queue matches": proposals._matches_by_id(),
        "queue mentors": proposals._mentors_by_id(),
        "queue newcomers": proposals._newcomers_by_id(),
        "past matches": proposals._past_matches(),
    }


@pytest.mark.parametrize("name", list(_statements()))
@pytest.mark.parametrize("pick", ["none", "one", "all", "all twice and unknown"])
def test_rows_equal_core_rows(db, rows_of_every_kind, name, pick):
    mentor_ids, newcomer_ids = rows_of_every_kind
    ids = newcomer_ids if "newcomer" in name else mentor_ids
    if name == "queue matches":
        ids = list(db.scalars(select(Match.id).order_by(Match.id)))
    chosen = {"none": [], "one": ids[:1], "all": ids, "all twice and unknown": [*ids, *ids, 10**9]}[pick]
    plain = _statements()[name]
    conn = db.connection()
    got = plain.rows(conn, {"ids": chosen})
    expected = [tuple(r) for r in conn.execute(plain.statement, {"ids": chosen})]
    assert [tuple(r) for r in got] == expected
    assert len(got) == len(expected) and (not pick.startswith("all") or expected)
    # By name, as Core rows are read.
    for row, core in zip(got, conn.execute(plain.statement, {"ids": chosen}), strict=True):
        assert row._asdict() == core._asdict()


def test_single_row_and_account_lookup(db, rows_of_every_kind):
    mentor_ids, _ = rows_of_every_kind
    one = profiles._one_row(MENTORS, tuple(BODIES[MentorRead].columns))
    conn = db.connection()
    for mentor_id in [*mentor_ids, 10**9]:
        expected = conn.execute(one.statement, {"profile_id": mentor_id}).first()
        got = one.first(conn, {"profile_id": mentor_id})
        assert (got is None and expected is None) or tuple(got) == tuple(expected)
    for account in db.scalars(select(Account)):
        got = _ACTIVE_ACCOUNT.first(conn, {"account_id": account.id, "generation": 0})
        assert tuple(got) == (account.id, account.role, account.jurisdiction_code, account.username)
        # A token of another generation (from before a deactivation or a password reset) names nobody.
        assert _ACTIVE_ACCOUNT.first(conn, {"account_id": account.id, "generation": 1}) is None
    db.execute(Account.__table__.update().values(is_active=False))
    assert all(
        _ACTIVE_ACCOUNT.first(conn, {"account_id": a, "generation": 0}) is None
        for a in db.scalars(select(Account.id))
    )


def test_a_plain_select_sees_the_sessions_own_uncommitted_writes(db, rows_of_every_kind):
    mentor_ids, _ = rows_of_every_kind
    plain = PlainSelect(select(Mentor.id, Mentor.name).where(Mentor.id == bindparam("id")))
    db.get(Mentor, mentor_ids[0]).name = "改名"
    db.flush()
    assert plain.first(db.connection(), {"id": mentor_ids[0]}).name == "改名"


def test_id_in_matches_core_in(db, rows_of_every_kind):
    mentor_ids, _ = rows_of_every_kind
    plain = PlainSelect(select(Match.id).where(id_in(Match.mentor_id, "ids")).order_by(Match.id))
    core = select(Match.id).where(Match.mentor_id.in_(mentor_ids[1:])).order_by(Match.id)
    assert [r.id for r in plain.rows(db.connection(), {"ids": mentor_ids[1:]})] == list(db.scalars(core))


def test_a_driver_error_is_raised_as_connection_execute_raises_it(db):
    missing = PlainSelect(select(column("id")).select_from(table("no_such_table")).where(column("id") == 1))
    conn = db.connection()
    with pytest.raises(DBAPIError) as core, conn.begin_nested():
        conn.execute(missing.statement)
    with pytest.raises(DBAPIError) as plain, conn.begin_nested():
        missing.rows(conn)
    assert type(plain.value) is type(core.value)  # OperationalError on SQLite, ProgrammingError on PostgreSQL
    assert type(plain.value.orig) is type(core.value.orig)
    assert "no_such_table" in str(plain.value) and not plain.value.connection_invalidated
    # The savepoint took the failure: the session's transaction goes on.
    assert _ACTIVE_ACCOUNT.rows(conn, {"account_id": 10**9, "generation": 0}) == []


def test_a_connection_the_server_dropped_leaves_the_pool(settings):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("needs a server that can drop a connection: PostgreSQL")
    engine = make_engine(settings.database_url, pool_size=1, max_overflow=0, pool_pre_ping=False)
    other = make_engine(settings.database_url)
    try:
        with engine.connect() as victim:
            pid = victim.scalar(text("SELECT pg_backend_pid()"))
            with other.connect() as killer:
                assert killer.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            with pytest.raises(DBAPIError) as caught:
                _ACTIVE_ACCOUNT.rows(victim, {"account_id": 1, "generation": 0})
            assert caught.value.connection_invalidated and victim.invalidated
        # Without a pre-ping, only the invalidation keeps the dead connection from the next checkout.
        with engine.connect() as fresh:
            assert fresh.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        engine.dispose()
        other.dispose()
