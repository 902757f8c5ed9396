"""The sign-in limits: wrong passwords counted in the one database, so that every replica agrees.

Every wrong password is a row of `login_failures`, whichever browser or replica it comes from. A name with
MAX_FAILED_LOGINS of them within the last FAILURE_WINDOW is locked until the oldest of those leaves the window, so
that nobody gets more than MAX_FAILED_LOGINS guesses in any FAILURE_WINDOW; tries while locked are answered
"locked" and not counted, since they judge no password. A sign-in, a new password or an admin's unlock clears the
window: its rows stay, marked cleared and by whom.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any, cast

from sqlalchemy import CursorResult, select, text, update
from sqlalchemy.orm import Session

from core import audit
from core.config import DEMO_COOKIE_KEY, secret
from core.models import LoginFailure, User

MAX_FAILED_LOGINS = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
MINUTE = dt.timedelta(minutes=1)
# In front of the name's window: one client gets one guess fewer on a name than it takes to lock the name, so no
# single address can lock an account (the only admin's, say) and lockout stops being a tool against its owner.
MAX_FAILED_LOGINS_PER_CLIENT = MAX_FAILED_LOGINS - 1
# The first key of PostgreSQL's two-key advisory locks, a key space apart from the migrations' one-key lock.
_SIGN_IN_LOCK_SPACE = 4_242_002


def failure_key(name: str, known: bool) -> str:
    """What a name's failures are counted under: an account's user name, or for a name that is no account a digest,
    because people type passwords into the user-name field and those must not be kept readable. The digest is keyed
    by the cookie key, which is not in the database: a plain hash of a typed password falls to a dictionary in the
    hands of anyone who can read the table. Every replica shares the key, so a name's window holds across them. A
    user name never holds '#', so the two cannot meet."""
    return name if known else "#" + _keyed_digest(name)


def _keyed_digest(value: str) -> str:
    pepper = (secret("ONEFUNNEL_COOKIE_KEY") or DEMO_COOKIE_KEY).encode()
    return hmac.new(pepper, value.encode(), hashlib.sha256).hexdigest()[:40]


def client_key(address: str | None) -> str | None:
    """A client's address as it is kept: a keyed digest (an address is personal data and the table is read by
    admins), or None where the caller knows no address (the CLI)."""
    return None if not address else _keyed_digest(address.strip().lower())


def take_turns(session: Session, name: str) -> None:
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


def in_window(key: str, now: dt.datetime) -> tuple[Any, ...]:
    # No upper bound: a failure stamped a moment ahead by another replica's clock still counts.
    return (LoginFailure.username == key, LoginFailure.cleared_at.is_(None), LoginFailure.at > now - FAILURE_WINDOW)


def lock_end(
    session: Session, key: str, now: dt.datetime, *, client: str | None = None, limit: int = MAX_FAILED_LOGINS
) -> dt.datetime | None:
    """When the lock on `key` ends: when the oldest of its newest `limit` failures leaves the window; None if the
    window holds fewer. With a `client`, only that client's failures count (the per-client limit)."""
    where = [*in_window(key, now)] + ([LoginFailure.client == client] if client is not None else [])
    oldest = session.scalar(
        select(LoginFailure.at).where(*where).order_by(LoginFailure.at.desc()).offset(limit - 1).limit(1)
    )
    return None if oldest is None else oldest + FAILURE_WINDOW


def lock_ends(session: Session, now: dt.datetime) -> dict[str, dt.datetime]:
    """`lock_end` of every locked account at once, for the admin's list."""
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


def count_failure(
    session: Session, key: str, *, known: bool, via: str, now: dt.datetime, client: str | None = None
) -> dt.datetime | None:
    """One more wrong password for `key`; the one that fills the window locks it (audited). Returns when that
    lock ends, or None while the window is not full."""
    session.add(LoginFailure(username=key, at=now, via=via, client=client))
    session.flush()
    until = lock_end(session, key, now)
    if until is None:
        return None
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
    return until


def clear_failures(session: Session, key: str, now: dt.datetime, by: str) -> int:
    """Marks the failures in `key`'s window cleared; the caller audits. Returns how many."""
    result = session.execute(
        update(LoginFailure)
        .where(*in_window(key, now))
        .values(cleared_at=now, cleared_by=by)
        .execution_options(synchronize_session=False)
    )
    return int(cast("CursorResult[Any]", result).rowcount)


def lock_message(until: dt.datetime, *, per_client: bool = False) -> str:
    """What a locked name, or a client refused a name, is told."""
    # Rounded up: at the minute shown the lock is over, never a few seconds short of it.
    shown = until + (dt.datetime.min - until) % MINUTE
    if per_client:
        return (
            "Too many wrong passwords for this user name from your network address: "
            f"try again after {shown:%H:%M} UTC, or from another device."
        )
    return f"Too many wrong passwords: this account is locked until {shown:%H:%M} UTC."
