"""coverage: which fields each lead's and opportunity's imports carried

Revision ID: 0009
Revises: 0008

Rows imported before this revision get, per import run, the fields that any row of that run has a value
in: a run whose file had an SQL date column almost always set some SQL date. Required fields are always
carried. Deals runs with at least one lost deal get the "losses" bit.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here: the field order of core.schema at this revision (a bit per field).
FIELDS = {
    "leads": (
        "lead_id created_at email company company_size industry country title seniority department source "
        "campaign score intent_signal mql_at sql_at rejected_at rejection_reason first_response_at owner "
        "touch_attempts"
    ).split(),
    "opportunities": "opportunity_id lead_id account created_at stage amount closed_at is_won origin owner".split(),
}
REQUIRED = {"leads": ("lead_id", "created_at", "source"), "opportunities": ("opportunity_id", "created_at", "amount")}
LOSSES_BIT = 1 << 30


def upgrade() -> None:
    for table in FIELDS:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("carried", sa.Integer(), nullable=False, server_default="0"))
    backfill()


def backfill() -> None:
    """Each row gets the fields its import run carried, judged by the values the run's rows hold."""
    for table, fields in FIELDS.items():
        required = sum(1 << fields.index(name) for name in REQUIRED[table])
        op.execute(f"UPDATE {table} SET carried = {required}")
        for position, name in enumerate(fields):
            if name in REQUIRED[table]:
                continue
            same_run = (
                f"(import_id IN (SELECT import_id FROM {table} WHERE {name} IS NOT NULL AND import_id IS NOT NULL)"
                f" OR (import_id IS NULL AND EXISTS (SELECT 1 FROM {table} WHERE {name} IS NOT NULL AND import_id IS NULL)))"
            )
            op.execute(f"UPDATE {table} SET carried = carried + {1 << position} WHERE {same_run}")
    lost = (
        "(import_id IN (SELECT import_id FROM opportunities WHERE is_won = false AND import_id IS NOT NULL)"
        " OR (import_id IS NULL AND EXISTS (SELECT 1 FROM opportunities WHERE is_won = false AND import_id IS NULL)))"
    )
    op.execute(f"UPDATE opportunities SET carried = carried + {LOSSES_BIT} WHERE {lost}")


def downgrade() -> None:
    for table in FIELDS:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("carried")
