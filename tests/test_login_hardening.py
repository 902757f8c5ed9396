"""Issue 10, item 3: the sign-in weaknesses of streamlit-authenticator 0.4.2, closed in core and ui/auth.

- the failed-login lock is a sliding window over rows of login_failures, cleared (never deleted) by a sign-in, a new
  password or an admin's unlock, and holds for names that are no account exactly as for names that are;
- every sign-in runs exactly one bcrypt check at the cost of a real hash, so an unknown name takes as long;
- nothing secret is made with `random`;
- a login cookie, or an open browser session, from before a sign-out, password change or deactivation is refused.
"""

from __future__ import annotations

import ast
import datetime as dt
import hashlib
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
import streamlit as st
from alembic import command
from sqlalchemy import DateTime, Engine, column, inspect, select, table, text
from sqlalchemy.exc import OperationalError
from streamlit.testing.v1 import AppTest

from core import config, db
from core.admin import users
from core.admin.logins import FAILURE_WINDOW, MAX_FAILED_LOGINS
from core.admin.users import UserError, check_login, create_user
from core.cli import main
from core.db import alembic_config, open_database, upgrade
from core.formatting import MISSING
from core.models import AuditEntry, LoginFailure, utcnow
from core.permissions import Actor
from tests.conftest import BACKENDS, TEST_COOKIE_KEY, empty_database
from ui.auth import COOKIE_NAME, USER_KEY

ROOT = Path(__file__).resolve().parent.parent
ADMIN = Actor("ada", "admin")
PASSWORD = "correct horse battery"
WRONG = "wrong password"
T0 = dt.datetime(2026, 11, 23, 9, 0)
MINUTE = dt.timedelta(minutes=1)


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 4)


def add_user(engine: Engine, username: str = "sam", role: str = "sales") -> users.UserInfo:
    return create_user(
        engine,
        ADMIN,
        username=username,
        name=username.title(),
        email=f"{username}@example.com",
        role=role,
        password=PASSWORD,
    )


@pytest.fixture
def sam(engine: Engine) -> users.UserInfo:
    return add_user(engine)


