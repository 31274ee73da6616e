"""mentors and newcomers: an index on (is_active, region_code) for a jurisdiction's page of profiles

A list page asks for the active profiles inside a jurisdiction, in id order. The jurisdiction is now a
range of region codes (`region_code >= '32' AND region_code < '33'`, app.access.regions.under_indexed),
and this index finds a province's active profiles without reading the others: before, SQLite walked the
active profiles in id order and tested each code, about half of them for a page of Jiangsu's.

Revision ID: 0011_profile_jurisdiction_index
Revises: 0010_impact_report_facts
Create Date: 2026-12-01 20:30:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_profile_jurisdiction_index"
down_revision: str | None = "0010_impact_report_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("mentors", "newcomers")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(f"ix_{table}_active_region", table, ["is_active", "region_code"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_active_region", table_name=table)
