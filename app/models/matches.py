"""Matching runs, the proposal/match lifecycle, commitments, check-ins, notifications, models."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal, get_args

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, JSONDoc, UTCDateTime, utcnow


class MatchStatus(StrEnum):
    """Where a pair is in its life; the allowed moves are in app.matches.states."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    DECLINED = "declined"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class RunStatus(StrEnum):
    """Where a matching run is."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"  # by a coordinator; its job is cancelled with it


MATCH_STATUSES: tuple[MatchStatus, ...] = tuple(MatchStatus)
# A match in one of these states holds a mentor seat and the newcomer's single slot.
SEAT_HOLDING: tuple[MatchStatus, ...] = (MatchStatus.APPROVED, MatchStatus.ACTIVE)
# Parties learn of a pair only once a coordinator has approved it.
VISIBLE_TO_PARTIES: tuple[MatchStatus, ...] = (
    MatchStatus.APPROVED,
    MatchStatus.ACTIVE,
    MatchStatus.DECLINED,
    MatchStatus.COMPLETED,
    MatchStatus.CANCELLED,
)
ACTIVE_RUN: tuple[RunStatus, ...] = (RunStatus.QUEUED, RunStatus.RUNNING)
FINISHED_RUN: tuple[RunStatus, ...] = (RunStatus.DONE, RunStatus.FAILED, RunStatus.CANCELLED)
_SEAT_HOLDING_SQL = "status IN (" + ",".join(f"'{s}'" for s in SEAT_HOLDING) + ")"


class ModelStatus(StrEnum):
    """A version is a candidate until promoted; at most one is active per jurisdiction."""

    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"


class ModelVersion(Base):
    """A fitted re-ranker of one jurisdiction: parameters as JSON (never a pickle), metrics, gate verdict."""

    __tablename__ = "model_versions"
    __table_args__ = (
        CheckConstraint("status IN ('candidate','active','retired')", name="status"),
        Index("ix_model_versions_jurisdiction_code", "jurisdiction_code", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    # "" is the national model, else a province code: whose coordinators' decisions trained it.
    jurisdiction_code: Mapped[str] = mapped_column(String(12), default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default=ModelStatus.CANDIDATE, server_default="candidate")
    kind: Mapped[str] = mapped_column(String(16), default="logistic", server_default="logistic")
    params: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    gate: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict, server_default=text("'{}'"))
    n_samples: Mapped[int] = mapped_column(Integer, default=0)
    trained_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    trained_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promoted_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))


class MatchingRun(Base):
    """One execution of the model over a region scope with a policy."""

    __tablename__ = "matching_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope_code: Mapped[str] = mapped_column(String(12), index=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONDoc)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED, index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    counts: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    error_detail: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Match(Base):
    """A mentor-newcomer pair through its whole life: proposal, decision, acceptance, follow-up."""

    __tablename__ = "matches"
    __table_args__ = (
        # A newcomer never holds two seats: enforced by the database, not by a check-then-write.
        Index(
            "uq_matches_newcomer_seat",
            "newcomer_id",
            unique=True,
            sqlite_where=text(_SEAT_HOLDING_SQL),
            postgresql_where=text(_SEAT_HOLDING_SQL),
        ),
        Index("ix_matches_status_county_score", "status", "newcomer_county_code", "score"),
        Index("ix_matches_mentor_status", "mentor_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("matching_runs.id"), index=True)
    newcomer_id: Mapped[int] = mapped_column(ForeignKey("newcomers.id"), index=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("mentors.id"))
    newcomer_county_code: Mapped[str] = mapped_column(String(6))
    mentor_county_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(16), default=MatchStatus.PROPOSED)
    score: Mapped[float] = mapped_column(Float)
    score_parts: Mapped[dict[str, float]] = mapped_column(JSONDoc, default=dict)
    rank: Mapped[int] = mapped_column(Integer, default=1)
    # Between the two counties' centres, stored by the run so the review queue can filter on it.
    distance_km: Mapped[float | None] = mapped_column(Float)
    reasons: Mapped[dict[str, list[str]]] = mapped_column(JSONDoc, default=dict)
    suggested_commitments: Mapped[list[dict[str, Any]]] = mapped_column(JSONDoc, default=list)
    # Exploration: drawn outside the newcomer's top choice, with the probability the policy gave the draw.
    explored: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    propensity: Mapped[float | None] = mapped_column(Float)
    mentor_accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    newcomer_accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason_code: Mapped[str | None] = mapped_column(String(32))
    reason_note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class MatchTransition(Base):
    """Audit log: who moved a match from one state to another, when and why."""

    __tablename__ = "match_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Commitment(Base):
    """A resource-sharing promise of an active match, followed up by check-ins."""

    __tablename__ = "commitments"
    __table_args__ = (
        # The fulfilment report reads the counters of every commitment in match order: on PostgreSQL
        # an index-only scan, with the counters in the index.
        Index(
            "ix_commitments_match_id",
            "match_id",
            postgresql_include=["done_count", "partial_count", "missed_count"],
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(16))
    area: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text)
    cadence_days: Mapped[int] = mapped_column(Integer)
    next_due: Mapped[date | None] = mapped_column(Date, index=True)
    done_count: Mapped[int] = mapped_column(Integer, default=0)
    partial_count: Mapped[int] = mapped_column(Integer, default=0)
    missed_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# How a party's period went; the check-in body, the fulfilment counters and the console's form use this.
CheckInOutcome = Literal["done", "partial", "missed"]
CHECK_IN_OUTCOMES: tuple[str, ...] = get_args(CheckInOutcome)


class CheckIn(Base):
    """A party's report on one commitment period: one per party and period, a later one replaces it."""

    __tablename__ = "check_ins"
    # The fulfilment rate trusts this: twenty reports in one period are still one report.
    __table_args__ = (
        Index("uq_check_ins_commitment_party_period", "commitment_id", "party", "period", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    commitment_id: Mapped[int] = mapped_column(ForeignKey("commitments.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    # "mentor" or "newcomer": the side reported on (the author may be staff acting for a party).
    party: Mapped[str] = mapped_column(String(8))
    # Periods are numbered from the commitment's start: day // cadence_days, in China days.
    period: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")
    evidence_url: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Notification(Base):
    """An item of a mobile user's feed; the id is the polling cursor."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_account_id_id", "account_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDoc, default=dict)
    # A dedupe key so the overdue sweep never notifies twice for the same due date.
    dedupe_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
