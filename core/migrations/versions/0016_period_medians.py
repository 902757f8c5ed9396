"""period medians: the exact median response time and sales cycle of each week, month and quarter, in total, by
source and by segment, kept at import

Revision ID: 0016
Revises: 0015

Filled here from the stored rows by core.funnel.medians.rebuild, as each import and settings change keeps them
from now on (like 0013 and 0014, it calls into core: two copies of a median could drift apart).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from core.funnel import medians
    from core.settings import load

    op.create_table(
        "period_medians",
        sa.Column("metric", sa.String(8), primary_key=True),
        sa.Column("grain", sa.String(8), primary_key=True),
        sa.Column("grouping", sa.String(8), primary_key=True),
        sa.Column("period_start", sa.Date(), primary_key=True),
        sa.Column("grp", sa.String(64), primary_key=True),
        sa.Column("value", sa.Float(), nullable=False),
    )
    connection = op.get_bind()
    settings = load(connection)
    medians.rebuild(connection, settings, "response")
    medians.rebuild(connection, settings, "cycle")


def downgrade() -> None:
    op.drop_table("period_medians")
