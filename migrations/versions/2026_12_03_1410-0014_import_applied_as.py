"""roster_imports.applied_as_id: the import a dry run became when it was applied

A double click on the console's "apply" queued the same file twice (two imports, the second all
"unchanged"). The preview now remembers its real import, and applying it again answers that one.

Revision ID: 0014_import_applied_as
Revises: 0013_honours_per_jurisdiction
Create Date: 2026-12-03 14:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_import_applied_as"
down_revision: str | None = "0013_honours_per_jurisdiction"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("roster_imports") as batch:
        batch.add_column(sa.Column("applied_as_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_roster_imports_applied_as_id_roster_imports"),
            "roster_imports",
            ["applied_as_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("roster_imports") as batch:
        batch.drop_constraint(op.f("fk_roster_imports_applied_as_id_roster_imports"), type_="foreignkey")
        batch.drop_column("applied_as_id")
