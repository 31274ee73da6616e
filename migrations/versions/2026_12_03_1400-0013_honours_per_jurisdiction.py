"""honours: one per mentor, rule, jurisdiction and period (was: per mentor, rule and period end)

A county's evaluation of a quarter blocked its province's evaluation of the same quarter, since the
unique index left out the jurisdiction. Overlapping periods of one jurisdiction are refused by the
evaluation itself; this index is its backstop.

Revision ID: 0013_honours_per_jurisdiction
Revises: 0012_import_column_labels
Create Date: 2026-12-03 14:00:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013_honours_per_jurisdiction"
down_revision: str | None = "0012_import_column_labels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("honours") as batch:
        batch.drop_index("uq_honours_mentor_rule_period")
        batch.create_index(
            "uq_honours_mentor_rule_jurisdiction_period",
            ["mentor_id", "rule_code", "jurisdiction_code", "period_end"],
            unique=True,
        )


def downgrade() -> None:
    # Fails if two jurisdictions hold the same mentor's honour for one period end: the old rule cannot
    # hold both, and which to drop is a coordinator's decision, not a migration's.
    with op.batch_alter_table("honours") as batch:
        batch.drop_index("uq_honours_mentor_rule_jurisdiction_period")
        batch.create_index("uq_honours_mentor_rule_period", ["mentor_id", "rule_code", "period_end"], unique=True)
