"""attribution credits: each won deal's credit per channel and model, stored at import instead of ranking every
touch on each view

Revision ID: 0013
Revises: 0012

Filled here from the stored deals and touches by core.funnel.attribution.refresh_credits, as each import of
deals or touches keeps them from now on. The one revision that calls into core for its data, as 0004 does:
the credits are the attribution models themselves, and two copies of them could drift apart.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from core.funnel.attribution import refresh_credits

    op.create_table(
        "attribution_credits",
        sa.Column("opportunity_id", sa.String(128), primary_key=True),
        sa.Column("model", sa.String(16), primary_key=True),
        sa.Column("channel", sa.String(64), primary_key=True),
        sa.Column("credit", sa.Float(), nullable=False),
    )
    refresh_credits(op.get_bind())


def downgrade() -> None:
    op.drop_table("attribution_credits")
