"""Demo mode: one user per role with documented passwords, for the README's start command only."""

from __future__ import annotations

from sqlalchemy import Engine

from core.permissions import Actor
from core.users import UserInfo, create_user, get_user

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


def ensure_demo_users(engine: Engine) -> list[UserInfo]:
    """Creates the demo users that are missing; existing ones (and their changed passwords) are left alone."""
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
                )
            )
    return created
