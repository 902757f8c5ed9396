"""Users, passwords and sign-in checks, kept in the one database so that every replica agrees.

Passwords are bcrypt hashes (the format streamlit-authenticator 0.4.2 checks). Wrong passwords are counted in
a window per name (core.admin.logins), whichever browser or replica they come from.

A name that is no account is treated like one that is: its failures count and lock it the same way, and every
sign-in runs exactly one bcrypt check at the cost of a real hash, so neither the answers nor their timing tell
which names exist.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import secrets
from dataclasses import dataclass
from typing import Literal

import bcrypt
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from core import audit
from core.admin.logins import (
    MAX_FAILED_LOGINS_PER_CLIENT,
    clear_failures,
    client_key,
    count_failure,
    failure_key,
    in_window,
    lock_end,
    lock_ends,
    lock_message,
    take_turns,
)
from core.config import demo_mode
from core.db import read_scope, retrying, session_scope
from core.models import LoginFailure, User, utcnow
from core.permissions import ROLES, Actor, Role, require

MIN_PASSWORD_LENGTH = 10
# bcrypt reads no more than this; bcrypt 5 refuses a longer password instead of cutting it.
MAX_PASSWORD_BYTES = 72
BCRYPT_ROUNDS = 12  # bcrypt's default work factor; tests lower it
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
        if self.outcome in ("locked", "client_locked") and self.locked_until is not None:
            return lock_message(self.locked_until, per_client=self.outcome == "client_locked")
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


def get_user(engine: Engine, username: str) -> UserInfo | None:
    with read_scope(engine) as session:
        user = session.get(User, username.strip().lower())
        return None if user is None else _info(user, lock_end(session, user.username, utcnow()))


def list_users(engine: Engine, actor: Actor) -> list[UserInfo]:
    """Everyone with an account, for the admin page (names and e-mails are not for every role)."""
    require(actor, "manage")
    with read_scope(engine) as session:
        locked = lock_ends(session, utcnow())
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
    return _judge_sign_in(engine, name, stored, matches, now, client_key(client))


def _clean_sign_in(engine: Engine, name: str, checked_hash: str, now: dt.datetime) -> LoginResult | None:
    """The usual case, the right password of an active account with no failures to clear, answered by a read:
    a sign-in then never waits for SQLite's write lock (held by an import's merge, say). None: anything else,
    which `_judge_sign_in` decides in a write transaction. A wrong try that lands meanwhile is simply not cleared,
    as if it had come a moment after this sign-in."""
    with read_scope(engine) as session:
        user = session.get(User, name)
        if user is None or not _usable(user) or user.password_hash != checked_hash:
            return None
        if session.scalar(select(LoginFailure.id).where(*in_window(name, now)).limit(1)) is not None:
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
        take_turns(session, name)
        user = session.get(User, name)
        key = failure_key(name, known=user is not None)
        until = lock_end(session, key, now)
        if until is not None:
            return LoginResult("locked", locked_until=until)
        # Refused like a lock, right password or not: judging it would give this client one more guess.
        client_until = (
            None if client is None else lock_end(session, key, now, client=client, limit=MAX_FAILED_LOGINS_PER_CLIENT)
        )
        if client_until is not None:
            return LoginResult("client_locked", locked_until=client_until)
        # A password changed since it was read was checked against the old hash: wrong, like any other.
        if user is None or not matches or user.password_hash != checked_hash:
            until = count_failure(session, key, known=user is not None, via="sign_in", now=now, client=client)
            return LoginResult("wrong") if until is None else LoginResult("locked", locked_until=until)
        if not user.active:
            return LoginResult("inactive")
        if not _usable(user):
            return LoginResult("demo")
        cleared = clear_failures(session, key, now, by=user.username)
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
        take_turns(session, actor.username)
        user = _get(session, actor.username)
        until = lock_end(session, user.username, now)
        if until is not None:
            return lock_message(until)
        if not matches or user.password_hash != checked_hash:
            until = count_failure(session, user.username, known=True, via="change_password", now=now)
            return "the current password is wrong" if until is None else lock_message(until)
        _set_password(session, user, new_hash, actor, "change_password", now)
        return None


def reset_password(engine: Engine, actor: Actor, username: str, new: str, *, now: dt.datetime | None = None) -> None:
    require(actor, "manage")
    _check_password(new)
    _store_reset(engine, actor, username, hash_password(new), now)


@retrying
def _store_reset(engine: Engine, actor: Actor, username: str, new_hash: str, now: dt.datetime | None) -> None:
    with session_scope(engine) as session:
        take_turns(session, username.strip().lower())
        _set_password(session, _get(session, username), new_hash, actor, "reset_password", now or utcnow())


def _set_password(session: Session, user: User, new_hash: str, actor: Actor, action: str, now: dt.datetime) -> None:
    """A new password also clears the failure window (whoever set it knows it), and signs out every other browser."""
    user.password_hash = new_hash
    user.updated_at = utcnow()
    # The real time, not `now`: it is compared with when cookies were issued.
    user.sessions_valid_after = user.updated_at
    cleared = clear_failures(session, user.username, now, by=actor.username)
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
        take_turns(session, username.strip().lower())
        user = _get(session, username)
        before = lock_end(session, user.username, now)
        cleared = clear_failures(session, user.username, now, by=actor.username)
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
