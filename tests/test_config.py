"""The cookie key check and demo mode: the app never starts with a forgeable key outside the demo."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from core import config, users
from core.config import ConfigError, cookie_key
from core.demo import DEMO_USERS, demo_password, ensure_demo_users
from core.permissions import ROLES


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
    monkeypatch.setenv("ONEFUNNEL_COOKIE_KEY", "k" * 48)
    assert cookie_key() == "k" * 48


def test_demo_mode_may_run_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONEFUNNEL_DEMO", "1")
    assert cookie_key() == config.DEMO_COOKIE_KEY


def test_demo_users_one_per_role_created_once(engine: Engine) -> None:
    assert {role for _, _, role in DEMO_USERS} == set(ROLES)
    assert len(ensure_demo_users(engine)) == len(ROLES)
    assert ensure_demo_users(engine) == []
    for username, _, role in DEMO_USERS:
        result = users.check_login(engine, username, demo_password(username))
        assert result.outcome == "ok" and result.user is not None and result.user.role == role
