"""check_ins: one report per party per commitment period; duplicates removed and fulfilment recomputed

Each check-in gets the party it reports for and its period number (China days since the commitment
started, divided by the cadence). Of several reports by one party in one period only the latest
stays, the commitment's counters lose the removed ones, and every mentor's fulfilment rate is
recomputed from the counters, so the rate counts each party at most once per period.

Revision ID: 0008_one_check_in_per_period
Revises: 0007_match_distance
Create Date: 2026-12-01 12:00:00+00:00
"""

from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision: str = "0008_one_check_in_per_period"
down_revision: str | None = "0007_match_distance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# China Standard Time, as the service counts days (fixed UTC+8).
CHINA = timezone(timedelta(hours=8))
PARTIAL_WEIGHT = 0.5
COUNTER = {"done": "done_count", "partial": "partial_count", "missed": "missed_count"}


def _china_day(value: datetime) -> date:
    if value.tzinfo is None:  # SQLite hands back naive UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(CHINA).date()


def _backfill_and_dedupe(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.text(
            "SELECT ci.id, ci.commitment_id, ci.author_id, ci.outcome, ci.created_at,"
            " c.created_at AS started, c.cadence_days, me.account_id AS mentor_account,"
            " ne.account_id AS newcomer_account, m.mentor_id"
            " FROM check_ins ci JOIN commitments c ON c.id = ci.commitment_id"
            " JOIN matches m ON m.id = c.match_id"
            " JOIN mentors me ON me.id = m.mentor_id JOIN newcomers ne ON ne.id = m.newcomer_id"
            " ORDER BY ci.id"
        ).columns(created_at=sa.DateTime(timezone=True), started=sa.DateTime(timezone=True))
    ).all()
    latest: dict[tuple[int, str, int], int] = {}
    removed: list[tuple[int, str]] = []  # (commitment id, outcome) of each dropped duplicate
    outcome_of: dict[int, tuple[int, str]] = {}
    touched: set[int] = set()
    for r in rows:
        # The author's own side; otherwise staff reported for the side that had no account.
        if r.author_id == r.mentor_account:
            party = "mentor"
        elif r.author_id == r.newcomer_account:
            party = "newcomer"
        else:
            party = "mentor" if r.mentor_account is None else "newcomer"
        days = (_china_day(r.created_at) - _china_day(r.started)).days
        period = max(0, days) // max(1, r.cadence_days)
        conn.execute(
            sa.text("UPDATE check_ins SET party = :party, period = :period WHERE id = :id"),
            {"party": party, "period": period, "id": r.id},
        )
        outcome_of[r.id] = (r.commitment_id, r.outcome)
        key = (r.commitment_id, party, period)
        if key in latest:  # rows come oldest first: the earlier one goes
            removed.append(outcome_of[latest[key]])
            conn.execute(sa.text("DELETE FROM check_ins WHERE id = :id"), {"id": latest[key]})
            touched.add(r.mentor_id)
        latest[key] = r.id
    for commitment_id, outcome in removed:
        column = COUNTER[outcome]
        conn.execute(
            sa.text(f"UPDATE commitments SET {column} = {column} - 1 WHERE id = :id AND {column} > 0"),
            {"id": commitment_id},
        )
    for mentor_id in sorted(touched):
        done, partial, missed = conn.execute(
            sa.text(
                "SELECT COALESCE(SUM(c.done_count), 0), COALESCE(SUM(c.partial_count), 0),"
                " COALESCE(SUM(c.missed_count), 0) FROM commitments c"
                " JOIN matches m ON m.id = c.match_id WHERE m.mentor_id = :id"
            ),
            {"id": mentor_id},
        ).one()
        total = done + partial + missed
        if total:
            conn.execute(
                sa.text("UPDATE mentors SET fulfilment_rate = :rate WHERE id = :id"),
                {"rate": round((done + PARTIAL_WEIGHT * partial) / total, 4), "id": mentor_id},
            )


def upgrade() -> None:
    with op.batch_alter_table("check_ins") as batch:
        batch.add_column(sa.Column("party", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("period", sa.Integer(), nullable=True))
    _backfill_and_dedupe(op.get_bind())
    with op.batch_alter_table("check_ins") as batch:
        batch.alter_column("party", existing_type=sa.String(length=8), nullable=False)
        batch.alter_column("period", existing_type=sa.Integer(), nullable=False)
    op.create_index(
        "uq_check_ins_commitment_party_period", "check_ins", ["commitment_id", "party", "period"], unique=True
    )


def downgrade() -> None:
    # The removed duplicates are gone for good; the downgrade only drops the new columns.
    op.drop_index("uq_check_ins_commitment_party_period", table_name="check_ins")
    with op.batch_alter_table("check_ins") as batch:
        batch.drop_column("period")
        batch.drop_column("party")
