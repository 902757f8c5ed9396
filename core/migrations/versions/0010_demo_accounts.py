"""demo accounts: a flag on the users that demo mode created, who sign in in demo mode only

Revision ID: 0010
Revises: 0009

Accounts created before this revision by demo mode are found by their audited creation (actor demo-setup).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("demo", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(
        "UPDATE users SET demo = true WHERE username IN (SELECT entity_key FROM audit_log "
        "WHERE actor = 'demo-setup' AND entity = 'user' AND action = 'create')"
    )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("demo")
