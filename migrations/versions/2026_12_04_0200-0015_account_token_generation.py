"""accounts.token_generation: access tokens issued before a deactivation or a password reset stay dead

An access token names its account's generation; the account lookup of every request matches it.
Deactivating an account or resetting its password moves the generation on, so reactivating the
account later does not bring the tokens of before back to life.

Revision ID: 0015_account_token_generation
Revises: 0014_import_applied_as
Create Date: 2026-12-04 02:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_account_token_generation"
down_revision: str | None = "0014_import_applied_as"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.add_column(sa.Column("token_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("accounts") as batch:
        batch.drop_column("token_generation")
