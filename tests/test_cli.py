"""The CLI: exit codes, JSON output, dry runs and the same numbers on both databases."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cli import main, parser
from tests.conftest import _postgres_url
from tests.fixtures import FILES


@pytest.fixture
def fixture_dir(tmp_path: Path) -> Path:
    for kind, content in FILES.items():
        (tmp_path / f"{kind}.csv").write_text(content, encoding="utf-8")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def kpis_json(capsys: pytest.CaptureFixture[str], url: str, first: str, last: str, *options: str) -> list[dict]:
    code, out, _ = run(
        capsys,
        "--database-url",
        url,
        "kpis",
        "--from",
        first,
        "--to",
        last,
        *options,
        "--json",
        "--as-of",
        "2025-02-03T10:00",
    )
    assert code == 0
    return list(json.loads(out))


def test_seed_then_kpis_json(tmp_path: Path, fixture_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    code, out, _ = run(capsys, "--database-url", url, "seed", "--dir", str(fixture_dir))
    assert code == 0 and "inserted 8" in out
    rows = {row["group"]: row for row in kpis_json(capsys, url, "2025-01-01", "2025-01-31", "--by", "source")}
    assert rows["paid_search"]["mqls"] == 2
    assert rows["paid_search"]["mql_to_sql"] == 0.5
    assert rows["paid_search"]["mql_target"] is None
    assert rows["(no lead)"]["pipeline_created"] == 5000


def test_bad_file_exits_2_with_the_report_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("lead_id,created_at,source\nX,yesterday,web\n", encoding="utf-8")
    code, out, err = run(capsys, "--database-url", f"sqlite:///{tmp_path / 'c.db'}", "import", "leads", str(bad))
    assert code == 2 and out == ""
    assert "row 2, column 'created_at': 'yesterday' is not valid" in err


def test_dry_run_writes_nothing(tmp_path: Path, fixture_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    code, out, _ = run(capsys, "--database-url", url, "import", "leads", str(fixture_dir / "leads.csv"), "--dry-run")
    assert code == 0 and "would insert 8" in out
    code, out, _ = run(capsys, "--database-url", url, "import", "leads", str(fixture_dir / "leads.csv"))
    assert "inserted 8" in out


def test_unknown_preset_and_bad_mapping_exit_2(
    tmp_path: Path, fixture_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    code, _, err = run(
        capsys, "--database-url", url, "import", "leads", str(fixture_dir / "leads.csv"), "--preset", "nope"
    )
    assert code == 2 and "no preset named 'nope'" in err
    mapping = tmp_path / "m.yaml"
    mapping.write_text("name: m\nkind: leads\nfields: {lead_id: {column: id}}\n", encoding="utf-8")
    code, _, err = run(
        capsys, "--database-url", url, "import", "leads", str(fixture_dir / "leads.csv"), "--mapping", str(mapping)
    )
    assert code == 2 and "must map created_at, source" in err


def test_same_numbers_on_sqlite_and_postgresql(
    tmp_path: Path, fixture_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not os.environ.get("TEST_DATABASE_URL"):
        pytest.skip("TEST_DATABASE_URL is not set")
    import uuid

    from sqlalchemy import create_engine, text

    schema = f"cli_{uuid.uuid4().hex[:8]}"
    admin = create_engine(_postgres_url())
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        pg_url = _postgres_url() + ("&" if "?" in _postgres_url() else "?") + f"options=-csearch_path%3D{schema}"
        outputs = []
        for url in (f"sqlite:///{tmp_path / 'same.db'}", pg_url):
            assert run(capsys, "--database-url", url, "seed", "--dir", str(fixture_dir))[0] == 0
            for grain in ("week", "month"):
                outputs.append(kpis_json(capsys, url, "2024-12-01", "2025-02-28", "--grain", grain, "--by", "owner"))
        assert outputs[0] == outputs[2] and outputs[1] == outputs[3]
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))


def leaf_commands(
    command: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], object]]:
    """Every runnable command line (`sandbox outcome`, `kpis`), with the function its area registered for it."""
    subcommands = [action for action in command._actions if isinstance(action, argparse._SubParsersAction)]
    if not subcommands:
        yield path, command.get_default("run")
        return
    for name, sub in subcommands[0].choices.items():
        yield from leaf_commands(sub, (*path, name))


def test_every_command_is_registered_with_the_function_that_runs_it() -> None:
    commands = dict(leaf_commands(parser()))
    assert {" ".join(path) for path in commands} >= {  # today's commands, and any an area adds
        *("init-db", "migrate", "seed", "create-user", "unlock-user", "import", "presets", "kpis", "scoreboard"),
        *("rejections", "reasons list", "reasons unmapped", "reasons map"),
        *("survey rounds", "survey open", "survey close", "survey import", "survey results"),
        *("sync agenda", "sync open", "sync close", "sync add-action", "sync review", "sync actions"),
        *("sandbox list", "sandbox upload", "sandbox stored", "sandbox outcome", "sandbox propose", "sandbox delete"),
    }
    assert all(callable(run) for run in commands.values()), [
        path for path, run in commands.items() if not callable(run)
    ]