def failures(engine: Engine) -> list[tuple[str, dt.datetime, str, dt.datetime | None, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                LoginFailure.username,
                LoginFailure.at,
                LoginFailure.via,
                LoginFailure.cleared_at,
                LoginFailure.cleared_by,
            ).order_by(LoginFailure.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def audit_entries(engine: Engine, action: str) -> list[tuple[str, str, str | None, dict[str, Any]]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(AuditEntry.actor, AuditEntry.entity, AuditEntry.entity_key, AuditEntry.detail)
            .where(AuditEntry.action == action)
            .order_by(AuditEntry.id)
        )
        return [tuple(row) for row in rows]


def outcomes(engine: Engine, username: str, password: str, times: list[dt.datetime]) -> list[tuple[str, str]]:
    return [
        (result.outcome, result.message)
        for result in (check_login(engine, username, password, now=now) for now in times)
    ]


# --- the sliding window ------------------------------------------------------------------------------------------


def test_failures_spread_wider_than_the_window_never_lock(engine: Engine, sam: users.UserInfo) -> None:
    # Four minutes apart: never more than four within fifteen minutes, however many in all (the old counter of
    # failures in a row locked at the fifth).
    times = [T0 + 4 * MINUTE * attempt for attempt in range(12)]
    assert {outcome for outcome, _ in outcomes(engine, "sam", WRONG, times)} == {"wrong"}
    assert len(failures(engine)) == 12
    assert check_login(engine, "sam", PASSWORD, now=times[-1]).outcome == "ok"


def test_the_lock_slides_as_failures_leave_the_window(engine: Engine, sam: users.UserInfo) -> None:
    first = outcomes(engine, "sam", WRONG, [T0 + MINUTE * attempt for attempt in range(5)])
    assert [outcome for outcome, _ in first] == ["wrong"] * 4 + ["locked"]
    assert first[-1][1] == "Too many wrong passwords: this account is locked until 09:15 UTC."
    # At 09:15 the 09:00 failure has left the window: one more guess, which fills it again until 09:16.
    again = check_login(engine, "sam", WRONG, now=T0 + FAILURE_WINDOW)
    assert (again.outcome, again.locked_until) == ("locked", T0 + FAILURE_WINDOW + MINUTE)
    assert check_login(engine, "sam", PASSWORD, now=T0 + FAILURE_WINDOW + MINUTE - dt.timedelta(seconds=1)).outcome == (
        "locked"
    )
    assert check_login(engine, "sam", PASSWORD, now=T0 + FAILURE_WINDOW + MINUTE).outcome == "ok"
    # One lock entry per lock, by the name locked.
    assert [(actor, key) for actor, _, key, _ in audit_entries(engine, "lock")] == [("sam", "sam")] * 2


def test_tries_while_locked_are_refused_and_not_counted(engine: Engine, sam: users.UserInfo) -> None:
    outcomes(engine, "sam", WRONG, [T0] * MAX_FAILED_LOGINS)
    before = failures(engine)
    # The right password too: while locked, no answer says whether a password was right.
    for password, at in [(PASSWORD, T0 + MINUTE), (WRONG, T0 + 2 * MINUTE), (PASSWORD, T0 + 14 * MINUTE)]:
        result = check_login(engine, "sam", password, now=at)
        assert (result.outcome, result.locked_until) == ("locked", T0 + FAILURE_WINDOW)
    # Not counted, so the promised end holds however often someone tries.
    assert failures(engine) == before
    assert check_login(engine, "sam", PASSWORD, now=T0 + FAILURE_WINDOW).outcome == "ok"


def test_a_sign_in_clears_the_window_but_keeps_the_rows(engine: Engine, sam: users.UserInfo) -> None:
    outcomes(engine, "sam", WRONG, [T0] * 4)
    assert check_login(engine, "sam", PASSWORD, now=T0 + MINUTE).outcome == "ok"
    rows = failures(engine)
    assert len(rows) == 4 and {(row[3], row[4]) for row in rows} == {(T0 + MINUTE, "sam")}
    assert audit_entries(engine, "clear_failures") == [("sam", "user", "sam", {"failures": 4, "by": "sign_in"})]
    # Four more: still one short of a lock, as the cleared four no longer count.
    assert {outcome for outcome, _ in outcomes(engine, "sam", WRONG, [T0 + 2 * MINUTE] * 4)} == {"wrong"}
    # An ordinary sign-in with nothing to clear writes nothing.
    check_login(engine, "sam", PASSWORD, now=T0 + 3 * MINUTE)
    check_login(engine, "sam", PASSWORD, now=T0 + 4 * MINUTE)
    assert len(audit_entries(engine, "clear_failures")) == 2


def test_an_admin_unlock_clears_the_window_and_is_audited(engine: Engine, sam: users.UserInfo) -> None:
    outcomes(engine, "sam", WRONG, [T0 + dt.timedelta(seconds=s) for s in range(5)])
    assert users.unlock(engine, ADMIN, "sam", now=T0 + MINUTE) == 5
    assert {(row[3], row[4]) for row in failures(engine)} == {(T0 + MINUTE, "ada")}
    assert audit_entries(engine, "unlock") == [
        ("ada", "user", "sam", {"locked_until": (T0 + FAILURE_WINDOW).isoformat(), "failures_cleared": 5})
    ]
    assert check_login(engine, "sam", PASSWORD, now=T0 + MINUTE).outcome == "ok"
    # Before the window is full, an unlock clears what is there.
    outcomes(engine, "sam", WRONG, [T0 + 2 * MINUTE] * 3)
    assert users.unlock(engine, ADMIN, "sam", now=T0 + 2 * MINUTE) == 3
    assert outcomes(engine, "sam", WRONG, [T0 + 3 * MINUTE] * 4)[-1][0] == "wrong"


def test_a_new_password_clears_the_window(engine: Engine, sam: users.UserInfo) -> None:
    outcomes(engine, "sam", WRONG, [T0] * 5)
    users.reset_password(engine, ADMIN, "sam", "a brand new password", now=T0 + MINUTE)
    assert check_login(engine, "sam", "a brand new password", now=T0 + MINUTE).outcome == "ok"
    assert audit_entries(engine, "reset_password") == [("ada", "user", "sam", {"failures_cleared": 5})]
    outcomes(engine, "sam", WRONG, [T0 + 2 * MINUTE] * 4)
    users.change_own_password(
        engine, Actor("sam", "sales"), current="a brand new password", new="another new password", now=T0 + 3 * MINUTE
    )
    assert outcomes(engine, "sam", WRONG, [T0 + 3 * MINUTE] * 4)[-1][0] == "wrong"


def test_the_cli_lifts_a_lockout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    engine = open_database(url)
    add_user(engine)
    outcomes(engine, "sam", WRONG, [utcnow()] * 5)
    assert check_login(engine, "sam", PASSWORD).outcome == "locked"
    monkeypatch.setattr("getpass.getuser", lambda: "root")
    assert main(["--database-url", url, "unlock-user", "--username", "Sam"]) == 0
    assert capsys.readouterr().out == "unlocked sam: 5 wrong passwords cleared\n"
    assert check_login(engine, "sam", PASSWORD).outcome == "ok"
    assert audit_entries(engine, "unlock")[0][:3] == ("cli:root", "user", "sam")
    assert main(["--database-url", url, "unlock-user", "--username", "nobody"]) == 2
    assert "no user 'nobody'" in capsys.readouterr().err
    engine.dispose()


# --- the per-client limit in front of the name's window ---------------------------------------------------------


@pytest.mark.parametrize("name", ["sam", "nobody"])
def test_one_client_cannot_lock_a_name(engine: Engine, sam: users.UserInfo, name: str) -> None:
    """Lockout was a tool against an account's owner: five wrong tries from anywhere locked the only admin. One
    address now gets four, and is then refused that name without touching the name's window."""
    attacker = "203.0.113.7"
    tries = [check_login(engine, name, WRONG, client=attacker, now=T0 + MINUTE * n) for n in range(8)]
    assert [result.outcome for result in tries] == ["wrong"] * 4 + ["client_locked"] * 4
    assert tries[-1].locked_until == T0 + FAILURE_WINDOW  # when the first of the four leaves the window
    assert "from your network address" in tries[-1].message and "09:15 UTC" in tries[-1].message
    assert len(failures(engine)) == 4  # refused tries are not counted, for the name or the client
    # The right password from that address is refused too: judging it would be a fifth guess.
    assert check_login(engine, name, PASSWORD, client=attacker, now=T0 + 10 * MINUTE).outcome == "client_locked"
    if name == "sam":
        # The owner, from elsewhere, is not locked out and signs in (which clears the window).
        assert check_login(engine, "sam", PASSWORD, client="198.51.100.2", now=T0 + 10 * MINUTE).outcome == "ok"
    # The address is kept only as a keyed digest.
    with engine.connect() as connection:
        clients = set(connection.scalars(select(LoginFailure.client)))
    assert len(clients) == 1 and attacker not in next(iter(clients))


def test_the_name_still_locks_when_tries_come_from_several_clients(engine: Engine, sam: users.UserInfo) -> None:
    results = [
        check_login(engine, "sam", WRONG, client=f"203.0.113.{n % 2}", now=T0 + MINUTE * n).outcome for n in range(5)
    ]
    assert results == ["wrong"] * 4 + ["locked"]
    # Without an address (the CLI, or a visitor on the same machine) only the name's window applies, as before.
    assert check_login(engine, "sam", PASSWORD, now=T0 + 6 * MINUTE).outcome == "locked"


def test_the_per_client_window_slides(engine: Engine, sam: users.UserInfo) -> None:
    attacker = "2001:db8::1"
    for n in range(4):
        check_login(engine, "sam", WRONG, client=attacker, now=T0 + MINUTE * n)
    assert check_login(engine, "sam", WRONG, client=attacker, now=T0 + 14 * MINUTE).outcome == "client_locked"
    # At 09:15 the 09:00 failure has left: one more guess, which is wrong and counted (the name's window now has
    # four of its own within 15 minutes), and the address is refused again until 09:16.
    again = check_login(engine, "sam", WRONG, client=attacker, now=T0 + FAILURE_WINDOW)
    assert again.outcome == "wrong"
    refused = check_login(engine, "sam", WRONG, client=attacker, now=T0 + FAILURE_WINDOW)
    assert (refused.outcome, refused.locked_until) == ("client_locked", T0 + FAILURE_WINDOW + MINUTE)


def test_the_locked_message_rounds_the_end_up_to_the_minute() -> None:
    locked = users.LoginResult("locked", locked_until=dt.datetime(2026, 11, 23, 9, 14, 30))
    assert locked.message == "Too many wrong passwords: this account is locked until 09:15 UTC."
    exact = users.LoginResult("locked", locked_until=dt.datetime(2026, 11, 23, 9, 14))
    assert exact.message.endswith("locked until 09:14 UTC.")


# --- names that are no account ------------------------------------------------------------------------------------


def test_an_unknown_name_is_locked_exactly_like_a_known_one(engine: Engine, sam: users.UserInfo) -> None:
    times = [T0 + MINUTE * attempt for attempt in range(5)] + [T0 + 10 * MINUTE, T0 + FAILURE_WINDOW]
    known = outcomes(engine, "sam", WRONG, times)
    unknown = outcomes(engine, "nobody", WRONG, times)
    assert known == unknown
    assert [outcome for outcome, _ in known] == ["wrong"] * 4 + ["locked", "locked", "locked"]
    assert known[-1][1] == "Too many wrong passwords: this account is locked until 09:16 UTC."
    # The right password of someone else changes nothing for a name that is no account.
    assert check_login(engine, "nobody", PASSWORD, now=T0 + FAILURE_WINDOW).message == known[-1][1]


def test_an_unknown_name_is_kept_only_as_a_digest(engine: Engine, sam: users.UserInfo) -> None:
    # People type their password into the user-name field.
    typed = "My Secret Passphrase 7"
    outcomes(engine, typed, WRONG, [T0] * 5)
    keys = {row[0] for row in failures(engine)}
    assert len(keys) == 1 and next(iter(keys)).startswith("#")
    with engine.connect() as connection:
        stored = " ".join(str(value) for row in connection.execute(select(AuditEntry.__table__)) for value in row)
    assert "secret passphrase" not in stored.lower()
    assert [entity for _, entity, _, _ in audit_entries(engine, "lock")] == ["unknown_user"]
    # Not even the digest: ops read the audit log, and an unsalted digest of a password falls to a dictionary.
    assert next(iter(keys)) not in stored
    # Nor is the stored digest a plain hash: it is keyed by the cookie key, which the database does not hold.
    assert next(iter(keys)) != "#" + hashlib.sha256(typed.lower().encode()).hexdigest()[:40]
    assert next(iter(keys)) != "#" + hashlib.sha256(typed.encode()).hexdigest()[:40]


@pytest.mark.parametrize("name", ["sam", "nobody"])
def test_wrong_passwords_at_once_all_count_and_no_more_than_five_are_judged(
    engine: Engine, sam: users.UserInfo, name: str
) -> None:
    tries = 8
    start = threading.Barrier(tries)
    answers: list[str] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        try:
            start.wait()
            answers.append(check_login(engine, name, WRONG, now=T0).outcome)
        except BaseException as error:  # a thread's error would otherwise vanish
            errors.append(error)

    threads = [threading.Thread(target=attempt) for _ in range(tries)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    # Each of the first five is counted (none lost to another); the rest are told "locked", without a verdict.
    assert Counter(answers) == {"wrong": MAX_FAILED_LOGINS - 1, "locked": tries - MAX_FAILED_LOGINS + 1}
    assert len(failures(engine)) == MAX_FAILED_LOGINS


# --- timing ---------------------------------------------------------------------------------------------------------


def counting_checkpw(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Records the hash of every bcrypt check."""
    checked: list[bytes] = []
    real = users.bcrypt.checkpw

    def checkpw(password: bytes, hashed: bytes) -> bool:
        checked.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr(users.bcrypt, "checkpw", checkpw)
    return checked


def test_every_sign_in_runs_exactly_one_bcrypt_check_at_the_cost_of_a_real_hash(
    engine: Engine, sam: users.UserInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(engine, "kim", "ops")
    users.set_active(engine, ADMIN, "kim", False)
    add_user(engine, "lou", "exec")
    outcomes(engine, "lou", WRONG, [T0] * 5)
    outcomes(engine, "locked-nobody", WRONG, [T0] * 5)
    checked = counting_checkpw(monkeypatch)
    cases = {
        ("sam", WRONG): "wrong",
        ("nobody", WRONG): "wrong",
        ("nobody", PASSWORD): "wrong",
        ("kim", PASSWORD): "inactive",
        ("kim", WRONG): "wrong",
        ("lou", PASSWORD): "locked",
        ("lou", WRONG): "locked",
        ("locked-nobody", PASSWORD): "locked",
        ("sam", PASSWORD): "ok",
    }
    for (name, password), expected in cases.items():
        checked.clear()
        assert check_login(engine, name, password, now=T0 + MINUTE).outcome == expected, name
        assert len(checked) == 1, (name, password)
        # The cost is in the hash: an unknown name's check costs what a real one does.
        assert checked[0].startswith(f"$2b${users.BCRYPT_ROUNDS:02d}$".encode()), (name, checked[0])


def test_an_unknown_name_takes_as_long_as_a_known_one(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A realistic cost (60 ms here), so that bcrypt, not the database, is what the medians measure.
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 10)
    add_user(engine)
    check_login(engine, "sam", WRONG, now=T0)  # warm up: the dummy hash, the connection pool
    check_login(engine, "nobody", WRONG, now=T0)
    rounds = 15
    ratios = {}
    for state, password in (("wrong", WRONG), ("locked", PASSWORD)):
        known: list[float] = []
        unknown: list[float] = []
        # Far apart, so that the failures of one part are not in the other's window.
        start = T0 + 100 * FAILURE_WINDOW if state == "locked" else T0 + FAILURE_WINDOW
        if state == "locked":
            outcomes(engine, "sam", WRONG, [start] * MAX_FAILED_LOGINS)
            outcomes(engine, "nobody", WRONG, [start] * MAX_FAILED_LOGINS)
        for attempt in range(rounds):
            # Every wrong try in a window of its own, so that each is judged and counted; locked tries in the lock.
            now = start + attempt * (FAILURE_WINDOW + MINUTE) if state == "wrong" else start + attempt * 0.5 * MINUTE
            pair = [("sam", known), ("nobody", unknown)]
            for name, samples in pair if attempt % 2 else reversed(pair):
                started = time.perf_counter()
                result = check_login(engine, name, password, now=now)
                samples.append(time.perf_counter() - started)
                assert result.outcome == state
        ratios[state] = statistics.median(unknown) / statistics.median(known)
        with capsys.disabled():
            print(
                f"\n{engine.dialect.name} {state}: known {statistics.median(known) * 1000:.1f} ms, "
                f"unknown {statistics.median(unknown) * 1000:.1f} ms, ratio {ratios[state]:.2f}"
            )
    assert all(0.7 < ratio < 1.4 for ratio in ratios.values()), ratios


# --- passwords bcrypt cannot take ----------------------------------------------------------------------------------


def test_passwords_longer_than_bcrypt_reads(engine: Engine, sam: users.UserInfo) -> None:
    # bcrypt 5 raises on more than 72 bytes: refused when set, a plain wrong password when typed, never a crash.
    with pytest.raises(UserError, match="at most 72 bytes"):
        users.reset_password(engine, ADMIN, "sam", "é" * 37)
    users.reset_password(engine, ADMIN, "sam", "x" * 72)
    assert check_login(engine, "sam", "x" * 72).outcome == "ok"
    # Not the first 72 bytes and then anything.
    assert check_login(engine, "sam", "x" * 73).outcome == "wrong"
    assert check_login(engine, "nobody", "x" * 500).outcome == "wrong"
    with pytest.raises(UserError, match="at most 72 bytes"):
        users.change_own_password(engine, Actor("sam", "sales"), current="x" * 72, new="y" * 73)


# --- randomness -----------------------------------------------------------------------------------------------------

# Randomness that guards nothing, each with why. Anything else that needs randomness takes it from `secrets`.
NOT_SECRET = {
    "core/db.py": "jitter between retries of a transaction after a deadlock",
    "sample_data/generate.py": "a seeded numpy generator of the synthetic sample company",
    "sample_data/generate_survey.py": "a seeded generator of the sample survey answers",
    "bench/load.py": "think times of the simulated users of the load test",
}
# Tests may use any randomness; the environment and generated data are not the project's code.
NOT_SCANNED = {".venv", ".git", "tests", "data", "out", "node_modules", ".mypy_cache", ".ruff_cache"}


def insecure_randomness(source: str) -> list[str]:
    """Where a module takes randomness from `random` or `numpy.random` (both predictable: not for secrets)."""
    found = []
    numpy_names = set()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "random" or alias.name.startswith("numpy.random"):
                    found.append(f"line {node.lineno}: import {alias.name}")
                if alias.name == "numpy":
                    numpy_names.add(alias.asname or "numpy")
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module == "random" or module.startswith("numpy.random"):
                found.append(f"line {node.lineno}: from {module} import …")
            if module == "numpy" and any(alias.name == "random" for alias in node.names):
                found.append(f"line {node.lineno}: from numpy import random")
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "random"
            and isinstance(node.value, ast.Name)
            and node.value.id in numpy_names
        ):
            found.append(f"line {node.lineno}: {node.value.id}.random")
    return found


def project_modules() -> Iterator[tuple[str, str]]:
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if not NOT_SCANNED.intersection(relative.parts[:-1]):
            yield relative.as_posix(), path.read_text(encoding="utf-8")


def test_the_randomness_detector_finds_every_spelling() -> None:
    flagged = [
        "import random",
        "import random as r",
        "from random import choice",
        "import numpy.random",
        "from numpy import random",
        "from numpy.random import default_rng",
        "import numpy as np\nrng = np.random.default_rng()",
        "import numpy\nnumpy.random.seed(1)",
    ]
    for source in flagged:
        assert insecure_randomness(source), source
    clean = [
        "import secrets",
        "import os\nos.urandom(16)",
        "rng = make()\nrng.random(3)",
        "import numpy as np\nnp.ones(2)",
    ]
    for source in clean:
        assert not insecure_randomness(source), source


def test_no_module_takes_randomness_from_random_except_where_nothing_is_secret() -> None:
    modules = dict(project_modules())
    assert {"app.py", "core/admin/users.py", "ui/auth.py", "pages/users.py"} <= set(modules)
    offenders = {path: found for path, source in modules.items() if (found := insecure_randomness(source))}
    unexplained = {path: found for path, found in offenders.items() if path not in NOT_SECRET}
    assert not unexplained, "take secrets from `secrets`, or add the module to NOT_SECRET saying why it guards nothing"


# streamlit-authenticator 0.4.2 makes passwords, two-factor codes and captchas with `random.choice` (its
# utilities/helpers.py): the flows that do so are not used; the app signs in with core and uses the library's cookie.
LIBRARY_RANDOM_FLOWS = {
    "login",
    "forgot_password",
    "forgot_username",
    "register_user",
    "generate_two_factor_auth_code",
    "generate_random_string",
    "generate_captcha",
    "Helpers",
}


def test_the_library_flows_that_make_codes_with_random_are_not_used() -> None:
    users_of_library = {path: source for path, source in project_modules() if "streamlit_authenticator" in source}
    assert "ui/auth.py" in users_of_library
    for path, source in users_of_library.items():
        names = {node.attr for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Attribute)}
        names |= {
            alias.name
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        assert not names & LIBRARY_RANDOM_FLOWS, (path, names & LIBRARY_RANDOM_FLOWS)


def test_the_secret_core_makes_comes_from_secrets(monkeypatch: pytest.MonkeyPatch, engine: Engine) -> None:
    # The only secret core makes itself (bcrypt salts come from the operating system inside bcrypt): the password of
    # the hash an unknown name is checked against.
    made: list[int] = []
    real = users.secrets.token_bytes

    def token_bytes(count: int) -> bytes:
        made.append(count)
        return real(count)

    monkeypatch.setattr(users.secrets, "token_bytes", token_bytes)
    monkeypatch.setattr(users, "BCRYPT_ROUNDS", 5)  # a cost no other test has asked for: made afresh here
    users._dummy_hash.cache_clear()
    check_login(engine, "nobody", WRONG)
    assert made == [32]
    users._dummy_hash.cache_clear()


# --- sessions after sign-out, password change and deactivation ------------------------------------------------------


def before_and_after(change: Callable[[], None]) -> tuple[dt.datetime, dt.datetime]:
    before = utcnow()
    time.sleep(0.002)
    change()
    time.sleep(0.002)
    return before, utcnow()


@pytest.mark.parametrize("event", ["sign_out", "change_password", "reset_password", "deactivate"])
def test_a_cookie_from_before_the_event_is_refused_and_one_from_after_accepted(
    engine: Engine, sam: users.UserInfo, event: str
) -> None:
    changes: dict[str, Callable[[], None]] = {
        "sign_out": lambda: users.end_sessions(engine, "sam"),
        "change_password": lambda: users.change_own_password(
            engine, Actor("sam", "sales"), current=PASSWORD, new="a brand new password"
        ),
        "reset_password": lambda: users.reset_password(engine, ADMIN, "sam", "a brand new password"),
        "deactivate": lambda: users.set_active(engine, ADMIN, "sam", False),
    }
    assert users.session_is_valid(users.get_user(engine, "sam"), utcnow())  # type: ignore[arg-type]
    before, after = before_and_after(changes[event])
    info = users.get_user(engine, "sam")
    assert info is not None and not users.session_is_valid(info, before)
    if event == "deactivate":
        # No cookie at all while deactivated; after reactivation only new ones.
        assert not users.session_is_valid(info, after)
        users.set_active(engine, ADMIN, "sam", True)
        info = users.get_user(engine, "sam")
        assert info is not None and not users.session_is_valid(info, before)
    assert users.session_is_valid(info, after)


@pytest.fixture
def app_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ONEFUNNEL_COOKIE_KEY", COOKIE_KEY)
    monkeypatch.delenv("ONEFUNNEL_DEMO", raising=False)
    monkeypatch.setattr(config, "_secrets_files", lambda: [])
    st.cache_resource.clear()
    st.cache_data.clear()
    engine = open_database(url)
    add_user(engine, "erin", "exec")
    yield engine
    engine.dispose()
    st.cache_resource.clear()
    st.cache_data.clear()


COOKIE_KEY = TEST_COOKIE_KEY
APP = str(ROOT / "app.py")


def cookie_token(
    issued: dt.datetime, key: str = COOKIE_KEY, *, lifetime: dt.timedelta = dt.timedelta(days=1), **claims: object
) -> str:
    """A login cookie for erin as the app signs it at `issued` (naive UTC); `claims` add or replace fields."""
    issued_at = issued.replace(tzinfo=dt.UTC).timestamp()
    payload = {"username": "erin", "iat": issued_at, "exp_date": issued_at + lifetime.total_seconds(), **claims}
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, key, algorithm="HS256")


def browser_with_cookie(
    monkeypatch: pytest.MonkeyPatch, issued: dt.datetime, key: str = COOKIE_KEY, token: str | None = None
) -> None:
    """The next app run sees a login cookie for erin, signed at `issued` (or `token` itself); AppTest cannot send
    cookies, so the request's client context is replaced."""
    cookies = {COOKIE_NAME: token or cookie_token(issued, key)}
    context = SimpleNamespace(cookies=cookies, headers={}, ip_address=None, url="http://localhost:8501/")
    monkeypatch.setattr("streamlit.runtime.context._get_client_context", lambda: context)


def signed_in(app: AppTest) -> bool:
    app.run()
    assert not app.exception, [exception.message for exception in app.exception]
    return bool(app.sidebar.markdown) and "Erin" in app.sidebar.markdown[0].value


def test_the_app_refuses_a_cookie_issued_before_sign_out(app_database: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    browser_with_cookie(monkeypatch, utcnow() - MINUTE)
    assert signed_in(AppTest.from_file(APP, default_timeout=60))
    users.end_sessions(app_database, "erin")
    app = AppTest.from_file(APP, default_timeout=60)
    assert not signed_in(app) and app.text_input(key="sign_in_username") is not None
    browser_with_cookie(monkeypatch, utcnow() + dt.timedelta(seconds=1))
    assert signed_in(AppTest.from_file(APP, default_timeout=60))
    # A cookie signed with another key is no cookie.
    browser_with_cookie(monkeypatch, utcnow(), key=TEST_COOKIE_KEY[::-1])
    assert not signed_in(AppTest.from_file(APP, default_timeout=60))


def account_page(engine: Engine) -> AppTest:
    """A browser session in which erin is signed in, on a page whose guard re-reads her every run."""
    page = AppTest.from_file(str(ROOT / "pages" / "account.py"), default_timeout=60)
    page.session_state[USER_KEY] = users.get_user(engine, "erin")
    page.run()
    assert page.title[0].value == "Your account"
    return page


@pytest.mark.parametrize("event", ["sign_out", "password_changed"])
def test_an_open_session_ends_on_sign_out_or_a_password_change_elsewhere(app_database: Engine, event: str) -> None:
    other_browser = account_page(app_database)
    time.sleep(0.002)
    if event == "sign_out":
        users.end_sessions(app_database, "erin")
    else:
        users.change_own_password(app_database, Actor("erin", "exec"), current=PASSWORD, new="a brand new password")
    other_browser.run()
    assert not other_browser.title
    assert [warning.value for warning in other_browser.warning] == ["Please sign in on the OneFunnel home page."]


def test_changing_the_password_keeps_this_session(app_database: Engine) -> None:
    page = account_page(app_database)
    time.sleep(0.002)
    page.text_input(key="account_current").input(PASSWORD)
    page.text_input(key="account_new").input("a brand new password")
    page.text_input(key="account_repeat").input("a brand new password")
    page.button[0].click()
    page.run()
    assert page.success[0].value.startswith("Password changed.")
    page.run()  # the next run, e.g. the cookie component's
    assert page.title and page.title[0].value == "Your account"


def test_the_admin_page_shows_a_lock_and_lifts_it(app_database: Engine) -> None:
    add_user(app_database, "ada", "admin")
    outcomes(app_database, "erin", WRONG, [utcnow()] * MAX_FAILED_LOGINS)
    page = AppTest.from_file(str(ROOT / "pages" / "users.py"), default_timeout=60)
    page.session_state[USER_KEY] = users.get_user(app_database, "ada")
    page.run()
    table_ = page.dataframe[0].value.set_index("User name")["Locked until (UTC)"]
    assert (table_ == MISSING).to_dict() == {"ada": True, "erin": False}
    page.selectbox(key="change_username").select("erin")
    page.run()
    page.button(key="unlock").click()
    page.run()
    assert page.success[0].value == "Erin may try to sign in again now (5 wrong passwords cleared)."
    assert (page.dataframe[0].value["Locked until (UTC)"] == MISSING).all()
    assert check_login(app_database, "erin", PASSWORD).outcome == "ok"
    assert audit_entries(app_database, "unlock")[0][:3] == ("ada", "user", "erin")


# --- the migration from the old counter -----------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with empty_database(request.param, tmp_path) as engine:
        yield engine


def test_the_migration_carries_the_old_counter_over_and_back(empty_engine: Engine) -> None:
    config_ = alembic_config(empty_engine)
    command.upgrade(config_, "0007")
    locked_until = utcnow() + 10 * MINUTE
    with empty_engine.begin() as connection:
        for username, failed, until in [("lee", 0, locked_until), ("max", 3, None), ("ned", 0, None)]:
            connection.execute(
                text(
                    "INSERT INTO users (username, name, email, role, password_hash, active, failed_logins, "
                    "locked_until, created_at, updated_at) VALUES (:u, :u, :e, 'exec', :h, :a, :f, :l, :t, :t)"
                ),
                {
                    "u": username,
                    "e": f"{username}@example.com",
                    "h": users.hash_password(PASSWORD),
                    "a": True,
                    "f": failed,
                    "l": until,
                    "t": utcnow(),
                },
            )
    upgrade(empty_engine)
    assert {column["name"] for column in inspect(empty_engine).get_columns("users")}.isdisjoint(
        {"failed_logins", "locked_until"}
    )
    assert Counter((row[0], row[2]) for row in failures(empty_engine)) == {
        ("lee", "migrated"): 5,
        ("max", "migrated"): 3,
    }
    # The running lock ends when it did; the unfinished count needs two more, not five.
    assert users.get_user(empty_engine, "lee").locked_until == locked_until  # type: ignore[union-attr]
    assert check_login(empty_engine, "lee", PASSWORD).outcome == "locked"
    assert [check_login(empty_engine, "max", WRONG).outcome for _ in range(2)] == ["wrong", "locked"]
    assert check_login(empty_engine, "ned", PASSWORD).outcome == "ok"
    assert [key for _, _, key, _ in audit_entries(empty_engine, "carry_over_failures")] == ["lee", "max"]

    users.unlock(empty_engine, ADMIN, "max")
    check_login(empty_engine, "max", WRONG)
    command.downgrade(config_, "0007")
    assert "login_failures" not in inspect(empty_engine).get_table_names()
    old_users = table("users", column("username"), column("failed_logins"), column("locked_until", DateTime))
    with empty_engine.connect() as connection:
        back = {row[0]: (row[1], row[2]) for row in connection.execute(select(old_users))}
    assert back == {"lee": (0, locked_until), "max": (1, None), "ned": (0, None)}
    upgrade(empty_engine)  # and up again
    assert users.get_user(empty_engine, "lee").locked_until == locked_until  # type: ignore[union-attr]


def test_a_clean_sign_in_does_not_wait_for_the_write_lock(
    engine: Engine, sam: users.UserInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An import merging holds SQLite's write lock for seconds: the right password still signs in at once;
    a wrong one, which must be recorded, waits its turn."""
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite's single write lock")
    import sqlite3

    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 1)
    engine.dispose()  # new connections take the shorter busy timeout
    holder = sqlite3.connect(str(engine.url.database), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert check_login(engine, "sam", PASSWORD, now=T0).outcome == "ok"
        with pytest.raises(OperationalError, match="locked"):
            check_login(engine, "sam", WRONG, now=T0)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()


def forged(algorithm: str) -> str:
    """A cookie for erin that is no HS256 token of ours: unsigned, or signed by another algorithm."""
    claims = {"username": "erin", "iat": utcnow().replace(tzinfo=dt.UTC).timestamp(), "exp_date": 4_102_444_800}
    if algorithm == "none":
        return jwt.encode(claims, None, algorithm="none")
    return jwt.encode(claims, COOKIE_KEY + "-longer-for-hs512" * 4, algorithm=algorithm)


@pytest.mark.parametrize(
    "token",
    [
        # Issued now, but valid until 2100: a lifetime that is not the app's (it would outlive every sign-out).
        cookie_token(utcnow(), lifetime=dt.timedelta(days=365 * 75)),
        cookie_token(utcnow(), iat=None),  # no issue time of its own: the old shape, inferred from the expiry
        cookie_token(utcnow() + dt.timedelta(days=30)),  # issued in the future
        cookie_token(utcnow() - dt.timedelta(days=2)),  # expired
        forged("none"),
        forged("HS512"),
    ],
    ids=["far-future expiry", "no issue time", "issued in the future", "expired", "alg none", "alg HS512"],
)
def test_a_cookie_that_is_not_ours_is_no_cookie_and_no_error(
    app_database: Engine, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    browser_with_cookie(monkeypatch, utcnow(), token=token)
    app = AppTest.from_file(APP, default_timeout=60)
    assert not signed_in(app)  # no exception either: the sign-in form, not an error page
    assert app.text_input(key="sign_in_username") is not None
