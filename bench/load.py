"""Load test: many simulated viewers of one Streamlit process, speaking its websocket protocol (no browser).

Each simulated user opens `/_stcore/stream`, signs in through the app's own form, then asks for reruns and
times each one from sending the rerun request to the server's `script_finished`. Two scenarios:

- scoreboard: sign in as a viewer (exec by default); every run redraws the default view of the scoreboard.
- sandbox: sign in as ops (the sessions share the login), open the Sandbox page, pick this session's own
  trial ("load 1", "load 2", ...) and move the score-threshold slider to a new value on every run, so each
  run recomputes the trial's outcome and threshold curve.

    python bench/load.py --url http://127.0.0.1:8599 --scenario scoreboard --users 10 --runs 20 --server-pid N
    python bench/load.py --serve --database-url sqlite:////abs/bench.db --scenario sandbox --users 5 --json

With --serve the script starts `streamlit run serve.py` itself (on the port of --url, with a random cookie key) and
stops it afterwards. With --database-url it first creates its two accounts if they are missing (load_exec, an
exec, and load_ops, in ops; each password is the name followed by -load-2026: for benchmark databases only, as
demo mode runs on its own embedded file alone), and the sandbox scenario the trials it needs.
The server's resident memory (VmRSS) is sampled from /proc while the scenario runs.

Not a browser: custom components never answer, so the login-cookie component does not cause the extra rerun
it causes in a browser after signing in, and no heartbeats are sent. Widget values are sent as a browser
sends them (all values set so far, a button press as a one-run trigger), and big elements already received
are announced by hash, so the server sends a reference instead, as it does to a browser.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import datetime as dt
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parent.parent
# The load test's own accounts (ensure_accounts): demo mode, and so its accounts, run on the embedded file only.
PASSWORD_SUFFIX = "-load-2026"
VIEWER, OPERATOR = "load_exec", "load_ops"
TRIAL_PREFIX = "load"


class LoadError(RuntimeError):
    """A simulated user could not do what a person would have done (sign in, open a page, find a widget)."""


@dataclasses.dataclass
class Run:
    """What one script run sent back: the time it took and the elements it drew."""

    seconds: float
    status: str  # "ok", "compile_error", "timeout" or "closed"
    reruns: int  # st.rerun() calls the server followed inside this run
    elements: list[Any]  # Element protos of the last script pass, in the order they arrived
    exceptions: list[str]

    @property
    def ok(self) -> bool:
        return self.status == "ok" and not self.exceptions

    def widgets(self, kind: str) -> list[Any]:
        return [getattr(element, kind) for element in self.elements if element.WhichOneof("type") == kind]

    def headings(self) -> list[str]:
        return [heading.body for heading in self.widgets("heading")]

    def widget_id(self, kind: str, label: str) -> str:
        for widget in self.widgets(kind):
            if widget.label == label:
                return str(widget.id)
        raise LoadError(f"no {kind} labelled {label!r} on the page (headings: {self.headings()})")


class Session:
    """One browser tab's worth of protocol: a websocket, the widget values it has set, its page and URL."""

    def __init__(self, url: str, run_timeout: float) -> None:
        parts = urlsplit(url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        self.stream_url = f"{scheme}://{parts.netloc}{parts.path.rstrip('/')}/_stcore/stream"
        self.run_timeout = run_timeout
        self.socket: ClientConnection | None = None
        self.query_string = ""
        self.page_script_hash = ""
        self.pages: dict[str, str] = {}  # url path name -> page script hash, from st.navigation
        self.offered: set[str] = set()  # every page the server has named to this tab, by its URL path
        self.session_id = ""
        self.widget_states: dict[str, WidgetState] = {}
        # Like the browser, keep big elements by hash and tell the server which we hold: it then sends a
        # reference instead of the element again. Nothing has to be answered for a reference.
        self.cached: dict[str, ForwardMsg] = {}
        self.bytes_received = 0

    async def open(self, headers: dict[str, str] | None = None) -> None:
        # The first subprotocol is the one the server selects; the browser adds its XSRF token and a
        # session id to resume, neither of which a new session needs. No pings: the browser sends none,
        # and a busy server's late pong would close the connection and count as an error.
        self.socket = await connect(
            self.stream_url,
            subprotocols=[Subprotocol("streamlit")],
            max_size=None,
            ping_interval=None,
            proxy=None,
            open_timeout=30,
            additional_headers=headers,
        )

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()
            self.socket = None

    def set_widget(self, widget_id: str, **value: Any) -> None:
        state = WidgetState(id=widget_id)
        for field, given in value.items():
            if field in ("double_array_value", "string_array_value", "int_array_value"):
                getattr(state, field).data.extend(given)
            else:
                setattr(state, field, given)
        self.widget_states[widget_id] = state

    async def rerun(
        self, triggers: Iterable[str] = (), page_script_hash: str | None = None, page_name: str = ""
    ) -> Run:
        """Asks for a run with the current widget values, as a browser does after any interaction, and waits
        for it to finish, following any st.rerun() the app makes on the way."""
        assert self.socket is not None, "open() first"
        state = ClientState(
            query_string=self.query_string,
            page_script_hash=page_script_hash or self.page_script_hash,
            page_name=page_name,  # what a browser sends when it opens a URL such as /users
        )
        state.widget_states.widgets.extend(self.widget_states.values())
        # A button press is a trigger: true for this one run only, never kept like a value.
        state.widget_states.widgets.extend(WidgetState(id=widget_id, trigger_value=True) for widget_id in triggers)
        state.cached_message_hashes.extend(self.cached)
        started = time.perf_counter()
        await self.socket.send(BackMsg(rerun_script=state).SerializeToString())
        elements: list[Any] = []
        exceptions: list[str] = []
        reruns = 0
        deadline = started + self.run_timeout
        while True:
            try:
                raw = await asyncio.wait_for(self.socket.recv(), timeout=max(0.0, deadline - time.perf_counter()))
            except TimeoutError:
                return Run(time.perf_counter() - started, "timeout", reruns, elements, exceptions)
            except Exception as problem:  # the server closed the connection or it broke
                exceptions.append(f"connection: {problem}")
                return Run(time.perf_counter() - started, "closed", reruns, elements, exceptions)
            self.bytes_received += len(raw)
            message = ForwardMsg()
            message.ParseFromString(raw)
            kind = message.WhichOneof("type")
            if kind == "ref_hash":
                message = self.cached[message.ref_hash]
                kind = "delta"
            elif message.metadata.cacheable:
                self.cached[message.hash] = message
            if kind == "new_session":
                self.session_id = message.new_session.initialize.session_id
                self.offered.update(page.url_pathname or page.page_name for page in message.new_session.app_pages)
                elements.clear()  # a new pass of the script, e.g. after st.rerun(): only its elements count
                exceptions.clear()
            elif kind == "delta" and message.delta.WhichOneof("type") == "new_element":
                element = message.delta.new_element
                elements.append(element)
                if element.WhichOneof("type") == "exception":
                    exceptions.append(f"{element.exception.type}: {element.exception.message}")
            elif kind == "navigation":
                self.page_script_hash = message.navigation.page_script_hash
                self.pages = {page.url_pathname: page.page_script_hash for page in message.navigation.app_pages}
                self.offered.update(page.url_pathname or page.page_name for page in message.navigation.app_pages)
            elif kind == "page_info_changed":
                self.query_string = message.page_info_changed.query_string  # the browser's URL follows the app
            elif kind == "session_event" and message.session_event.HasField("script_compilation_exception"):
                exceptions.append(f"compile error: {message.session_event.script_compilation_exception.message}")
            elif kind == "script_finished":
                if message.script_finished == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    reruns += 1
                    continue
                seconds = time.perf_counter() - started
                status = "ok" if message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY else "compile_error"
                return Run(seconds, status, reruns, elements, exceptions)

    async def sign_in(self, username: str, password: str) -> Run:
        form = await self.rerun()
        if not form.ok:
            raise LoadError(f"the first run failed: {form.status} {form.exceptions}")
        self.set_widget(form.widget_id("text_input", "User name"), string_value=username)
        self.set_widget(form.widget_id("text_input", "Password"), string_value=password)
        submit = form.widget_id("button", "Sign in")
        signed_in = await self.rerun(triggers=[submit])
        if not signed_in.ok or "Sign out" not in [button.label for button in signed_in.widgets("button")]:
            alerts = [alert.body for alert in signed_in.widgets("alert")]
            raise LoadError(f"{username} could not sign in: {signed_in.status} {signed_in.exceptions} {alerts}")
        return signed_in


# --------------------------------------------------------------------------------------------- scenarios
class StartLine:
    """Timed runs start together once every user has signed in (or given up), so that N users really are N at
    once; signing in is bcrypt-bound and reported on its own."""

    def __init__(self, users: int) -> None:
        self.missing = users
        self.everyone_here = asyncio.Event()
        self.go = asyncio.Event()

    def arrive(self) -> None:
        self.missing -= 1
        if self.missing <= 0:
            self.everyone_here.set()

    async def wait(self) -> None:
        self.arrive()
        await self.go.wait()


@dataclasses.dataclass
class UserResult:
    user: int
    sign_in_seconds: float | None = None
    first_view_seconds: float | None = None  # sandbox: opening the page and the trial, before the timed runs
    runs: list[float] = dataclasses.field(default_factory=list)
    finished_at: list[float] = dataclasses.field(default_factory=list)  # perf_counter() at each timed run's end
    failed_runs: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None
    saw: list[str] = dataclasses.field(default_factory=list)  # headings of the last run, to show what was drawn
    metrics: int = 0  # st.metric elements in the last run
    at_start: bool = False
    trial: str | None = None  # sandbox: the trial this session opened


async def think(seconds: float, rng: random.Random) -> None:
    if seconds > 0:
        await asyncio.sleep(rng.uniform(0.5, 1.5) * seconds)


def record(result: UserResult, run: Run) -> None:
    if run.ok:
        result.runs.append(run.seconds)
        result.finished_at.append(time.perf_counter())
    else:
        result.failed_runs.append(f"{run.status} after {run.seconds:.1f} s: {run.exceptions}")
    result.saw = run.headings()
    result.metrics = len(run.widgets("metric"))


async def scoreboard_user(session: Session, result: UserResult, options: argparse.Namespace, start: StartLine) -> None:
    username = options.username or VIEWER
    started = time.perf_counter()
    view = await session.sign_in(username, username + PASSWORD_SUFFIX)
    result.sign_in_seconds = time.perf_counter() - started
    record(result, view)
    result.runs.clear()  # the sign-in's own run is reported as sign-in time, not as a page run
    result.finished_at.clear()
    result.at_start = True
    await start.wait()
    rng = random.Random(result.user)
    await think(options.think, rng)
    for _ in range(options.runs):
        record(result, await session.rerun())
        await think(options.think, rng)


async def sandbox_user(session: Session, result: UserResult, options: argparse.Namespace, start: StartLine) -> None:
    username = options.username or OPERATOR
    started = time.perf_counter()
    await session.sign_in(username, username + PASSWORD_SUFFIX)
    result.sign_in_seconds = time.perf_counter() - started
    started = time.perf_counter()
    if "sandbox" not in session.pages:
        raise LoadError(f"{username} is not offered the Sandbox page (pages: {sorted(session.pages)})")
    page = await session.rerun(page_script_hash=session.pages["sandbox"])
    picker = next((box for box in page.widgets("selectbox") if box.label == "Trial"), None)
    if picker is None:
        raise LoadError(f"the Sandbox page shows no trial to pick (headings: {page.headings()}); create trials first")
    wanted = f"{TRIAL_PREFIX} {result.user + 1} ("
    mine = next((option for option in picker.options if option.startswith(wanted)), None)
    # Without trials of our own naming, sessions take turns over the user's trials (and may then share some).
    result.trial = mine or picker.options[result.user % len(picker.options)]
    session.set_widget(picker.id, string_value=result.trial)
    opened = await session.rerun()
    if not opened.ok:
        raise LoadError(f"opening the trial failed: {opened.status} {opened.exceptions}")
    result.first_view_seconds = time.perf_counter() - started
    slider = opened.widget_id("slider", "Score threshold")
    result.at_start = True
    await start.wait()
    rng = random.Random(result.user)
    await think(options.think, rng)
    # A new threshold every run, so the trial's outcome and curve are computed, never read from the cache.
    for number in range(options.runs):
        threshold = 20 + number % 80
        session.set_widget(slider, double_array_value=[float(threshold)])
        run = await session.rerun()
        # The curve chart marks the threshold in use: proof that the server took the knob, not a cached page.
        drawn = b"".join(chart.SerializeToString() for chart in run.widgets("vega_lite_chart"))
        marks = (f'"Your threshold {threshold}"'.encode(), f'"Your threshold {threshold}, the recommended"'.encode())
        if run.ok and not any(mark in drawn for mark in marks):
            run.exceptions.append(f"the curve does not mark threshold {threshold}: the knob was not applied")
        record(result, run)
        await think(options.think, rng)


async def one_user(number: int, options: argparse.Namespace, start: StartLine) -> UserResult:
    result = UserResult(number)
    session = Session(options.url, options.run_timeout)
    scenario = scoreboard_user if options.scenario == "scoreboard" else sandbox_user
    try:
        await session.open()
        await scenario(session, result, options, start)
    except Exception as problem:
        result.error = f"{type(problem).__name__}: {problem}"
        if not start.go.is_set() and not result.at_start:
            start.arrive()  # nobody waits for a user who will never come
    finally:
        await session.close()
    return result


# ------------------------------------------------------------------------------------------ server memory
def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of the process so far (to tell how many cores the server kept busy)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU time all cores spent not idle since boot: the rest of the machine, tests or other jobs, competes too."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle and iowait
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


class Sampler:
    """The server's resident memory every quarter second while the scenario runs, for its peak."""

    def __init__(self, pid: int | None, every: float = 0.25) -> None:
        self.pid, self.every = pid, every
        self.samples: list[float] = []
        self.task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while self.pid is not None:
            value = rss_mb(self.pid)
            if value is not None:
                self.samples.append(value)
            await asyncio.sleep(self.every)

    def start(self) -> None:
        if self.pid is not None:
            self.task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


# -------------------------------------------------------------------------------------------- the report
def percentile(values: list[float], share: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default), so p95 of 20 runs is not just the max."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def by_minute(results: list[UserResult], since: float) -> list[dict[str, float | int]]:
    minutes: dict[int, list[float]] = {}
    for result in results:
        for seconds, end in zip(result.runs, result.finished_at, strict=True):
            minutes.setdefault(int((end - since) // 60), []).append(seconds)
    return [
        {"minute": minute, "runs": len(values), "p50_s": percentile(values, 0.5) or 0.0, "max_s": max(values)}
        for minute, values in sorted(minutes.items())
    ]


def summary(values: list[float]) -> dict[str, float | int | None]:
    return {
        "count": len(values),
        "p50_s": percentile(values, 0.50),
        "p95_s": percentile(values, 0.95),
        "p99_s": percentile(values, 0.99),
        "max_s": max(values) if values else None,
        "mean_s": statistics.fmean(values) if values else None,
    }


async def run_scenario(options: argparse.Namespace) -> dict[str, Any]:
    start = StartLine(options.users)
    pid = options.server_pid
    sampler = Sampler(pid)
    rss_before = rss_mb(pid) if pid else None
    sampler.start()
    started = time.perf_counter()
    tasks = [asyncio.create_task(one_user(number, options, start)) for number in range(options.users)]
    await start.everyone_here.wait()
    cpu_start = cpu_seconds(pid) if pid else None
    machine_start, client_start = machine_busy_seconds(), time.process_time()
    timed_from = time.perf_counter()
    start.go.set()
    results = await asyncio.gather(*tasks)
    timed_seconds = time.perf_counter() - timed_from
    cpu_end = cpu_seconds(pid) if pid else None
    machine_cores = (machine_busy_seconds() - machine_start) / timed_seconds if timed_seconds > 0 else None
    client_cores = (time.process_time() - client_start) / timed_seconds if timed_seconds > 0 else None
    await asyncio.sleep(options.settle)  # closed sessions release their state; "after" is the steady figure
    await sampler.stop()
    runs = [seconds for result in results for seconds in result.runs]
    failed = [f"user {result.user}: {failure}" for result in results for failure in result.failed_runs]
    errors = [f"user {result.user}: {result.error}" for result in results if result.error]
    report: dict[str, Any] = {
        "scenario": options.scenario,
        "url": options.url,
        "users": options.users,
        "runs_per_user": options.runs,
        "think_s": options.think,
        "wall_s": time.perf_counter() - started,
        "timed_s": timed_seconds,
        "runs": summary(runs),
        "runs_per_s": len(runs) / timed_seconds if timed_seconds > 0 else None,
        "sign_in": summary([r.sign_in_seconds for r in results if r.sign_in_seconds is not None]),
        "first_view": summary([r.first_view_seconds for r in results if r.first_view_seconds is not None]),
        # Per minute of the timed phase: runs and the slowest one, so that a cache expiring shows where it hit.
        "by_minute": by_minute(results, timed_from),
        "failed_runs": failed,
        "errors": errors,
        "signed_in_users": sum(1 for result in results if result.sign_in_seconds is not None),
        "last_headings": sorted({heading for result in results for heading in result.saw}),
        "metrics_seen": max((result.metrics for result in results), default=0),
        "trials": [result.trial for result in results if result.trial],
        "machine_cores_busy": machine_cores,  # everything, this client and the server included
        "client_cores_busy": client_cores,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "server": None,
    }
    if pid:
        report["server"] = {
            "pid": pid,
            "rss_before_mb": rss_before,
            "rss_peak_mb": max(sampler.samples, default=None),
            "rss_after_mb": rss_mb(pid),
            "cpu_cores_busy": (cpu_end - cpu_start) / timed_seconds
            if cpu_start is not None and cpu_end is not None and timed_seconds > 0
            else None,
        }
    return report


def print_report(report: dict[str, Any]) -> None:
    def seconds(value: float | None) -> str:
        return "—" if value is None else f"{value * 1000:.0f} ms"

    runs = report["runs"]
    print(
        f"{report['scenario']}: {report['users']} users × {report['runs_per_user']} runs, think {report['think_s']} s, "
        f"{report['signed_in_users']} signed in"
    )
    print(
        f"  page runs: {runs['count']} ok, p50 {seconds(runs['p50_s'])}, p95 {seconds(runs['p95_s'])}, "
        f"p99 {seconds(runs['p99_s'])}, max {seconds(runs['max_s'])}, {report['runs_per_s'] or 0:.1f} runs/s"
    )
    sign_in = report["sign_in"]
    print(f"  sign-in (incl. first view): p50 {seconds(sign_in['p50_s'])}, max {seconds(sign_in['max_s'])}")
    if report["first_view"]["count"]:
        first = report["first_view"]
        print(f"  opening the page and trial: p50 {seconds(first['p50_s'])}, max {seconds(first['max_s'])}")
    print(f"  failed runs: {len(report['failed_runs'])}, user errors: {len(report['errors'])}")
    for line in (report["errors"] + report["failed_runs"])[:10]:
        print(f"    {line}")
    server = report["server"]
    if server:

        def mb(value: float | None) -> str:
            return "—" if value is None else f"{value:.0f} MB"

        busy = server["cpu_cores_busy"]
        print(
            f"  server RSS: before {mb(server['rss_before_mb'])}, peak {mb(server['rss_peak_mb'])}, "
            f"after {mb(server['rss_after_mb'])}; CPU {'—' if busy is None else f'{busy:.2f}'} cores busy"
        )
    print(
        f"  machine: {report['machine_cores_busy'] or 0:.2f} of {report['cpus']} cores busy while timed "
        f"(this client {report['client_cores_busy'] or 0:.2f})"
    )
    print(f"  last page drew: {report['last_headings']} ({report['metrics_seen']} metrics)")


# ----------------------------------------------------------------------------------------- setting it up
def _engine(database_url: str) -> Any:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from core.db import open_database

    # Through DATABASE_URL so that core spells the URL as the app does (postgresql:// → psycopg); put back at
    # once, because a test process goes on after this.
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = database_url
    try:
        return open_database()
    finally:
        if previous is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = previous


def ensure_accounts(database_url: str) -> None:
    """The load test's viewer and operator, created once in the benchmark database."""
    engine = _engine(database_url)
    from core.admin.users import create_user, get_user
    from core.permissions import Actor

    try:
        for username, role in ((VIEWER, "exec"), (OPERATOR, "ops")):
            if get_user(engine, username) is None:
                create_user(
                    engine,
                    Actor("load-setup", "admin"),
                    username=username,
                    name=f"Load test {role}",
                    email=f"{username}@load.invalid",
                    role=role,
                    password=username + PASSWORD_SUFFIX,
                )
    finally:
        engine.dispose()


def ensure_trials(database_url: str, username: str, count: int) -> list[int]:
    """Trials "load 1" … "load <count>" for the user, each the stored leads of the last 365 days of data
    (the Sandbox page's default period), made once and reused by later runs."""
    engine = _engine(database_url)
    from core.funnel.segments import data_range
    from core.permissions import Actor
    from core.sandbox.trials import stored_trial, trials

    try:
        actor = Actor(username, "ops")
        span = data_range(engine)
        if span is None:
            raise LoadError("the database holds no leads to copy into a trial")
        have = {trial.name: trial.id for trial in trials(engine, actor)}
        first = max(span[0], span[1] - dt.timedelta(days=364))
        for number in range(1, count + 1):
            name = f"{TRIAL_PREFIX} {number}"
            if name not in have:
                have[name] = stored_trial(engine, actor, name, first, span[1]).id
        return [have[f"{TRIAL_PREFIX} {number}"] for number in range(1, count + 1)]
    finally:
        engine.dispose()


def wait_until_healthy(url: str, process: subprocess.Popen[bytes] | None, timeout: float = 120) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise LoadError(f"streamlit exited with code {process.returncode} before answering")
        try:
            with opener.open(f"{url.rstrip('/')}/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise LoadError(f"{url} did not answer /_stcore/health within {timeout:.0f} s")


def start_server(
    url: str,
    database_url: str,
    log: Path | None,
    options: Iterable[str] = (),
    script: str = "serve.py",
    environment: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """`streamlit run serve.py` with a random cookie key and the load test's accounts; options are extra Streamlit
    settings as "section.name=value", environment extra environment variables."""
    port = urlsplit(url).port or 8501
    ensure_accounts(database_url)
    environment = {
        **os.environ,
        **(environment or {}),
        "DATABASE_URL": database_url,
        "ONEFUNNEL_COOKIE_KEY": secrets.token_urlsafe(48),
    }
    environment.pop("ONEFUNNEL_DEMO", None)
    command = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port)]
    # No file watcher: other work in the same checkout must not make the server reload mid-measurement.
    command += ["--server.headless", "true", "--server.fileWatcherType", "none"]
    for option in options:
        name, _, value = option.partition("=")
        command += [f"--{name}", value]
    output = log.open("wb") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        wait_until_healthy(url, process)
    except BaseException:
        stop_server(process)
        raise
    return process


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8599", help="the app (default %(default)s)")
    parser.add_argument("--scenario", choices=["scoreboard", "sandbox"], default="scoreboard")
    parser.add_argument("--users", type=int, default=10, help="concurrent sessions (default %(default)s)")
    parser.add_argument("--runs", type=int, default=20, help="timed page runs per user (default %(default)s)")
    parser.add_argument(
        "--think", type=float, default=1.0, help="seconds between a run's end and the next request, ±50%% (default 1)"
    )
    parser.add_argument(
        "--username", help=f"sign in as (default: {VIEWER} for the scoreboard, {OPERATOR} for the sandbox)"
    )
    parser.add_argument("--server-pid", type=int, help="sample this process's memory (implied by --serve)")
    parser.add_argument("--serve", action="store_true", help="start streamlit on --url's port with --database-url")
    parser.add_argument("--database-url", help="the app's database: for --serve, and to create sandbox trials")
    parser.add_argument("--server-log", type=Path, help="with --serve: the server's output goes here")
    parser.add_argument(
        "--streamlit-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with --serve: a Streamlit setting, e.g. runner.postScriptGC=false (repeatable)",
    )
    parser.add_argument("--run-timeout", type=float, default=300.0, help="a run slower than this is an error")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to wait before the 'after' memory figure")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    options = parser.parse_args(argv)
    if options.serve and not options.database_url:
        parser.error("--serve needs --database-url")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_arguments(argv)
    if options.database_url:
        ensure_accounts(options.database_url)
    if options.scenario == "sandbox" and options.database_url:
        ensure_trials(options.database_url, options.username or OPERATOR, options.users)
    process = (
        start_server(options.url, options.database_url, options.server_log, options.streamlit_option)
        if options.serve
        else None
    )
    try:
        if process is not None:
            options.server_pid = process.pid
        else:
            wait_until_healthy(options.url, None, timeout=10)
        report = asyncio.run(run_scenario(options))
    finally:
        if process is not None:
            stop_server(process)
    if options.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0 if not report["errors"] and not report["failed_runs"] else 1


if __name__ == "__main__":
    sys.exit(main())
