"""The cookie key check and demo mode: the app never starts with a forgeable key outside the demo."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core import config
from core.admin import users
from core.admin.demo import DEMO_USERS, DemoRefused, demo_password, ensure_demo_users
from core.config import ConfigError, cookie_key
from core.db import open_database
from core.models import utcnow
from core.permissions import ROLES
from tests.conftest import TEST_COOKIE_KEY, TESTER


@pytest.fixture(autouse=True)
def no_secrets_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config, "_secrets_files", lambda: [])
    monkeypatch.delenv("ONEFUNNEL_COOKIE_KEY", raising=False)
    monkeypatch.delenv("ONEFUNNEL_DEMO", raising=False)
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (None, "ONEFUNNEL_COOKIE_KEY is not set"),
        ("some_key", "published default key"),
        ("replace-me-with-a-random-key-of-at-least-32-characters", "published default key"),
        (config.DEMO_COOKIE_KEY, "published default key"),
        ("x" * 31, "has 31 characters; it needs at least 32"),
    ],
)
def test_a_bad_cookie_key_stops_a_real_deployment(
    monkeypatch: pytest.MonkeyPatch, key: str | None, message: str
) -> None:
    if key is not None:
        monkeypatch.setenv("ONEFUNNEL_COOKIE_KEY", key)
    with pytest.raises(ConfigError, match=message):
        cookie_key()


def test_a_long_random_key_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEFUNNEL_COOKIE_KEY", TEST_COOKIE_KEY)
    assert cookie_key() == TEST_COOKIE_KEY
    monkeypatch.setenv("ONEFUNNEL_COOKIE_KEY", "0123456789abcdef" * 2)  # 32 hex digits, as openssl rand -hex 16
    assert cookie_key() == "0123456789abcdef" * 2


@pytest.mark.parametrize("key", ["x" * 32, "k" * 48, "ab" * 20, "Password" * 4])
def test_a_long_key_of_few_letters_is_refused(monkeypatch: pytest.MonkeyPatch, key: str) -> None:
    monkeypatch.setenv("ONEFUNNEL_COOKIE_KEY", key)
    with pytest.raises(ConfigError, match="repeats too few characters"):
        cookie_key()


def test_demo_mode_may_run_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEFUNNEL_DEMO", "1")
    assert cookie_key() == config.DEMO_COOKIE_KEY


def test_demo_users_one_per_role_created_once(demo_engine: Engine) -> None:
    assert {role for _, _, role in DEMO_USERS} == set(ROLES)
    assert len(ensure_demo_users(demo_engine)) == len(ROLES)
    assert ensure_demo_users(demo_engine) == []
    for username, _, role in DEMO_USERS:
        result = users.check_login(demo_engine, username, demo_password(username))
        assert result.outcome == "ok" and result.user is not None and result.user.role == role


@pytest.fixture
def demo_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Engine]:
    """Demo mode on its own embedded database: onefunnel.db in the data folder, DATABASE_URL unset."""
    monkeypatch.setenv("ONEFUNNEL_DEMO", "1")
    monkeypatch.setenv("ONEFUNNEL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    engine = open_database(config.database_url())
    yield engine
    engine.dispose()


def test_demo_mode_refuses_any_other_database(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first hardening probe: demo mode on a real database wrote the demo accounts, with their published
    passwords, into it."""
    monkeypatch.setenv("ONEFUNNEL_DEMO", "1")
    with pytest.raises(DemoRefused, match="runs only on its own embedded database"):
        ensure_demo_users(engine)  # a database named by DATABASE_URL (the test's SQLite file or PostgreSQL)
    assert users.list_users(engine, TESTER) == []


def test_demo_mode_refuses_its_own_file_once_a_real_person_has_an_account(demo_engine: Engine) -> None:
    users.create_user(
        demo_engine, TESTER, username="ada", name="Ada", email="ada@x.io", role="admin", password="a real password"
    )
    with pytest.raises(DemoRefused, match=r"accounts of real people \(ada\)"):
        ensure_demo_users(demo_engine)
    assert [user.username for user in users.list_users(demo_engine, TESTER)] == ["ada"]


def test_demo_accounts_sign_in_only_in_demo_mode(demo_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    ensure_demo_users(demo_engine)
    admin = users.get_user(demo_engine, "admin")
    assert admin is not None and admin.demo
    issued = utcnow()
    assert users.session_is_valid(admin, issued)
    monkeypatch.delenv("ONEFUNNEL_DEMO")  # a restart without demo mode, on the same file
    result = users.check_login(demo_engine, "admin", demo_password("admin"))
    assert result.outcome == "demo" and result.user is None
    assert "only in demo mode" in result.message
    assert not users.session_is_valid(admin, issued)  # nor does a cookie or an open session of a demo account
