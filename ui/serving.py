"""What the server does before any script runs: serve.py wraps app.py in this (Streamlit's st.App).

Streamlit answers some requests without running app.py, so app.py's sign-in cannot stop them:

- a websocket's `clear_cache` message flushes every cache of the process for every viewer;
- `PUT /_stcore/upload_file/<session>/<file>` keeps up to `maxUploadSize` in memory for any open session;
- until the first `st.navigation` of the process, a `pages/` folder makes Streamlit send every visitor the list of
  page files and run `/users` as a script of its own, without app.py;
- `/_stcore/metrics` tells anyone how many sessions are open and how much the caches hold.

Here: only a signed-in session whose role may import or try definitions (the two pages with an upload) uploads,
only one whose role may import clears caches, the pages folder is never offered, the metrics endpoint is not
served, and every response says it may be framed by OneFunnel itself only (its own components are same-origin
frames, so not DENY).
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from core.permissions import may_clear_caches, may_upload

LOGGER = logging.getLogger("onefunnel.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATH = re.compile(r"/_stcore/upload_file/(?P<session>[^/]+)(?:/|$)")
METRICS_PATH = re.compile(r"/_stcore/metrics/?$")
SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-frame-options", b"SAMEORIGIN"),
    (b"content-security-policy", b"frame-ancestors 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]

_guarded = False


def started_without_guards() -> bool:
    """Whether Streamlit serves app.py itself (`streamlit run app.py`) rather than serve.py's app. Tests that run
    the script without a server (AppTest) are neither."""
    from streamlit import config

    return getattr(config, "_server_mode", None) == "starlette-managed" and not _guarded


def session_role(state: Any) -> str | None:
    """The role of the person signed in to a Streamlit session's state, or None for a visitor."""
    # Imported here: ui.auth declares Streamlit caches, which must not be created before the server's runtime.
    from ui.auth import USER_KEY

    try:
        # Streamlit's SessionState has `in` and `[]` but no get().
        user = state[USER_KEY] if USER_KEY in state else None  # noqa: SIM401
    except (KeyError, AttributeError):
        return None
    return getattr(user, "role", None)


def _role_of_session(session_id: str) -> str | None:
    from streamlit.runtime import Runtime

    if not Runtime.exists():
        return None
    session = Runtime.instance().get_app_session(session_id)
    return None if session is None else session_role(session.session_state)


def _install_clear_cache_guard() -> None:
    """Streamlit clears every cache of the process on any session's `clear_cache` message; only a session whose
    role may import (and so change what the caches hold) may ask for it. Imports clear the caches they touch
    themselves, so nobody needs the message to see fresh numbers."""
    from streamlit.runtime.app_session import AppSession

    original = AppSession._handle_clear_cache_request
    if getattr(original, "onefunnel_guard", False):
        return

    def handle_clear_cache_request(self: AppSession) -> None:
        role = session_role(self.session_state)
        if may_clear_caches(role):
            original(self)
        else:
            LOGGER.warning("Ignored a request to clear every cache from a session signed in as %s", role or "nobody")

    handle_clear_cache_request.onefunnel_guard = True  # type: ignore[attr-defined]
    AppSession._handle_clear_cache_request = handle_clear_cache_request  # type: ignore[method-assign]


def _never_offer_the_pages_folder() -> None:
    """Streamlit treats a `pages/` folder as the menu until some script calls st.navigation; app.py calls it only
    after sign-in, so before the first sign-in of a process every visitor would get the file list, and a URL such
    as /users would run that file without app.py. The flag is process-wide and read when a session starts."""
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


def install() -> None:
    global _guarded
    _never_offer_the_pages_folder()
    _install_clear_cache_guard()
    _guarded = True


@asynccontextmanager
async def lifespan(_app: Any) -> AsyncIterator[None]:
    install()
    yield


async def _respond(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + SECURITY_HEADERS})
    await send({"type": "http.response.body", "body": body})


class Gatekeeper:
    """ASGI middleware in front of Streamlit's own routes (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        if METRICS_PATH.search(path):
            await _respond(send, 404, "Not served: OneFunnel's health check is /_stcore/health.")
            return
        upload = UPLOAD_PATH.search(path)
        if upload and scope.get("method") == "PUT" and not may_upload(_role_of_session(upload["session"])):
            # Refused before the body is read: an upload from a visitor never reaches memory.
            await _respond(send, 403, "Uploads need a signed-in account whose role may import.")
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    header for header in SECURITY_HEADERS if header[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def middleware() -> list[Any]:
    from starlette.middleware import Middleware

    return [Middleware(Gatekeeper)]  # type: ignore[arg-type]
