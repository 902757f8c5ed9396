"""filter values: the distinct sources, owners, campaigns and industries the pickers offer, kept at import

Revision ID: 0012
Revises: 0011

Filled here from the stored rows, as each import of leads or deals refreshes them from now on.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: core.funnel.segments.NOT_SET and the fields at this revision.
NOT_SET = "(not set)"
FILLS = (
    "SELECT DISTINCT 'source', source FROM leads",
    f"SELECT DISTINCT 'owner', COALESCE(owner, '{NOT_SET}') FROM leads",
    "SELECT DISTINCT 'owner', owner FROM opportunities WHERE owner IS NOT NULL",
    f"SELECT DISTINCT 'campaign', COALESCE(campaign, '{NOT_SET}') FROM leads",
    f"SELECT DISTINCT 'industry', COALESCE(industry, '{NOT_SET}') FROM leads",
)


def upgrade() -> None:
    op.create_table(
        "filter_values",
        sa.Column("field", sa.String(16), primary_key=True),
        sa.Column("value", sa.String(255), primary_key=True),
    )
    # UNION drops the owners that are on both leads and deals.
    op.execute(f"INSERT INTO filter_values (field, value) {' UNION '.join(FILLS)}")


def downgrade() -> None:
    op.drop_table("filter_values")
