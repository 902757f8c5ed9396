"""Users, passwords and sign-in checks, kept in the one database so that every replica agrees.

Passwords are bcrypt hashes (the format streamlit-authenticator 0.4.2 checks). Every wrong password is a row of
`login_failures`, whichever browser or replica it comes from. A name with MAX_FAILED_LOGINS of them within the
last FAILURE_WINDOW is locked until the oldest of those leaves the window, so that nobody gets more than
MAX_FAILED_LOGINS guesses in any FAILURE_WINDOW; tries while locked are answered "locked" and not counted, since
they judge no password. A sign-in, a new password or an admin's unlock clears the window: its rows stay, marked
cleared and by whom.

A name that is no account is treated like one that is: its failures count and lock it the same way, and every
sign-in runs exactly one bcrypt check at the cost of a real hash, so neither the answers nor their timing tell
which names exist.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal, cast

import bcrypt
from sqlalchemy import CursorResult, Engine, select, text, update
from sqlalchemy.orm import Session

from core import audit
from core.config import DEMO_COOKIE_KEY, demo_mode, secret
from core.db import read_scope, retrying, session_scope
from core.models import LoginFailure, User, utcnow
from core.permissions import ROLES, Actor, Role, require

MAX_FAILED_LOGINS = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
MINUTE = dt.timedelta(minutes=1)
# In front of the name's window: one client gets one guess fewer on a name than it takes to lock the name, so no
# single address can lock an account (the only admin's, say) and lockout stops being a tool against its owner.
MAX_FAILED_LOGINS_PER_CLIENT = MAX_FAILED_LOGINS - 1
MIN_PASSWORD_LENGTH = 10
# bcrypt reads no more than this; bcrypt 5 refuses a longer password instead of cutting it.
MAX_PASSWORD_BYTES = 72
BCRYPT_ROUNDS = 12  # bcrypt's default work factor; tests lower it
# The first key of PostgreSQL's two-key advisory locks, a key space apart from the migrations' one-key lock.
_SIGN_IN_LOCK_SPACE = 4_242_002
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

LoginOutcome = Literal["ok", "wrong", "locked", "client_locked", "inactive", "demo"]


class UserError(ValueError):
    """A bad user name, e-mail, role or password; nothing was changed."""


@dataclass(frozen=True)
class UserInfo:
    username: str
    name: str
    email: str
    role: Role
    active: bool
    locked_until: dt.datetime | None  # None unless locked now
    sessions_valid_after: dt.datetime | None
    demo: bool = False  # a demo account: usable in demo mode only

    @property
    def usable(self) -> bool:
        """Active, and not a demo account outside demo mode (its password is published)."""
        return self.active and (not self.demo or demo_mode())

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.role)


@dataclass(frozen=True)
class LoginResult:
    outcome: LoginOutcome
    user: UserInfo | None = None
    locked_until: dt.datetime | None = None

    @property
    def message(self) -> str:
        if self.outcome == "ok":
            return "Signed in."
        # Rounded up: at the minute shown the lock is over, never a few seconds short of it.
        shown = (
            None if self.locked_until is None else self.locked_until + (dt.datetime.min - self.locked_until) % MINUTE
        )
        if self.outcome == "locked" and shown is not None:
            return f"Too many wrong passwords: this account is locked until {shown:%H:%M} UTC."
        if self.outcome == "client_locked" and shown is not None:
            return (
                "Too many wrong passwords for this user name from your network address: "
                f"try again after {shown:%H:%M} UTC, or from another device."
            )
        if self.outcome == "inactive":
            return "This account has been deactivated; ask an admin."
        if self.outcome == "demo":
            return "Demo accounts sign in only in demo mode; ask an admin for an account of your own."
        return "Wrong user name or password."


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise UserError(
            f"a password can have at most {MAX_PASSWORD_BYTES} bytes (as many plain letters, fewer accented ones)"
        )


@functools.cache
def _dummy_hash(rounds: int) -> bytes:
    """Checked when the name is no account, at the cost of a real hash, so that it takes as long as a real check.
    Its password is random so that no typed password matches it."""
    return bcrypt.hashpw(secrets.token_bytes(32), bcrypt.gensalt(rounds))


def _password_matches(password: str, stored: bytes) -> bool:
    """The one bcrypt check of a sign-in or a password change."""
    typed = password.encode()
    # No stored password is longer than bcrypt reads (see _check_password): a longer one is wrong, after the same
    # check as any other, and does not make bcrypt raise.
    return bcrypt.checkpw(typed[:MAX_PASSWORD_BYTES], stored) and len(typed) <= MAX_PASSWORD_BYTES


def _info(user: User, locked_until: dt.datetime | None) -> UserInfo:
    return UserInfo(
        user.username,
        user.name,
        user.email,
        user.role,  # type: ignore[arg-type]
        user.active,
        locked_until,
        user.sessions_valid_after,
        bool(user.demo),
    )


def _usable(user: User) -> bool:
    return bool(user.active) and (not user.demo or demo_mode())


def _get(session: Session, username: str) -> User:
    user = session.get(User, username.strip().lower())
    if user is None:
        raise UserError(f"no user {username!r}")
    return user


def _failure_key(name: str, known: bool) -> str:
    """What a name's failures are counted under: an account's user name, or for a name that is no account a digest,
    because people type passwords into the user-name field and those must not be kept readable. The digest is keyed
    by the cookie key, which is not in the database: a plain hash of a typed password falls to a dictionary in the
    hands of anyone who can read the table. Every replica shares the key, so a name's window holds across them. A
    user name never holds '#', so the two cannot meet."""
    return name if known else "#" + _keyed_digest(name)


def _keyed_digest(value: str) -> str:
    pepper = (secret("ONEFUNNEL_COOKIE_KEY") or DEMO_COOKIE_KEY).encode()
    return hmac.new(pepper, value.encode(), hashlib.sha256).hexdigest()[:40]


def _client_key(address: str | None) -> str | None:
    """A client's address as it is kept: a keyed digest (an address is personal data and the table is read by
    admins), or None where the caller knows no address (the CLI)."""
    return None if not address else _keyed_digest(address.strip().lower())


def _take_turns(session: Session, name: str) -> None:
    """Sign-ins and password changes for one name run one at a time, so that of many tries at once only the first
    MAX_FAILED_LOGINS are judged and the rest are told the name is locked. SQLite's write transactions already run
    one at a time (BEGIN IMMEDIATE). PostgreSQL takes an advisory lock on the name until the transaction ends: not a
    lock on the user's row, because a name that is no account has none and must behave the same."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big", signed=True)
        session.execute(
            text("SELECT pg_advisory_xact_lock(CAST(:space AS integer), CAST(:key AS integer))"),
            {"space": _SIGN_IN_LOCK_SPACE, "key": key},
        )


