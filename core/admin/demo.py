"""Demo mode: one user per role with documented passwords, for the README's start command only.

Those passwords and the demo's cookie key are public, so demo mode runs only on the embedded SQLite file it
makes (data/onefunnel.db, with DATABASE_URL unset) and only while that database has no account of a real
person; and a demo account signs in only in demo mode (core.admin.users), whatever database it ends up in.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, select

from core.admin.users import UserInfo, create_user, get_user
from core.config import default_sqlite_path, secret
from core.db import read_scope
from core.models import User
from core.permissions import Actor

DEMO_PASSWORD_SUFFIX = "-demo-2026"
# (user name, name, role); each password is the user name followed by DEMO_PASSWORD_SUFFIX.
DEMO_USERS: tuple[tuple[str, str, str], ...] = (
    ("admin", "Avery Admin", "admin"),
    ("ops", "Priya Ops", "ops"),
    ("exec", "Erin Exec", "exec"),
    ("marketing", "Mia Marketing", "marketing"),
    ("sales", "Sol Sales", "sales"),
    ("marketing_lead", "Morgan Marketing Lead", "marketing_lead"),
    ("sales_lead", "Sasha Sales Lead", "sales_lead"),
)
DEMO_ACTOR = Actor("demo-setup", "admin")


def demo_password(username: str) -> str:
    return username + DEMO_PASSWORD_SUFFIX


class DemoRefused(RuntimeError):
    """Demo mode was asked to run on a database that is not its own; says which and what to do."""


def check_demo_database(engine: Engine) -> None:
    """Raises DemoRefused unless `engine` is the embedded demo file with no real person's account in it."""
    url = engine.url
    own = url.get_backend_name() == "sqlite" and url.database is not None
    if secret("DATABASE_URL") or not own or Path(url.database or "").resolve() != default_sqlite_path().resolve():
        raise DemoRefused(
            f"demo mode runs only on its own embedded database ({default_sqlite_path()}, DATABASE_URL unset): its "
            "passwords and cookie key are public. Start without ONEFUNNEL_DEMO for this database."
        )
    with read_scope(engine) as session:
        real = session.scalars(select(User.username).where(User.demo.is_(False)).limit(3)).all()
    if real:
        raise DemoRefused(
            f"this database has accounts of real people ({', '.join(real)}); demo mode would add accounts with "
            "published passwords to it. Start without ONEFUNNEL_DEMO, or use a fresh data/ folder for the demo."
        )


def ensure_demo_users(engine: Engine) -> list[UserInfo]:
    """Creates the demo users that are missing on the demo's own database (DemoRefused on any other); existing
    ones (and their changed passwords) are left alone."""
    check_demo_database(engine)
    created = []
    for username, name, role in DEMO_USERS:
        if get_user(engine, username) is None:
            created.append(
                create_user(
                    engine,
                    DEMO_ACTOR,
                    username=username,
                    name=name,
                    email=f"{username.replace('_', '.')}@northwind.example",
                    role=role,
                    password=demo_password(username),
                    demo=True,
                )
            )
    return created
