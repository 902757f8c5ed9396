"""the threshold sandbox: per-person trials and their leads; evidence attached to a proposed definition

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("definition_versions") as batch:
        batch.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
    op.create_table(
        "sandbox_trials",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("mapping_name", sa.String(length=128), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=True),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_sandbox_trials_owner", "sandbox_trials", ["owner"])
    op.create_table(
        "sandbox_leads",
        sa.Column("trial_id", sa.Integer(), nullable=False),
        sa.Column("row_no", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.String(length=128), nullable=False),
        sa.Column("created_day", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("company_size", sa.Integer(), nullable=True),
        sa.Column("industry", sa.String(length=128), nullable=True),
        sa.Column("country", sa.String(length=128), nullable=True),
        sa.Column("seniority", sa.String(length=16), nullable=True),
        sa.Column("department", sa.String(length=128), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("intent_signal", sa.String(length=128), nullable=True),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("mql_at", sa.DateTime(), nullable=True),
        sa.Column("was_mql", sa.Boolean(), nullable=False),
        sa.Column("is_sql", sa.Boolean(), nullable=False),
        sa.Column("is_rejected", sa.Boolean(), nullable=False),
        sa.Column("response_business_minutes", sa.Float(), nullable=True),
        sa.Column("response_calendar_minutes", sa.Float(), nullable=True),
        sa.Column("wait_business_minutes", sa.Float(), nullable=True),
        sa.Column("wait_calendar_minutes", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["trial_id"], ["sandbox_trials.id"]),
        sa.PrimaryKeyConstraint("trial_id", "row_no"),
    )


def downgrade() -> None:
    op.drop_table("sandbox_leads")
    op.drop_index("ix_sandbox_trials_owner", table_name="sandbox_trials")
    op.drop_table("sandbox_trials")
    with op.batch_alter_table("definition_versions") as batch:
        batch.drop_column("evidence")
