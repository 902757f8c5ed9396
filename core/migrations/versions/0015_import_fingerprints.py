"""import fingerprints: each run records its mapping's content, so that a re-import of the very file the last run of
its kind read, read the same way, is recognised before it is parsed

Revision ID: 0015
Revises: 0014

Runs before this revision have no fingerprint, so the first re-import after it reads its file as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("import_runs") as batch_op:
        batch_op.add_column(sa.Column("mapping_sha256", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_runs") as batch_op:
        batch_op.drop_column("mapping_sha256")
