"""login failures: one row per wrong password, judged over a sliding window; the users' counter columns go

Revision ID: 0008
Revises: 0007

The old rule was five wrong passwords in a row, kept as `users.failed_logins`, and a lock until
`users.locked_until`. Both columns are dropped: the rows of `login_failures` are now the only record, so the
two cannot disagree. What they held is carried over as rows (marked `via = 'migrated'`, each user's carry-over
audited): a running lock as five failures placed so that it ends at the same moment, an unfinished count as
that many failures now, which slide out of the window fifteen minutes later.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rule as it was when this migration was written; later changes to core.users must not rewrite history.
MAX_FAILED_LOGINS = 5
WINDOW = dt.timedelta(minutes=15)
ACTOR = "migration 0008"

users = sa.table(
    "users",
    sa.column("username", sa.String),
    sa.column("failed_logins", sa.Integer),
    sa.column("locked_until", sa.DateTime),
)
failures = sa.table(
    "login_failures",
    sa.column("username", sa.String),
    sa.column("at", sa.DateTime),
    sa.column("via", sa.String),
    sa.column("cleared_at", sa.DateTime),
)
audit_log = sa.table(
    "audit_log",
    sa.column("at", sa.DateTime),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("entity", sa.String),
    sa.column("entity_key", sa.String),
    sa.column("detail", sa.JSON),
)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.Column("cleared_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_username_at", "login_failures", ["username", "at"])
    _carry_over()
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")


def _carry_over() -> None:
    connection = op.get_bind()
    now = _now()
    rows = connection.execute(
        sa.select(users.c.username, users.c.failed_logins, users.c.locked_until)
        .where(sa.or_(users.c.failed_logins > 0, users.c.locked_until > now))
        .order_by(users.c.username)
    ).all()
    for username, failed, locked_until in rows:
        if locked_until is not None and locked_until > now:
            # The window is full until its oldest failure leaves it: at locked_until, as before.
            stamps = [locked_until - WINDOW] * MAX_FAILED_LOGINS
        else:
            stamps = [now] * min(failed, MAX_FAILED_LOGINS - 1)
        if stamps:
            connection.execute(
                sa.insert(failures), [{"username": username, "at": at, "via": "migrated"} for at in stamps]
            )
        connection.execute(
            sa.insert(audit_log).values(
                at=now,
                actor=ACTOR,
                action="carry_over_failures",
                entity="user",
                entity_key=username,
                detail={
                    "failed_logins": failed,
                    "locked_until": locked_until.isoformat() if locked_until else None,
                    "failures": len(stamps),
                },
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("failed_logins", server_default=None, existing_type=sa.Integer(), existing_nullable=False)
    _carry_back()
    op.drop_index("ix_login_failures_username_at", table_name="login_failures")
    op.drop_table("login_failures")


def _carry_back() -> None:
    """Each user's window as the old columns: a full window is a lock until its oldest failure leaves it; fewer
    failures are the count towards the next lock. The failures themselves go with the table."""
    connection = op.get_bind()
    now = _now()
    rows = connection.execute(
        sa.select(failures.c.username, failures.c.at)
        .where(
            failures.c.cleared_at.is_(None),
            failures.c.at > now - WINDOW,
            failures.c.username.in_(sa.select(users.c.username)),
        )
        .order_by(failures.c.username, failures.c.at.desc())
    ).all()
    window: dict[str, list[dt.datetime]] = {}
    for username, at in rows:
        window.setdefault(username, []).append(at)
    for username, stamps in window.items():
        full = len(stamps) >= MAX_FAILED_LOGINS
        connection.execute(
            sa.update(users)
            .where(users.c.username == username)
            .values(
                failed_logins=0 if full else len(stamps),
                locked_until=stamps[MAX_FAILED_LOGINS - 1] + WINDOW if full else None,
            )
        )
