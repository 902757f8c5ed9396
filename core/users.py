"""Users, passwords and sign-in checks, kept in the one database so that every replica agrees.

Passwords are bcrypt hashes (the format streamlit-authenticator 0.4.2 checks). Failed sign-ins are
counted per user name in the database: five in a row lock the account for 15 minutes, whichever
browser or replica they come from.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Literal

import bcrypt
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from core import audit
from core.db import session_scope
from core.models import User, utcnow
from core.permissions import ROLES, Actor, Role, require

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 10
BCRYPT_ROUNDS = 12  # bcrypt's default work factor; tests lower it
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Checked against when the user name is unknown, so that it costs as long as a real check.
_DUMMY_HASH = bcrypt.hashpw(b"not a password", bcrypt.gensalt()).decode()

LoginOutcome = Literal["ok", "wrong", "locked", "inactive"]


class UserError(ValueError):
    """A bad user name, e-mail, role or password; nothing was changed."""


@dataclass(frozen=True)
class UserInfo:
    username: str
    name: str
    email: str
    role: Role
    active: bool
    locked_until: dt.datetime | None
    sessions_valid_after: dt.datetime | None

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
        if self.outcome == "locked" and self.locked_until is not None:
            return f"Too many wrong passwords: this account is locked until {self.locked_until:%H:%M} UTC."
        if self.outcome == "inactive":
            return "This account has been deactivated; ask an admin."
        return "Wrong user name or password."


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")


def _info(user: User) -> UserInfo:
    return UserInfo(
        user.username,
        user.name,
        user.email,
        user.role,  # type: ignore[arg-type]
        user.active,
        user.locked_until,
        user.sessions_valid_after,
    )


def _get(session: Session, username: str) -> User:
    user = session.get(User, username.strip().lower())
    if user is None:
        raise UserError(f"no user {username!r}")
    return user


def get_user(engine: Engine, username: str) -> UserInfo | None:
    with session_scope(engine) as session:
        user = session.get(User, username.strip().lower())
        return None if user is None else _info(user)


def list_users(engine: Engine, actor: Actor) -> list[UserInfo]:
    """Everyone with an account, for the admin page (names and e-mails are not for every role)."""
    require(actor, "manage")
    with session_scope(engine) as session:
        return [_info(user) for user in session.scalars(select(User).order_by(User.active.desc(), User.username))]


def create_user(
    engine: Engine, actor: Actor, *, username: str, name: str, email: str, role: str, password: str
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
    with session_scope(engine) as session:
        if session.get(User, username) is not None:
            raise UserError(f"the user name {username!r} is taken")
        if session.scalar(select(User.username).where(User.email == email.strip().lower())) is not None:
            raise UserError(f"another user has the e-mail {email!r}")
        now = utcnow()
        user = User(
            username=username,
            name=name.strip(),
            email=email.strip().lower(),
            role=role,
            password_hash=hash_password(password),
            active=True,
            failed_logins=0,
            created_at=now,
            updated_at=now,
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
            detail={"role": role, "name": user.name},
        )
        return _info(user)


def _count_failure(session: Session, user: User, now: dt.datetime) -> LoginResult:
    """One more wrong password for `user`: the fifth in a row locks the account."""
    user.failed_logins += 1
    user.locked_until = None
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + LOCKOUT
        user.failed_logins = 0
        audit.record(session, actor=user.username, action="lock", entity="user", entity_key=user.username)
        return LoginResult("locked", locked_until=user.locked_until)
    return LoginResult("wrong")


def check_login(engine: Engine, username: str, password: str, *, now: dt.datetime | None = None) -> LoginResult:
    """Checks a password and counts the outcome in the database (row-locked, so concurrent tries all count)."""
    now = now or utcnow()
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == username.strip().lower()).with_for_update())
        if user is None:
            bcrypt.checkpw(password.encode(), _DUMMY_HASH.encode())
            return LoginResult("wrong")
        if user.locked_until is not None and user.locked_until > now:
            return LoginResult("locked", locked_until=user.locked_until)
        if not bcrypt.checkpw(password.encode(), user.password_hash.encode()):
            return _count_failure(session, user, now)
        if not user.active:
            return LoginResult("inactive")
        user.failed_logins = 0
        user.locked_until = None
        return LoginResult("ok", _info(user))


def change_own_password(
    engine: Engine, actor: Actor, *, current: str, new: str, now: dt.datetime | None = None
) -> None:
    """A wrong current password counts towards the sign-in lockout: an unattended, signed-in browser
    must not allow unlimited guesses."""
    _check_password(new)
    now = now or utcnow()
    with session_scope(engine) as session:
        user = session.scalar(select(User).where(User.username == actor.username).with_for_update())
        if user is None:
            raise UserError(f"no user {actor.username!r}")
        if user.locked_until is not None and user.locked_until > now:
            refusal = LoginResult("locked", locked_until=user.locked_until).message
        elif not bcrypt.checkpw(current.encode(), user.password_hash.encode()):
            outcome = _count_failure(session, user, now)
            refusal = "the current password is wrong" if outcome.outcome == "wrong" else outcome.message
        else:
            _set_password(session, user, new, actor, "change_password")
            return
    # Raised after the block so that the counted failure is committed, not rolled back.
    raise UserError(refusal)


def reset_password(engine: Engine, actor: Actor, username: str, new: str) -> None:
    require(actor, "manage")
    _check_password(new)
    with session_scope(engine) as session:
        _set_password(session, _get(session, username), new, actor, "reset_password")


def _set_password(session: Session, user: User, new: str, actor: Actor, action: str) -> None:
    now = utcnow()
    user.password_hash = hash_password(new)
    user.failed_logins = 0
    user.locked_until = None
    user.sessions_valid_after = now  # sign out every other browser
    user.updated_at = now
    audit.record(session, actor=actor.username, action=action, entity="user", entity_key=user.username)


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


def unlock(engine: Engine, actor: Actor, username: str) -> None:
    """Lifts a lockout early, for someone an admin has confirmed is who they say."""
    require(actor, "manage")
    with session_scope(engine) as session:
        user = _get(session, username)
        before = user.locked_until
        user.failed_logins = 0
        user.locked_until = None
        user.updated_at = utcnow()
        audit.record(
            session,
            actor=actor.username,
            action="unlock",
            entity="user",
            entity_key=user.username,
            detail={"locked_until": before.isoformat() if before else None},
        )


def end_sessions(engine: Engine, username: str, *, now: dt.datetime | None = None) -> None:
    """On sign-out: login cookies issued until now stop working (streamlit-authenticator issues #91, #203)."""
    with session_scope(engine) as session:
        session.execute(
            update(User).where(User.username == username.strip().lower()).values(sessions_valid_after=now or utcnow())
        )
        audit.record(session, actor=username, action="sign_out", entity="user", entity_key=username)


def session_is_valid(user: UserInfo, issued_at: dt.datetime) -> bool:
    """A login cookie holds only for an active user and only if it was issued after their last sign-out."""
    return user.active and (user.sessions_valid_after is None or issued_at > user.sessions_valid_after)
