"""Random sequences of actions by random people never break the lifecycle's invariants."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.access import Caller
from app.errors import AppError, Forbidden, NotFound
from app.matches import service as lifecycle
from app.matches.states import TRANSITIONS
from app.models import (
    Account,
    Commitment,
    Match,
    MatchTransition,
    Mentor,
    MentorProduct,
    Newcomer,
    NewcomerProduct,
)
from app.models.matches import SEAT_HOLDING
from app.proposals import service as review
from tests.conftest import DAJI, ZHAXIA

ACTIONS = ("approve", "reject", "accept", "accept_for_mentor", "decline", "complete", "cancel")
ACTORS = (
    "coordinator",
    "outsider",
    "admin",
    "mentor0",
    "mentor1",
    "newcomer0",
    "newcomer1",
    "newcomer2",
    "stranger",
)


def test_random_action_sequences_keep_invariants(engine):
    class Lifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.conn = engine.connect()
            self.outer = self.conn.begin()
            self.s = Session(bind=self.conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
            self.callers: dict[str, Caller] = {}
            for name, role, jur in (
                ("coordinator", "coordinator", "37"),
                ("outsider", "coordinator", "32"),
                ("admin", "admin", None),
                ("stranger", "newcomer", None),
                ("mentor0", "mentor", None),
                ("mentor1", "mentor", None),
                ("newcomer0", "newcomer", None),
                ("newcomer1", "newcomer", None),
                ("newcomer2", "newcomer", None),
            ):
                account = Account(
                    username=f"sm-{name}",
                    password_hash="x",
                    role=role,
                    display_name=name,
                    jurisdiction_code=jur,
                )
                self.s.add(account)
                self.s.flush()
                self.callers[name] = Caller(account.id, role, jur, account.username)
            # mentor1 has no account holder acting for it half the time: staff answer on its behalf.
            self.mentors = [
                Mentor(
                    name=f"m{i}",
                    kind="household",
                    region_code=ZHAXIA,
                    county_code=ZHAXIA[:6],
                    capacity=cap,
                    account_id=self.callers[f"mentor{i}"].id if i == 0 else None,
                    resources_offered=[{"type": "logistics", "description": ""}],
                    products=[MentorProduct(category_code="flowers.seedlings")],
                )
                for i, cap in enumerate((1, 2))
            ]
            self.newcomers = [
                Newcomer(
                    name=f"n{i}",
                    region_code=DAJI,
                    county_code=DAJI[:6],
                    resources_needed=["logistics"],
                    account_id=self.callers[f"newcomer{i}"].id,
                    products=[NewcomerProduct(category_code="flowers.cut")],
                )
                for i in range(3)
            ]
            self.s.add_all(self.mentors + self.newcomers)
            self.s.flush()
            self.match_ids = []
            for m in self.mentors:
                for n in self.newcomers:
                    match = Match(
                        newcomer_id=n.id,
                        mentor_id=m.id,
                        newcomer_county_code=n.county_code,
                        mentor_county_code=m.county_code,
                        score=0.5,
                        suggested_commitments=[
                            {
                                "resource_type": "logistics",
                                "area": "after_sales_follow_up",
                                "description": "d",
                                "cadence_days": 7,
                            }
                        ],
                    )
                    self.s.add(match)
                    self.s.flush()
                    self.match_ids.append(match.id)
            self.log: list[str] = []

        def teardown(self) -> None:
            self.s.close()
            self.outer.rollback()
            self.conn.close()

        @rule(match=st.integers(0, 5), actor=st.sampled_from(ACTORS), action=st.sampled_from(ACTIONS))
        def act(self, match: int, actor: str, action: str) -> None:
            caller, match_id = self.callers[actor], self.match_ids[match]
            before = self._snapshot()
            nested = self.s.begin_nested()  # one request = one transaction, rolled back on any error
            try:
                self._do(action, caller, match_id)
                nested.commit()
                self.log.append(f"{actor} {action} #{match} ok")
            except AppError as exc:
                nested.rollback()
                self.log.append(f"{actor} {action} #{match} {exc.code}")
                assert self._snapshot() == before
                if actor in ("outsider", "stranger"):
                    assert isinstance(exc, NotFound | Forbidden)
            self.s.expire_all()

        def _do(self, action: str, caller: Caller, match_id: int) -> None:
            if action in ("approve", "reject"):
                if caller.role not in ("admin", "coordinator"):
                    raise Forbidden()  # the route's role dependency
                etag = f'"{self.s.get(Match, match_id).version}"'
                if action == "approve":
                    review.approve(self.s, caller, match_id, if_match=etag, commitments=None, note=None)
                else:
                    review.reject(self.s, caller, match_id, if_match=etag, reason_code="other", note=None)
            elif action in ("accept", "accept_for_mentor"):
                lifecycle.accept(
                    self.s, caller, match_id, on_behalf_of="mentor" if action == "accept_for_mentor" else None
                )
            elif action == "decline":
                lifecycle.decline(self.s, caller, match_id, note=None)
            elif action == "complete":
                lifecycle.end(self.s, caller, match_id, to_status="completed", reason="done")
            else:
                lifecycle.end(self.s, caller, match_id, to_status="cancelled", reason="other")

        def _snapshot(self) -> tuple[object, ...]:
            rows = self.s.execute(
                select(Match.id, Match.status, Match.mentor_accepted, Match.newcomer_accepted)
                .where(Match.id.in_(self.match_ids))
                .order_by(Match.id)
            ).all()
            seats = self.s.execute(
                select(Mentor.id, Mentor.capacity_used).where(Mentor.id.in_([m.id for m in self.mentors]))
            ).all()
            return tuple(rows), tuple(sorted(seats))

        @invariant()
        def seats_match_holding_matches(self) -> None:
            holding = Counter(
                self.s.scalars(
                    select(Match.mentor_id).where(
                        Match.id.in_(self.match_ids), Match.status.in_(SEAT_HOLDING)
                    )
                )
            )
            for mentor in self.mentors:
                row = self.s.get(Mentor, mentor.id)
                assert row.capacity_used == holding[mentor.id] <= row.capacity, self.log

        @invariant()
        def newcomer_has_at_most_one_mentor(self) -> None:
            per_newcomer = Counter(
                self.s.scalars(
                    select(Match.newcomer_id).where(
                        Match.id.in_(self.match_ids), Match.status.in_(SEAT_HOLDING)
                    )
                )
            )
            assert max(per_newcomer.values(), default=0) <= 1, self.log

        @invariant()
        def audit_log_replays_to_current_state(self) -> None:
            for match_id in self.match_ids:
                status = "proposed"
                for t in self.s.scalars(
                    select(MatchTransition)
                    .where(MatchTransition.match_id == match_id)
                    .order_by(MatchTransition.id)
                ):
                    assert t.from_status == status and t.to_status in TRANSITIONS[status], self.log
                    status = t.to_status
                match = self.s.get(Match, match_id)
                assert match.status == status, self.log
                if status in ("active", "completed", "cancelled"):
                    assert match.mentor_accepted and match.newcomer_accepted
                    assert self.s.scalar(
                        select(Commitment.id).where(Commitment.match_id == match_id).limit(1)
                    )

    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=30, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
