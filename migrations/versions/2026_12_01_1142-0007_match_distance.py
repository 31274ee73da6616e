"""matches.distance_km: the great-circle distance between the two counties, for the review filters

Revision ID: 0007_match_distance
Revises: 0006_notification_outbox
Create Date: 2026-12-01 10:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_match_distance"
down_revision: str | None = "0006_notification_outbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.add_column(sa.Column("distance_km", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("distance_km")
