"""What Streamlit answers without running app.py, guarded by serve.py (ui/serving.py): a real `streamlit run serve.py`
spoken to over its websocket and HTTP, as the hardening probe did. Before the guards a never-signed-in websocket
could flush every cache of the process, park uploads in server memory, receive the list of page files and run
/users without app.py, and anyone could read /_stcore/metrics."""

from __future__ import annotations

import asyncio
import http.cookiejar
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.runtime.app_session import AppSession

from tests.conftest import free_port, load_module, seeded_for_load
from ui import serving
from ui.auth import USER_KEY

pytest.importorskip("websockets")
ROOT = Path(__file__).resolve().parent.parent
PAGE_FILES = {path.stem for path in (ROOT / "pages").glob("*.py")}


@pytest.fixture(scope="module")
def load() -> Any:
    return load_module()


@pytest.fixture(scope="module")
def server(load: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    folder = tmp_path_factory.mktemp("guards")
    database_url = seeded_for_load(load, folder)
    url = f"http://127.0.0.1:{free_port()}"
    log = folder / "server.log"
    # As behind a proxy: the visitor's address comes from the header the proxy adds.
    process = load.start_server(
        url, database_url, log, environment={"ONEFUNNEL_CLIENT_ADDRESS_HEADER": "X-Forwarded-For"}
    )
    try:
        yield url, log
    finally:
        load.stop_server(process)


async def _session(load: Any, url: str, username: str | None, page_name: str = "") -> Any:
    session = load.Session(url, run_timeout=50)
    await session.open()
    if username is None:
        session.first = await session.rerun(page_name=page_name)
    else:
        session.first = await session.sign_in(username, username + load.PASSWORD_SUFFIX)
    return session


def _put(url: str, session_id: str) -> int:
    """An upload as the browser sends it: multipart, with the XSRF cookie and its header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.open(f"{url}/_stcore/health", timeout=10).read()
    token = next(cookie.value for cookie in jar if cookie.name == "_streamlit_xsrf")
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="leads.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\nlead_id,created_at\r\nX1,2025-01-01\r\n\r\n--{boundary}--\r\n"
    ).encode()
    request = urllib.request.Request(
        f"{url}/_stcore/upload_file/{session_id}/{uuid.uuid4()}",
        data=body,
        method="PUT",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Xsrftoken": token},
    )
    try:
        with opener.open(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as refused:
        return refused.code


def test_a_visitor_opening_users_gets_the_sign_in_form_and_no_page_list(load: Any, server: tuple[str, Path]) -> None:
    async def visit() -> Any:
        session = await _session(load, server[0], None, page_name="users")
        await session.close()
        return session

    visitor = asyncio.run(visit())
    # app.py ran (its sign-in form), not pages/users.py behind its own guard.
    labels = [widget.label for widget in visitor.first.widgets("text_input")]
    assert labels == ["User name", "Password"]
    alerts = " ".join(alert.body for alert in visitor.first.widgets("alert"))
    assert "Please sign in on the OneFunnel home page" not in alerts
    # Streamlit named no page file to the visitor: one page, the app itself, under the name the visitor typed.
    assert visitor.offered == {"users"}
    assert not visitor.pages


def test_a_visitor_at_the_front_door_is_offered_no_page(load: Any, server: tuple[str, Path]) -> None:
    async def visit() -> Any:
        session = await _session(load, server[0], None)
        await session.close()
        return session

    visitor = asyncio.run(visit())
    assert len(visitor.offered) == 1 and not (visitor.offered & PAGE_FILES), visitor.offered
    assert not visitor.pages


def test_uploads_need_a_role_that_may_import(load: Any, server: tuple[str, Path]) -> None:
    async def sessions() -> dict[str, str]:
        ids = {}
        for name, username in (("visitor", None), ("exec", load.VIEWER), ("ops", load.OPERATOR)):
            session = await _session(load, server[0], username)
            ids[name] = session.session_id
            assert ids[name]
            # Keep the websocket open while uploading: the session must be alive for the upload to be judged.
            ids[name + "_status"] = str(await asyncio.to_thread(_put, server[0], session.session_id))
            await session.close()
        return ids

    answers = asyncio.run(sessions())
    assert answers["visitor_status"] == "403"
    assert answers["exec_status"] == "403"
    assert answers["ops_status"] == "204"


def test_the_metrics_endpoint_is_not_served_and_pages_may_be_framed_only_by_onefunnel(
    server: tuple[str, Path],
) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{server[0]}/_stcore/metrics", timeout=10)
    assert refused.value.code == 404
    with urllib.request.urlopen(f"{server[0]}/", timeout=10) as response:
        assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert response.headers["Content-Security-Policy"] == "frame-ancestors 'self'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_clear_cache_message_from_a_visitor_or_an_exec_is_ignored(load: Any, server: tuple[str, Path]) -> None:
    async def ask(username: str | None) -> None:
        session = await _session(load, server[0], username)
        await session.socket.send(BackMsg(clear_cache=True).SerializeToString())
        await session.rerun()  # the message is handled before this run starts
        await session.close()

    asyncio.run(ask(None))
    asyncio.run(ask(load.VIEWER))
    asyncio.run(ask(load.OPERATOR))
    log = server[1].read_text()
    assert log.count("Ignored a request to clear every cache") == 2
    assert "signed in as nobody" in log and "signed in as exec" in log


class _FakeSession:
    def __init__(self, state: dict[str, Any]) -> None:
        self.session_state = state
        self._session_state = state


def test_only_a_role_that_may_import_clears_the_caches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(AppSession, "_handle_clear_cache_request", AppSession._handle_clear_cache_request)
    serving.install()
    runs: list[int] = []

    @st.cache_data
    def counted() -> int:
        runs.append(1)
        return len(runs)

    counted()
    for state in ({}, {USER_KEY: type("U", (), {"role": "exec"})()}):
        AppSession._handle_clear_cache_request(_FakeSession(state))  # type: ignore[arg-type]
        counted()
    assert len(runs) == 1  # a visitor's and an exec's requests left the cache as it was
    AppSession._handle_clear_cache_request(_FakeSession({USER_KEY: type("U", (), {"role": "ops"})()}))  # type: ignore[arg-type]
    counted()
    assert len(runs) == 2


def test_app_py_served_without_the_guards_refuses_to_start(load: Any, server: tuple[str, Path], tmp_path: Path) -> None:
    database_url = f"sqlite:///{server[1].parent / 'app.db'}"
    url = f"http://127.0.0.1:{free_port()}"
    process = load.start_server(url, database_url, tmp_path / "server.log", script="app.py")
    try:
        visitor = asyncio.run(_session(load, url, None))
    finally:
        load.stop_server(process)
    alerts = " ".join(alert.body for alert in visitor.first.widgets("alert"))
    assert "must be started with `streamlit run serve.py`" in alerts
    assert visitor.first.widgets("text_input") == []


def test_wrong_passwords_from_one_address_stop_before_they_lock_the_account(
    load: Any, server: tuple[str, Path]
) -> None:
    """The sign-in form passes the visitor's address (here from the proxy's header) to the per-client limit: four
    wrong tries from one address, then that address is refused the name, and the owner elsewhere still signs in."""

    async def try_password(address: str, password: str) -> list[str]:
        session = load.Session(server[0], run_timeout=50)
        await session.open(headers={"X-Forwarded-For": f"192.0.2.1, {address}"})
        try:
            form = await session.rerun()
            session.set_widget(form.widget_id("text_input", "User name"), string_value=load.OPERATOR)
            session.set_widget(form.widget_id("text_input", "Password"), string_value=password)
            answer = await session.rerun(triggers=[form.widget_id("button", "Sign in")])
            return [alert.body for alert in answer.widgets("alert")] + [b.label for b in answer.widgets("button")]
        finally:
            await session.close()

    said = [asyncio.run(try_password("203.0.113.50", "wrong")) for _ in range(5)]
    assert all("Wrong user name or password." in answer for answer in said[:4])
    assert any("from your network address" in line for line in said[4])
    owner = asyncio.run(try_password("198.51.100.20", load.OPERATOR + load.PASSWORD_SUFFIX))
    assert "Sign out" in owner
