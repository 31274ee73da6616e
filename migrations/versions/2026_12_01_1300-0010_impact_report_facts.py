"""match_outcomes carries who, where and how it ended, so reports aggregate one table

Every report read the outcomes joined back to their matches for the parties, their counties and the
status; over a year of pairs that join was most of each report's time. The parties and counties of a
match never change, so they are copied once (here for existing rows, at activation afterwards), and
`ended_as` records how an active match ended (completed or cancelled), set by the transition function.
Indexes with pattern ops serve a jurisdiction's prefix filter (LIKE '53%') on PostgreSQL, and two covering
indexes let the fulfilment report merge outcomes and commitments by index-only scans.

Revision ID: 0010_impact_report_facts
Revises: 0008_one_check_in_per_period
Create Date: 2026-12-01 13:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_impact_report_facts"
down_revision: str | None = "0008_one_check_in_per_period"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FACTS = ("newcomer_id", "mentor_id", "newcomer_county_code", "mentor_county_code")


def upgrade() -> None:
    with op.batch_alter_table("match_outcomes") as batch:
        batch.add_column(sa.Column("newcomer_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("mentor_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("newcomer_county_code", sa.String(length=6), nullable=True))
        batch.add_column(sa.Column("mentor_county_code", sa.String(length=6), nullable=True))
        batch.add_column(sa.Column("ended_as", sa.String(length=16), nullable=True))
    # UPDATE ... FROM: PostgreSQL, and SQLite since 3.33.
    op.execute(
        "UPDATE match_outcomes SET "
        + ", ".join(f"{c} = m.{c}" for c in FACTS)
        + ", ended_as = CASE WHEN m.status IN ('completed', 'cancelled') THEN m.status END"
        " FROM matches AS m WHERE m.id = match_outcomes.match_id"
    )
    with op.batch_alter_table("match_outcomes") as batch:
        for column in FACTS:
            batch.alter_column(column, nullable=False)
        batch.create_foreign_key(
            op.f("fk_match_outcomes_newcomer_id_newcomers"), "newcomers", ["newcomer_id"], ["id"]
        )
        batch.create_foreign_key(
            op.f("fk_match_outcomes_mentor_id_mentors"), "mentors", ["mentor_id"], ["id"]
        )
        batch.create_check_constraint(
            op.f("ck_match_outcomes_ended_as"), "ended_as IS NULL OR ended_as IN ('completed','cancelled')"
        )
        batch.create_index(
            op.f("ix_match_outcomes_newcomer_county_code"),
            ["newcomer_county_code", "activated_on"],
            postgresql_ops={"newcomer_county_code": "varchar_pattern_ops"},
        )
        batch.create_index(
            op.f("ix_match_outcomes_mentor_county_code"),
            ["mentor_county_code", "activated_on"],
            postgresql_ops={"mentor_county_code": "varchar_pattern_ops"},
        )
        batch.create_index(
            op.f("ix_match_outcomes_match_id_grouping"),
            ["match_id"],
            postgresql_include=["activated_on", "newcomer_county_code", "mentor_id"],
        )
    # The fulfilment report reads the commitments' counters in match order: in the index, for an
    # index-only scan on PostgreSQL (SQLite ignores INCLUDE and keeps a plain index).
    with op.batch_alter_table("commitments") as batch:
        batch.drop_index(op.f("ix_commitments_match_id"))
        batch.create_index(
            op.f("ix_commitments_match_id"),
            ["match_id"],
            postgresql_include=["done_count", "partial_count", "missed_count"],
        )


def downgrade() -> None:
    with op.batch_alter_table("commitments") as batch:
        batch.drop_index(op.f("ix_commitments_match_id"))
        batch.create_index(op.f("ix_commitments_match_id"), ["match_id"])
    with op.batch_alter_table("match_outcomes") as batch:
        batch.drop_index(op.f("ix_match_outcomes_match_id_grouping"))
        batch.drop_index(op.f("ix_match_outcomes_mentor_county_code"))
        batch.drop_index(op.f("ix_match_outcomes_newcomer_county_code"))
        batch.drop_constraint(op.f("ck_match_outcomes_ended_as"), type_="check")
        batch.drop_constraint(op.f("fk_match_outcomes_mentor_id_mentors"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_match_outcomes_newcomer_id_newcomers"), type_="foreignkey")
        for column in ("ended_as", *reversed(FACTS)):
            batch.drop_column(column)
