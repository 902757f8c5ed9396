"""bench/load.py against a real `streamlit run` on the seeded sample company: the client must sign in through the
app's form, reach the page it is meant to load, and time runs that finished. No timed assertions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import free_port, load_module, seeded_for_load

pytest.importorskip("websockets")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def load() -> Any:
    return load_module()


@pytest.fixture(scope="module")
def server(load: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    folder = tmp_path_factory.mktemp("load")
    database_url = seeded_for_load(load, folder)
    load.ensure_trials(database_url, load.OPERATOR, 1)
    url = f"http://127.0.0.1:{free_port()}"
    process = load.start_server(url, database_url, folder / "server.log")
    try:
        yield url, process.pid
    finally:
        load.stop_server(process)


def run(load: Any, server: tuple[str, int], *arguments: str) -> dict[str, Any]:
    url, pid = server
    common = ["--url", url, "--server-pid", str(pid), "--think", "0", "--settle", "0", "--run-timeout", "50"]
    report: dict[str, Any] = asyncio.run(load.run_scenario(load.parse_arguments([*common, *arguments])))
    return report


def assert_timed(report: dict[str, Any], runs: int) -> None:
    assert report["errors"] == [] and report["failed_runs"] == []
    assert report["runs"]["count"] == runs
    for figure in ("p50_s", "p95_s", "max_s"):
        assert report["runs"][figure] > 0
    assert report["sign_in"]["max_s"] > 0
    assert report["server"]["rss_peak_mb"] > 0


def test_scoreboard_viewers_sign_in_and_see_the_scoreboard(load: Any, server: tuple[str, int]) -> None:
    report = run(load, server, "--scenario", "scoreboard", "--users", "2", "--runs", "2")
    assert_timed(report, runs=4)
    assert report["signed_in_users"] == 2
    # The page itself, not the sign-in form: its title, its sections and the six headline metrics.
    assert "Scoreboard" in report["last_headings"]
    assert "Sign in to OneFunnel" not in report["last_headings"]
    assert report["metrics_seen"] >= 6


def test_a_sandbox_user_opens_their_trial_and_moves_a_knob(load: Any, server: tuple[str, int]) -> None:
    report = run(load, server, "--scenario", "sandbox", "--users", "1", "--runs", "2")
    # A run whose curve did not mark the new threshold would be a failed run.
    assert_timed(report, runs=2)
    assert "Sandbox" in report["last_headings"]
    assert report["trials"][0].startswith("load 1 (")
    assert report["first_view"]["max_s"] > 0


def test_a_wrong_password_is_not_taken_for_a_sign_in(load: Any, server: tuple[str, int]) -> None:
    async def try_it() -> None:
        session = load.Session(server[0], run_timeout=50)
        await session.open()
        try:
            await session.sign_in(load.VIEWER, "not-the-password")
        finally:
            await session.close()

    with pytest.raises(load.LoadError, match="could not sign in"):
        asyncio.run(try_it())


def test_percentiles_interpolate_between_ranks(load: Any) -> None:
    values = [float(value) for value in range(1, 21)]
    assert load.percentile(values, 0.5) == pytest.approx(10.5)
    assert load.percentile(values, 0.95) == pytest.approx(19.05)
    assert load.percentile([], 0.95) is None
