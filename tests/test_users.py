"""Users, sign-in checks, lockout and permissions: every write is checked and audited in core."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from core.admin import users
from core.admin.users import UserError, check_login, create_user
from core.cli import main
from core.db import get_engine
from core.models import AuditEntry, User
from core.permissions import ROLES, Actor, PermissionDenied, may

ADMIN = Actor("ada", "admin")
OPS = Actor("olu", "ops")
PASSWORD = "correct horse battery"
T0 = dt.datetime(2026, 11, 23, 9, 0)


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)


@pytest.fixture
def sam(engine: Engine) -> users.UserInfo:
    return create_user(
        engine, ADMIN, username="Sam", name="Sam Lee", email="sam@example.com", role="sales", password=PASSWORD
    )


def audit_rows(engine: Engine) -> list[tuple[str, str, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.entity_key).order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def user_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(User)) or 0)


def test_roles_table_of_the_product() -> None:
    assert [role for role in ROLES if may(role, "import_data")] == ["ops", "admin"]
    assert [role for role in ROLES if may(role, "approve_definition")] == ["marketing_lead", "sales_lead"]
    assert [role for role in ROLES if may(role, "manage")] == ["admin"]
    assert not may("exec", "propose_definition") and may("marketing", "propose_definition")
    assert all(may(role, "read") and may(role, "answer_survey") for role in ROLES)


def test_admin_creates_a_user_with_a_bcrypt_hash_and_an_audit_entry(engine: Engine, sam: users.UserInfo) -> None:
    assert (sam.username, sam.role, sam.active) == ("sam", "sales", True)
    with engine.connect() as connection:
        stored = connection.scalar(select(User.password_hash).where(User.username == "sam"))
    assert stored is not None and stored.startswith("$2b$") and PASSWORD not in stored
    assert audit_rows(engine) == [("ada", "create", "sam")]


def test_a_role_without_the_permission_changes_nothing(engine: Engine, sam: users.UserInfo) -> None:
    before = audit_rows(engine)
    with pytest.raises(PermissionDenied, match="olu \\(ops\\) may not manage"):
        create_user(engine, OPS, username="eve", name="Eve", email="eve@example.com", role="admin", password=PASSWORD)
    with pytest.raises(PermissionDenied):
        users.set_role(engine, OPS, "sam", "admin")
    with pytest.raises(PermissionDenied):
        users.reset_password(engine, Actor("sam", "sales"), "sam", "another long password")
    assert user_count(engine) == 1
    assert users.get_user(engine, "sam").role == "sales"  # type: ignore[union-attr]
    assert audit_rows(engine) == before


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("password", "short", "at least 10 characters"),
        ("role", "boss", "unknown role 'boss'"),
        ("email", "not-an-email", "is not an e-mail address"),
        ("username", "a b", "user name is"),
    ],
)
def test_bad_user_input_is_refused(engine: Engine, field: str, value: str, message: str) -> None:
    values = {"username": "kim", "name": "Kim", "email": "kim@example.com", "role": "ops", "password": PASSWORD}
    with pytest.raises(UserError, match=message):
        create_user(engine, ADMIN, **{**values, field: value})
    assert user_count(engine) == 0


def test_taken_user_name_or_email_is_refused(engine: Engine, sam: users.UserInfo) -> None:
    with pytest.raises(UserError, match="taken"):
        create_user(engine, ADMIN, username="SAM", name="S", email="other@example.com", role="ops", password=PASSWORD)
    with pytest.raises(UserError, match="another user has the e-mail"):
        create_user(engine, ADMIN, username="sam2", name="S", email="Sam@Example.com", role="ops", password=PASSWORD)


def test_five_wrong_passwords_within_fifteen_minutes_lock_the_account(engine: Engine, sam: users.UserInfo) -> None:
    for attempt in range(4):
        assert check_login(engine, "sam", "wrong password", now=T0 + dt.timedelta(seconds=attempt)).outcome == "wrong"
    fifth = check_login(engine, "sam", "wrong password", now=T0 + dt.timedelta(seconds=4))
    assert fifth.outcome == "locked"
    # Until the first of the five is fifteen minutes old: then only four are left in the window.
    assert fifth.locked_until == T0 + dt.timedelta(minutes=15)
    assert fifth.message == "Too many wrong passwords: this account is locked until 09:15 UTC."
    # The right password is refused until the lock expires, from any browser session.
    assert check_login(engine, "sam", PASSWORD, now=T0 + dt.timedelta(minutes=14, seconds=59)).outcome == "locked"
    later = check_login(engine, "Sam", PASSWORD, now=T0 + dt.timedelta(minutes=15))
    assert later.outcome == "ok" and later.user is not None and later.user.username == "sam"
    assert ("sam", "lock", "sam") in audit_rows(engine)


def test_a_success_resets_the_count_of_wrong_passwords(engine: Engine, sam: users.UserInfo) -> None:
    for _ in range(4):
        check_login(engine, "sam", "wrong password", now=T0)
    assert check_login(engine, "sam", PASSWORD, now=T0).outcome == "ok"
    for _ in range(4):
        assert check_login(engine, "sam", "wrong password", now=T0).outcome == "wrong"


def test_unknown_user_and_deactivated_user(engine: Engine, sam: users.UserInfo) -> None:
    assert check_login(engine, "nobody", PASSWORD).outcome == "wrong"
    users.set_active(engine, ADMIN, "sam", False)
    result = check_login(engine, "sam", PASSWORD)
    assert result.outcome == "inactive"
    info = users.get_user(engine, "sam")
    assert info is not None and not users.session_is_valid(info, dt.datetime(2099, 1, 1))
    with pytest.raises(UserError, match="cannot deactivate yourself"):
        users.set_active(engine, ADMIN, "ada", False)


def test_password_change_ends_other_sessions(engine: Engine, sam: users.UserInfo) -> None:
    actor = Actor("sam", "sales")
    with pytest.raises(UserError, match="current password is wrong"):
        users.change_own_password(engine, actor, current="not it at all", new="a brand new password")
    issued = users.utcnow() - dt.timedelta(seconds=1)
    users.change_own_password(engine, actor, current=PASSWORD, new="a brand new password")
    info = users.get_user(engine, "sam")
    assert info is not None and not users.session_is_valid(info, issued)
    assert check_login(engine, "sam", "a brand new password").outcome == "ok"
    assert check_login(engine, "sam", PASSWORD).outcome == "wrong"
    assert ("sam", "change_password", "sam") in audit_rows(engine)


def test_sign_out_invalidates_earlier_cookies(engine: Engine, sam: users.UserInfo) -> None:
    users.end_sessions(engine, "sam", now=T0)
    info = users.get_user(engine, "sam")
    assert info is not None
    assert not users.session_is_valid(info, T0 - dt.timedelta(hours=1))
    assert users.session_is_valid(info, T0 + dt.timedelta(seconds=1))


def test_cli_creates_the_first_admin_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    arguments = [
        "--database-url",
        url,
        "create-user",
        "--username",
        "root",
        "--name",
        "Root",
        "--email",
        "r@example.com",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main([*arguments, "--role", "admin", "--password-stdin"]) == 2
    assert "at least 10 characters" in capsys.readouterr().err
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main([*arguments, "--role", "admin", "--password-stdin"]) == 0
    assert "created root (admin)" in capsys.readouterr().out
    engine = get_engine(url)
    assert check_login(engine, "root", PASSWORD).outcome == "ok"
    engine.dispose()


def test_admin_lists_users_and_lifts_a_lockout(engine: Engine, sam: users.UserInfo) -> None:
    create_user(engine, ADMIN, username="kim", name="Kim", email="kim@example.com", role="ops", password=PASSWORD)
    users.set_active(engine, ADMIN, "kim", False)
    # Active people first, then by user name.
    assert [(u.username, u.active) for u in users.list_users(engine, ADMIN)] == [("sam", True), ("kim", False)]
    with pytest.raises(PermissionDenied):
        users.list_users(engine, OPS)
    for _ in range(5):
        check_login(engine, "sam", "wrong password")
    assert check_login(engine, "sam", PASSWORD).outcome == "locked"
    with pytest.raises(PermissionDenied):
        users.unlock(engine, OPS, "sam")
    assert check_login(engine, "sam", PASSWORD).outcome == "locked"
    users.unlock(engine, ADMIN, "sam")
    assert check_login(engine, "sam", PASSWORD).outcome == "ok"
    assert audit_rows(engine)[-1] == ("ada", "unlock", "sam")


def test_an_admin_cannot_change_their_own_role(engine: Engine, sam: users.UserInfo) -> None:
    with pytest.raises(UserError, match="your own role"):
        users.set_role(engine, ADMIN, "ada", "ops")
    users.set_role(engine, ADMIN, "sam", "sales_lead")
    assert users.get_user(engine, "sam").role == "sales_lead"  # type: ignore[union-attr]
    assert audit_rows(engine)[-1] == ("ada", "change_role", "sam")


def test_guessing_the_current_password_counts_towards_the_lockout(engine: Engine, sam: users.UserInfo) -> None:
    actor = Actor("sam", "sales")
    for attempt in range(4):
        with pytest.raises(UserError, match="current password is wrong"):
            users.change_own_password(engine, actor, current=f"guess {attempt}", new="a new long password", now=T0)
    with pytest.raises(UserError, match="locked until"):
        users.change_own_password(engine, actor, current="guess 5", new="a new long password", now=T0)
    # Locked: neither the right current password nor a sign-in works until the lock ends.
    with pytest.raises(UserError, match="locked until"):
        users.change_own_password(engine, actor, current=PASSWORD, new="a new long password", now=T0)
    assert check_login(engine, "sam", PASSWORD, now=T0).outcome == "locked"
    assert ("sam", "lock", "sam") in audit_rows(engine)
    later = T0 + dt.timedelta(minutes=16)
    users.change_own_password(engine, actor, current=PASSWORD, new="a new long password", now=later)
    assert check_login(engine, "sam", "a new long password", now=later).outcome == "ok"


def test_the_audit_log_keeps_no_e_mail_addresses(engine: Engine, sam: users.UserInfo) -> None:
    with engine.connect() as connection:
        detail = connection.scalar(select(AuditEntry.detail).where(AuditEntry.action == "create"))
    assert detail == {"role": "sales", "name": "Sam Lee"}
