"""ranker versions per jurisdiction with a promotion status; exploration flags on proposals

Revision ID: 0004_ranker_versions
Revises: 0003_rate_limits
Create Date: 2026-12-01 11:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_ranker_versions"
down_revision: str | None = "0003_rate_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        # "" is the national model; otherwise a province code (2 digits).
        batch.add_column(
            sa.Column("jurisdiction_code", sa.String(length=12), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("status", sa.String(length=16), nullable=False, server_default="candidate")
        )
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="logistic"))
        batch.add_column(sa.Column("gate", JSON, nullable=False, server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("promoted_by", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_model_versions_promoted_by_accounts"), "accounts", ["promoted_by"], ["id"]
        )
        batch.create_check_constraint(
            op.f("ck_model_versions_status"), "status IN ('candidate','active','retired')"
        )
        batch.create_index(op.f("ix_model_versions_jurisdiction_code"), ["jurisdiction_code", "status"])
    # Versions trained before this revision stored the old feature set; they stay listable, never active.
    op.execute("UPDATE model_versions SET status = 'retired'")
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("explored", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("propensity", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("propensity")
        batch.drop_column("explored")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_index(op.f("ix_model_versions_jurisdiction_code"))
        batch.drop_constraint(op.f("ck_model_versions_status"), type_="check")
        batch.drop_constraint(op.f("fk_model_versions_promoted_by_accounts"), type_="foreignkey")
        for name in ("promoted_by", "promoted_at", "gate", "kind", "status", "jurisdiction_code"):
            batch.drop_column(name)