def _in_window(key: str, now: dt.datetime) -> tuple[Any, ...]:
    # No upper bound: a failure stamped a moment ahead by another replica's clock still counts.
    return (LoginFailure.username == key, LoginFailure.cleared_at.is_(None), LoginFailure.at > now - FAILURE_WINDOW)


def _lock_end(
    session: Session, key: str, now: dt.datetime, *, client: str | None = None, limit: int = MAX_FAILED_LOGINS
) -> dt.datetime | None:
    """When the lock on `key` ends: when the oldest of its newest `limit` failures leaves the window; None if the
    window holds fewer. With a `client`, only that client's failures count (the per-client limit)."""
    where = [*_in_window(key, now)] + ([LoginFailure.client == client] if client is not None else [])
    oldest = session.scalar(
        select(LoginFailure.at).where(*where).order_by(LoginFailure.at.desc()).offset(limit - 1).limit(1)
    )
    return None if oldest is None else oldest + FAILURE_WINDOW


def _lock_ends(session: Session, now: dt.datetime) -> dict[str, dt.datetime]:
    """`_lock_end` of every locked account at once, for the admin's list."""
    stamps: dict[str, list[dt.datetime]] = {}
    rows = session.execute(
        select(LoginFailure.username, LoginFailure.at).where(
            LoginFailure.cleared_at.is_(None),
            LoginFailure.at > now - FAILURE_WINDOW,
            LoginFailure.username.in_(select(User.username)),
        )
    )
    for username, at in rows:
        stamps.setdefault(username, []).append(at)
    return {
        username: sorted(ats, reverse=True)[MAX_FAILED_LOGINS - 1] + FAILURE_WINDOW
        for username, ats in stamps.items()
        if len(ats) >= MAX_FAILED_LOGINS
    }


