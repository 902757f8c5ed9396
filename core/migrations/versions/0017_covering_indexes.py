"""narrower indexes: the Rejections page's queries read the rejected leads of a range, and the leads sales
accepted, from an index each, without visiting the rows; the touches' index by deal holds only the touches of a
deal; the MQL day counts keep how many MQLs came with rejection dates

Revision ID: 0017
Revises: 0016

The first holds only rejected leads (about a fifth of them), with every column the explorer groups, filters or
counts by: the day, the reason, source, campaign, owner, company size, touch attempts, the MQL time, the
coverage bits and the fields the reason profiles hold against the ICP. It replaces the index on (rejected_day,
source). The second holds the accepted leads (an SQL date) by MQL day, with the fields the profiles compare.

The touches' index by deal (opportunity_id, touched_at) held every touch, nearly all of them with no deal (''):
an import of five million touches spent most of its merge keeping that index in order. It now holds the touches
of a deal only, and the queries that use it say so.

The day counts (0014) are filled here, from the stored rows, by core.funnel.rollups.refresh_counts: core's fill
writes the newest columns, so it runs in the last migration that changes the tables it fills.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = [
    "rejected_day",
    "reason_key",
    "source",
    "campaign",
    "owner",
    "company_size",
    "touch_attempts",
    "mql_at",
    "carried",
    "industry",
    "country",
    "seniority",
]
ACCEPTED = ["mql_day", "source", "campaign", "owner", "company_size", "industry", "country", "seniority"]


def upgrade() -> None:
    from core.funnel.rollups import refresh_counts
    from core.settings import load

    with op.batch_alter_table("mql_day_facts") as batch_op:
        batch_op.add_column(sa.Column("rejection_dates_known", sa.Integer(), nullable=False, server_default="0"))
    op.drop_index("ix_leads_rejected_day_source", table_name="leads")
    op.create_index(
        "ix_leads_rejections",
        "leads",
        COLUMNS,
        sqlite_where=sa.text("rejected_day IS NOT NULL"),
        postgresql_where=sa.text("rejected_day IS NOT NULL"),
    )
    op.create_index(
        "ix_leads_accepted",
        "leads",
        ACCEPTED,
        sqlite_where=sa.text("sql_at IS NOT NULL"),
        postgresql_where=sa.text("sql_at IS NOT NULL"),
    )
    op.drop_index("ix_touches_opportunity", table_name="touches")
    op.create_index(
        "ix_touches_opportunity",
        "touches",
        ["opportunity_id", "touched_at"],
        sqlite_where=sa.text("opportunity_id <> ''"),
        postgresql_where=sa.text("opportunity_id <> ''"),
    )
    connection = op.get_bind()
    refresh_counts(connection, load(connection))


def downgrade() -> None:
    op.drop_index("ix_touches_opportunity", table_name="touches")
    op.create_index("ix_touches_opportunity", "touches", ["opportunity_id", "touched_at"])
    op.drop_index("ix_leads_accepted", table_name="leads")
    op.drop_index("ix_leads_rejections", table_name="leads")
    op.create_index("ix_leads_rejected_day_source", "leads", ["rejected_day", "source"])
    with op.batch_alter_table("mql_day_facts") as batch_op:
        batch_op.drop_column("rejection_dates_known")
