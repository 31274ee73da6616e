"""roster_imports: the file's own header text per column, kept when the import reads its header

The error report (errors.csv) names its columns as the office's file does. It read them by parsing the
stored upload again on every download: 12 s and 650 MB for a 150k-row workbook before the first byte.
Imports stored before this revision keep NULL here and are still read again.

Revision ID: 0012_import_column_labels
Revises: 0011_profile_jurisdiction_index
Create Date: 2026-12-03 11:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012_import_column_labels"
down_revision: str | None = "0011_profile_jurisdiction_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_doc = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
    op.add_column("roster_imports", sa.Column("column_labels", json_doc, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("roster_imports") as batch:
        batch.drop_column("column_labels")