def _count_failure(
    session: Session, key: str, *, known: bool, via: str, now: dt.datetime, client: str | None = None
) -> LoginResult:
    """One more wrong password for `key`; the one that fills the window locks it (audited)."""
    session.add(LoginFailure(username=key, at=now, via=via, client=client))
    session.flush()
    until = _lock_end(session, key, now)
    if until is None:
        return LoginResult("wrong")
    # A name that is no account may be a password typed into the wrong field: the audit log, which ops read,
    # keeps not even its digest (an unsalted digest of a password falls to a dictionary).
    audit.record(
        session,
        actor=key if known else "(a name that is no account)",
        action="lock",
        entity="user" if known else "unknown_user",
        entity_key=key if known else None,
        detail={"until": until.isoformat()},
    )
    return LoginResult("locked", locked_until=until)


def _clear_failures(session: Session, key: str, now: dt.datetime, by: str) -> int:
    """Marks the failures in `key`'s window cleared; the caller audits. Returns how many."""
    result = session.execute(
        update(LoginFailure)
        .where(*_in_window(key, now))
        .values(cleared_at=now, cleared_by=by)
        .execution_options(synchronize_session=False)
    )
    return int(cast("CursorResult[Any]", result).rowcount)


def get_user(engine: Engine, username: str) -> UserInfo | None:
    with read_scope(engine) as session:
        user = session.get(User, username.strip().lower())
        return None if user is None else _info(user, _lock_end(session, user.username, utcnow()))


def list_users(engine: Engine, actor: Actor) -> list[UserInfo]:
    """Everyone with an account, for the admin page (names and e-mails are not for every role)."""
    require(actor, "manage")
    with read_scope(engine) as session:
        locked = _lock_ends(session, utcnow())
        people = session.scalars(select(User).order_by(User.active.desc(), User.username))
        return [_info(user, locked.get(user.username)) for user in people]


def create_user(
    engine: Engine,
    actor: Actor,
    *,
    username: str,
    name: str,
    email: str,
    role: str,
    password: str,
    demo: bool = False,
) -> UserInfo:
    require(actor, "manage")
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise UserError("a user name is 2–64 lower-case letters, digits, dots, dashes or underscores")
    if not name.strip():
        raise UserError("a user needs a name")
    if not _EMAIL.match(email.strip()):
        raise UserError(f"{email!r} is not an e-mail address")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    _check_password(password)
    return _insert_user(
        engine, actor, username, name.strip(), email.strip().lower(), role, hash_password(password), demo=demo
    )


@retrying
def _insert_user(
    engine: Engine,
    actor: Actor,
    username: str,
    name: str,
    email: str,
    role: str,
    password_hash: str,
    *,
    demo: bool = False,
) -> UserInfo:
    # Hashed by the caller: a quarter second of bcrypt is not spent holding the write lock, nor again on a retry.
    with session_scope(engine) as session:
        if session.get(User, username) is not None:
            raise UserError(f"the user name {username!r} is taken")
        if session.scalar(select(User.username).where(User.email == email)) is not None:
            raise UserError(f"another user has the e-mail {email!r}")
        now = utcnow()
        user = User(
            username=username,
            name=name,
            email=email,
            role=role,
            password_hash=password_hash,
            active=True,
            created_at=now,
            updated_at=now,
            demo=demo,
        )
        session.add(user)
        session.flush()
        audit.record(
            session,
            actor=actor.username,
            action="create",
            entity="user",
            entity_key=username,
            # No e-mail: ops read the audit log, and addresses are for admins only (list_users).
            detail={"role": role, "name": user.name, **({"demo": True} if demo else {})},
        )
        return _info(user, None)


