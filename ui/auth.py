"""Sign-in for every page: passwords checked by core (database-counted lockout), the login cookie by
streamlit-authenticator 0.4.2.

The library's own form counts failed attempts per browser session only and cannot be told that an
account is locked, so the form here calls `core.users.check_login`; the library then sets and reads
the signed re-authentication cookie. A cookie counts only while the user is active and was issued
after their last sign-out or password change (streamlit-authenticator issues #91, #203); the same
holds for a browser session that is open at that moment, which is signed out on its next run.
"""

from __future__ import annotations

import datetime as dt

import jwt
import streamlit as st
import streamlit_authenticator as stauth

from core.admin.users import UserInfo, check_login, end_sessions, get_user, session_is_valid
from core.config import client_address_header, cookie_key
from core.models import utcnow
from core.permissions import Permission, may
from ui.cache import engine

COOKIE_NAME = "onefunnel_login"
COOKIE_DAYS = 1.0
# Replicas' clocks differ a little (they should be NTP-synced): a cookie may look issued this much in the future.
CLOCK_SKEW_SECONDS = 300
USER_KEY = "onefunnel_user"  # our own key: the library owns username, name, roles, authentication_status
SET_COOKIE_KEY = "onefunnel_set_cookie"
SIGNED_OUT_KEY = "onefunnel_signed_out"
# When this browser session was signed in (UTC), by password or by a cookie issued then.
SIGNED_IN_AT_KEY = "onefunnel_signed_in_at"


def _authenticator() -> stauth.Authenticate:
    # No credentials: the library only signs and reads the cookie; passwords are checked in core.
    return stauth.Authenticate({"usernames": {}}, COOKIE_NAME, cookie_key(), COOKIE_DAYS, auto_hash=False)


def _issue_cookie(authenticator: stauth.Authenticate, username: str) -> None:
    """Sets the login cookie: signed, with its own issue time and an expiry one lifetime after it (the library's
    token carries only an expiry, so a cookie minted for next year would pass as issued today)."""
    now = dt.datetime.now(dt.UTC)
    claims = {"username": username, "iat": now.timestamp(), "exp_date": now.timestamp() + COOKIE_DAYS * 86_400}
    token = jwt.encode(claims, cookie_key(), algorithm="HS256")
    # Behind HTTPS the cookie is marked Secure, so that it never travels in clear text.
    forwarded = (st.context.headers.get("X-Forwarded-Proto") or "").lower()
    secure = forwarded == "https" or (st.context.url or "").startswith("https")
    authenticator.cookie_controller.cookie_model.cookie_manager.set(
        COOKIE_NAME, token, expires_at=now.replace(tzinfo=None) + dt.timedelta(days=COOKIE_DAYS), secure=secure
    )


def read_cookie(token: str | None, key: str, now: dt.datetime | None = None) -> tuple[str, dt.datetime] | None:
    """(user name, issue time) of a login cookie, or None for anything else: a token that is not ours (another
    key, another algorithm, `none`), one without its issue time, one whose lifetime is not ours, one issued in
    the future or expired."""
    if not token:
        return None
    try:
        # The issue time is judged below, with the clock skew replicas may have; PyJWT would allow none.
        claims = jwt.decode(token, key, algorithms=["HS256"], options={"verify_iat": False})
    except jwt.PyJWTError:
        return None
    username, issued, expires = claims.get("username"), claims.get("iat"), claims.get("exp_date")
    if not isinstance(username, str) or not all(isinstance(v, (int, float)) for v in (issued, expires)):
        return None
    moment = (now or dt.datetime.now(dt.UTC)).timestamp()
    lifetime = COOKIE_DAYS * 86_400
    if abs(float(expires) - float(issued) - lifetime) > CLOCK_SKEW_SECONDS:
        return None
    if float(issued) > moment + CLOCK_SKEW_SECONDS or float(expires) <= moment:
        return None
    return username, dt.datetime.fromtimestamp(float(issued), dt.UTC).replace(tzinfo=None)


def _from_cookie() -> tuple[UserInfo, dt.datetime] | None:
    """The user of a valid login cookie, and when the cookie was issued."""
    read = read_cookie(st.context.cookies.get(COOKIE_NAME), cookie_key())
    if read is None:
        return None
    username, issued = read
    user = get_user(engine(), username)
    if user is None or not session_is_valid(user, issued):
        return None
    return user, issued


