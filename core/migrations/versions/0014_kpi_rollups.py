"""KPI counts kept per local day, lead source and segment, and the maturity lags, written at import; the
cohort index covers the response time

Revision ID: 0014
Revises: 0013

Filled from the stored rows by 0017, which adds a column, with core.funnel.rollups.refresh_counts, as each
import of leads or deals and each settings change keeps them from then on. Core's fill writes the columns of
the newest schema, so it runs in the last migration that changes these tables, not here.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MQL_COUNTS = (
    "mqls",
    "sqls",
    "sql_known",
    "opportunity_mqls",
    "won_mqls",
    "disposition_known",
    "dispositioned",
    "rejected",
    "reason_known",
    "rejected_no_reason",
    "response_known",
    "sla_met",
    "sla_late",
    "unanswered",
    "unanswered_without_due",
    "responded",
    "completeness_known",
    "complete_mqls",
)


def upgrade() -> None:
    op.create_table(
        "mql_day_facts",
        sa.Column("mql_day", sa.Date(), primary_key=True),
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("segment", sa.String(16), primary_key=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in MQL_COUNTS),
    )
    op.create_table(
        "created_day_facts",
        sa.Column("created_day", sa.Date(), primary_key=True),
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("segment", sa.String(16), primary_key=True),
        sa.Column("leads_created", sa.Integer(), nullable=False),
    )
    op.create_table(
        "deal_day_facts",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("event", sa.String(8), primary_key=True),
        sa.Column("linked", sa.Boolean(), primary_key=True),
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("segment", sa.String(16), primary_key=True),
        sa.Column("deals", sa.Integer(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=True),
        sa.Column("marketing_amount", sa.Float(), nullable=True),
        sa.Column("sales_amount", sa.Float(), nullable=True),
        sa.Column("without_amount", sa.Integer(), nullable=False),
        sa.Column("won", sa.Integer(), nullable=False),
        sa.Column("closed_known", sa.Integer(), nullable=False),
        sa.Column("won_known", sa.Integer(), nullable=False),
        sa.Column("won_amount", sa.Float(), nullable=True),
        sa.Column("won_with_amount", sa.Integer(), nullable=False),
        sa.Column("won_cycle_days", sa.Float(), nullable=True),
        sa.Column("won_with_cycle", sa.Integer(), nullable=False),
    )
    op.create_table(
        "maturity_lags",
        sa.Column("kpi", sa.String(16), primary_key=True),
        sa.Column("days", sa.Float(), nullable=False),
    )
    op.create_index(
        "ix_leads_unanswered_due",
        "leads",
        ["sla_due_at"],
        sqlite_where=sa.text("first_response_at IS NULL"),
        postgresql_where=sa.text("first_response_at IS NULL"),
    )
    # The cohort's index grows the response time, so that the medians (exact, from the rows) read it alone.
    op.drop_index("ix_leads_mql_day_source", table_name="leads")
    op.create_index("ix_leads_mql_day_source_response", "leads", ["mql_day", "source", "response_minutes"])


def downgrade() -> None:
    op.drop_index("ix_leads_mql_day_source_response", table_name="leads")
    op.create_index("ix_leads_mql_day_source", "leads", ["mql_day", "source"])
    op.drop_index("ix_leads_unanswered_due", table_name="leads")
    for table in ("maturity_lags", "deal_day_facts", "created_day_facts", "mql_day_facts"):
        op.drop_table(table)