def check_login(
    engine: Engine, username: str, password: str, *, client: str | None = None, now: dt.datetime | None = None
) -> LoginResult:
    """Checks a password and counts a wrong one in the database. `client` is the address the try came from: a
    client with MAX_FAILED_LOGINS_PER_CLIENT failures on a name within the window is refused that name until the
    oldest leaves it, before the name's own window is touched.

    Exactly one bcrypt check, whether the name is an account or not, active or not, locked or not: a locked name
    answering at once, or an unknown one, would tell itself apart by its timing. The check runs outside any
    transaction, so that no lock is held for its quarter second; what it found is judged afterwards in a short
    transaction that takes turns per name (`_judge_sign_in`)."""
    name = username.strip().lower()
    with read_scope(engine) as session:
        stored = session.scalar(select(User.password_hash).where(User.username == name))
    # Made (once) on every first sign-in, not only an unknown name's: making it takes as long as a check.
    dummy = _dummy_hash(BCRYPT_ROUNDS)
    matches = _password_matches(password, stored.encode() if stored is not None else dummy)
    if matches and stored is not None:
        clean = _clean_sign_in(engine, name, stored, now or utcnow())
        if clean is not None:
            return clean
    return _judge_sign_in(engine, name, stored, matches, now, _client_key(client))


def _clean_sign_in(engine: Engine, name: str, checked_hash: str, now: dt.datetime) -> LoginResult | None:
    """The usual case, the right password of an active account with no failures to clear, answered by a read:
    a sign-in then never waits for SQLite's write lock (held by an import's merge, say). None: anything else,
    which `_judge_sign_in` decides in a write transaction. A wrong try that lands meanwhile is simply not cleared,
    as if it had come a moment after this sign-in."""
    with read_scope(engine) as session:
        user = session.get(User, name)
        if user is None or not _usable(user) or user.password_hash != checked_hash:
            return None
        if session.scalar(select(LoginFailure.id).where(*_in_window(name, now)).limit(1)) is not None:
            return None
        return LoginResult("ok", _info(user, None))


@retrying
def _judge_sign_in(
    engine: Engine,
    name: str,
    checked_hash: str | None,
    matches: bool,
    now: dt.datetime | None,
    client: str | None = None,
) -> LoginResult:
    now = now or utcnow()
    with session_scope(engine) as session:
        _take_turns(session, name)
        user = session.get(User, name)
        key = _failure_key(name, known=user is not None)
        until = _lock_end(session, key, now)
        if until is not None:
            return LoginResult("locked", locked_until=until)
        # Refused like a lock, right password or not: judging it would give this client one more guess.
        client_until = (
            None if client is None else _lock_end(session, key, now, client=client, limit=MAX_FAILED_LOGINS_PER_CLIENT)
        )
        if client_until is not None:
            return LoginResult("client_locked", locked_until=client_until)
        # A password changed since it was read was checked against the old hash: wrong, like any other.
        if user is None or not matches or user.password_hash != checked_hash:
            return _count_failure(session, key, known=user is not None, via="sign_in", now=now, client=client)
        if not user.active:
            return LoginResult("inactive")
        if not _usable(user):
            return LoginResult("demo")
        cleared = _clear_failures(session, key, now, by=user.username)
        if cleared:
            audit.record(
                session,
                actor=user.username,
                action="clear_failures",
                entity="user",
                entity_key=user.username,
                detail={"failures": cleared, "by": "sign_in"},
            )
        return LoginResult("ok", _info(user, None))


def change_own_password(
    engine: Engine, actor: Actor, *, current: str, new: str, now: dt.datetime | None = None
) -> None:
    """A wrong current password counts towards the sign-in lockout: an unattended, signed-in browser
    must not allow unlimited guesses."""
    _check_password(new)
    with read_scope(engine) as session:
        stored = session.scalar(select(User.password_hash).where(User.username == actor.username))
    if stored is None:
        raise UserError(f"no user {actor.username!r}")
    matches = _password_matches(current, stored.encode())
    refusal = _judge_password_change(engine, actor, stored, matches, hash_password(new) if matches else "", now)
    # Raised here, after the transaction, so that the counted failure is committed, not rolled back.
    if refusal is not None:
        raise UserError(refusal)


@retrying
def _judge_password_change(
    engine: Engine, actor: Actor, checked_hash: str, matches: bool, new_hash: str, now: dt.datetime | None
) -> str | None:
    now = now or utcnow()
    with session_scope(engine) as session:
        _take_turns(session, actor.username)
        user = _get(session, actor.username)
        until = _lock_end(session, user.username, now)
        if until is not None:
            return LoginResult("locked", locked_until=until).message
        if not matches or user.password_hash != checked_hash:
            outcome = _count_failure(session, user.username, known=True, via="change_password", now=now)
            return "the current password is wrong" if outcome.outcome == "wrong" else outcome.message
        _set_password(session, user, new_hash, actor, "change_password", now)
        return None