def _remember(user: UserInfo, signed_in_at: dt.datetime) -> None:
    st.session_state[USER_KEY] = user
    st.session_state[SIGNED_IN_AT_KEY] = signed_in_at
    # The library signs its cookie with the user name it finds here.
    st.session_state["username"] = user.username
    st.session_state["name"] = user.name
    st.session_state["authentication_status"] = True


def _forget() -> None:
    for key in (USER_KEY, SIGNED_IN_AT_KEY, "username", "name", "authentication_status"):
        st.session_state.pop(key, None)


def _start_session(user: UserInfo) -> None:
    _remember(user, utcnow())
    # The cookie component only acts when it is rendered: set it on the next run, not before st.rerun().
    st.session_state[SET_COOKIE_KEY] = True


def renew_cookie() -> None:
    """After a password change, which voids every earlier cookie: this browser gets a new one at once, and
    again on the next run in case the component's write of this run is lost to a rerun."""
    # This session carries on: it proved the new password after the change voided every earlier session.
    st.session_state[SIGNED_IN_AT_KEY] = utcnow()
    _issue_cookie(_authenticator(), st.session_state[USER_KEY].username)
    st.session_state[SET_COOKIE_KEY] = True


def signed_in_user() -> UserInfo | None:
    """The signed-in user, re-read from the database so that a deactivation, a sign-out elsewhere or a password
    change takes effect at once."""
    current = st.session_state.get(USER_KEY)
    if current is None:
        return None
    # A session put in place without a time (tests do) counts from its first run.
    signed_in_at = st.session_state.setdefault(SIGNED_IN_AT_KEY, utcnow())
    fresh = get_user(engine(), current.username)
    if fresh is None or not session_is_valid(fresh, signed_in_at):
        _forget()
        return None
    st.session_state[USER_KEY] = fresh
    return fresh


def _client_address() -> str | None:
    """Where this visitor connects from, for the per-client limit on wrong passwords. Behind a proxy, the last
    entry of its header: the one the proxy itself added (earlier ones are whatever the client sent)."""
    header = client_address_header()
    if header:
        forwarded = st.context.headers.get(header)
        return forwarded.split(",")[-1].strip() or None if forwarded else None
    address = st.context.ip_address
    return address if isinstance(address, str) else None  # AppTest's stand-in connection has no address


def sign_in() -> UserInfo | None:
    """Shows the sign-in form unless someone is signed in (in this session or by a valid cookie)."""
    user = signed_in_user()
    if user is not None:
        if st.session_state.pop(SET_COOKIE_KEY, False):
            _issue_cookie(_authenticator(), user.username)
        return user
    authenticator = _authenticator()
    if st.session_state.pop(SIGNED_OUT_KEY, False):
        authenticator.cookie_controller.delete_cookie()
    else:
        from_cookie = _from_cookie()
        if from_cookie is not None:
            _remember(*from_cookie)
            return from_cookie[0]
    with st.form("sign_in"):
        st.subheader("Sign in to OneFunnel")
        username = st.text_input("User name", key="sign_in_username")
        password = st.text_input("Password", type="password", key="sign_in_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        result = check_login(engine(), username, password, client=_client_address())
        if result.outcome == "ok" and result.user is not None:
            _start_session(result.user)
            st.rerun()
        st.error(result.message)
    return None


def sign_out(user: UserInfo) -> None:
    # Server side first: from now on the database refuses every cookie issued before this moment.
    end_sessions(engine(), user.username)
    _forget()
    st.session_state[SIGNED_OUT_KEY] = True  # the browser's cookie is deleted on the next run


def guard(permission: Permission = "read") -> UserInfo:
    """First line of every page: stops unless a signed-in, active user whose role may use the page."""
    user = signed_in_user()
    if user is None:
        st.warning("Please sign in on the OneFunnel home page.", icon=":material/lock:")
        st.stop()
    assert user is not None
    if not may(user.role, permission):
        st.error(f"Your role ({user.role}) may not open this page.", icon=":material/block:")
        st.stop()
    return user
