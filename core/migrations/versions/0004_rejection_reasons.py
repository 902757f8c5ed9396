"""rejection reasons: the catalogue, and each lead's rejection day and folded reason

Revision ID: 0004
Revises: 0003
"""

import json
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa
from alembic import op

from core.rejections.catalogue import install_default_catalogue
from core.text import reason_key as fold

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rejection_reasons",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("lead_field", sa.String(length=32), nullable=True),
        sa.Column("attempts_required", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "reason_synonyms",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("reason_id", sa.Integer(), nullable=False),
        sa.Column("added_at", sa.DateTime(), nullable=False),
        sa.Column("added_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["reason_id"], ["rejection_reasons.id"]),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_reason_synonyms_reason_id", "reason_synonyms", ["reason_id"])
    with op.batch_alter_table("leads") as batch:
        batch.add_column(sa.Column("rejected_day", sa.Date(), nullable=True))
        batch.add_column(sa.Column("reason_key", sa.String(length=255), nullable=True))
    op.create_index("ix_leads_rejected_day_source", "leads", ["rejected_day", "source"])

    install_default_catalogue(op.get_bind())
    _backfill()


def _backfill() -> None:
    """Existing leads get their rejection day and folded reason, as an import now writes them."""
    connection = op.get_bind()
    leads = sa.table(
        "leads",
        sa.column("lead_id", sa.String),
        sa.column("rejected_at", sa.DateTime),
        sa.column("rejected_day", sa.Date),
        sa.column("rejection_reason", sa.String),
        sa.column("reason_key", sa.String),
    )
    texts = connection.execute(sa.select(leads.c.rejection_reason).distinct()).scalars().all()
    for typed in texts:
        key = fold(typed)
        if key is not None:
            connection.execute(sa.update(leads).where(leads.c.rejection_reason == typed).values(reason_key=key))

    settings = connection.execute(sa.text("SELECT value FROM settings WHERE key = 'organisation'")).scalar()
    if isinstance(settings, str):  # SQLite returns JSON columns as text to a plain SELECT
        settings = json.loads(settings)
    timezone = (settings or {}).get("timezone", "UTC")
    rows = connection.execute(
        sa.select(leads.c.lead_id, leads.c.rejected_at).where(leads.c.rejected_at.is_not(None))
    ).all()
    if not rows:
        return
    frame = pd.DataFrame(rows, columns=["lead_id", "rejected_at"])
    stamps = pd.to_datetime(frame["rejected_at"]).dt.tz_localize("UTC").dt.tz_convert(timezone)
    frame["day"] = stamps.dt.date
    connection.execute(
        sa.update(leads).where(leads.c.lead_id == sa.bindparam("_id")).values(rejected_day=sa.bindparam("_day")),
        [{"_id": lead_id, "_day": day} for lead_id, day in zip(frame["lead_id"], frame["day"], strict=True)],
    )


def downgrade() -> None:
    op.drop_index("ix_leads_rejected_day_source", table_name="leads")
    with op.batch_alter_table("leads") as batch:
        batch.drop_column("reason_key")
        batch.drop_column("rejected_day")
    op.drop_index("ix_reason_synonyms_reason_id", table_name="reason_synonyms")
    op.drop_table("reason_synonyms")
    op.drop_table("rejection_reasons")