def reset_password(engine: Engine, actor: Actor, username: str, new: str, *, now: dt.datetime | None = None) -> None:
    require(actor, "manage")
    _check_password(new)
    _store_reset(engine, actor, username, hash_password(new), now)


@retrying
def _store_reset(engine: Engine, actor: Actor, username: str, new_hash: str, now: dt.datetime | None) -> None:
    with session_scope(engine) as session:
        _take_turns(session, username.strip().lower())
        _set_password(session, _get(session, username), new_hash, actor, "reset_password", now or utcnow())


def _set_password(session: Session, user: User, new_hash: str, actor: Actor, action: str, now: dt.datetime) -> None:
    """A new password also clears the failure window (whoever set it knows it), and signs out every other browser."""
    user.password_hash = new_hash
    user.updated_at = utcnow()
    # The real time, not `now`: it is compared with when cookies were issued.
    user.sessions_valid_after = user.updated_at
    cleared = _clear_failures(session, user.username, now, by=actor.username)
    audit.record(
        session,
        actor=actor.username,
        action=action,
        entity="user",
        entity_key=user.username,
        detail={"failures_cleared": cleared} if cleared else None,
    )


@retrying
def set_active(engine: Engine, actor: Actor, username: str, active: bool) -> None:
    require(actor, "manage")
    if username.strip().lower() == actor.username and not active:
        raise UserError("you cannot deactivate yourself")
    with session_scope(engine) as session:
        user = _get(session, username)
        user.active = active
        user.updated_at = utcnow()
        if not active:
            user.sessions_valid_after = user.updated_at
        audit.record(
            session,
            actor=actor.username,
            action="activate" if active else "deactivate",
            entity="user",
            entity_key=user.username,
        )


@retrying
def set_role(engine: Engine, actor: Actor, username: str, role: str) -> None:
    require(actor, "manage")
    if role not in ROLES:
        raise UserError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if username.strip().lower() == actor.username and role != actor.role:
        # Another admin must do it, so that the last admin cannot lock everyone out of user management.
        raise UserError("you cannot change your own role")
    with session_scope(engine) as session:
        user = _get(session, username)
        before = user.role
        user.role = role
        user.updated_at = utcnow()
        audit.record(
            session,
            actor=actor.username,
            action="change_role",
            entity="user",
            entity_key=user.username,
            detail={"from": before, "to": role},
        )


@retrying
def unlock(engine: Engine, actor: Actor, username: str, *, now: dt.datetime | None = None) -> int:
    """Lifts a lockout early, for someone an admin has confirmed is who they say: clears the failure window, even
    before it is full. Returns how many failures it cleared."""
    require(actor, "manage")
    now = now or utcnow()
    with session_scope(engine) as session:
        _take_turns(session, username.strip().lower())
        user = _get(session, username)
        before = _lock_end(session, user.username, now)
        cleared = _clear_failures(session, user.username, now, by=actor.username)
        audit.record(
            session,
            actor=actor.username,
            action="unlock",
            entity="user",
            entity_key=user.username,
            detail={"locked_until": before.isoformat() if before else None, "failures_cleared": cleared},
        )
        return cleared


@retrying
def end_sessions(engine: Engine, username: str, *, now: dt.datetime | None = None) -> None:
    """On sign-out: login cookies issued until now stop working (streamlit-authenticator issues #91, #203)."""
    with session_scope(engine) as session:
        session.execute(
            update(User).where(User.username == username.strip().lower()).values(sessions_valid_after=now or utcnow())
        )
        audit.record(session, actor=username, action="sign_out", entity="user", entity_key=username)


def session_is_valid(user: UserInfo, issued_at: dt.datetime) -> bool:
    """A login cookie holds only for a usable user (active; a demo account in demo mode only) and only if it was
    issued after their last sign-out."""
    return user.usable and (user.sessions_valid_after is None or issued_at > user.sessions_valid_after)
