"""Concurrent writers (issue 10): eight people sign off definitions and edit the year's targets while a reader
aggregates the leads, on SQLite and on PostgreSQL.

What must hold afterwards: no update lost (every month's target is what its editor last saved; a version both
sides approved is in force or superseded, never left waiting), no sign-off twice (one per side per version),
and no error a person would see other than the two answers the app gives on purpose to a late signer ("the
sales side has already signed", "… is active; only a proposal is signed"). Bounded by STRESS_SECONDS.

`run_stress` is a plain function so that it can be pointed at a database whose write transactions are not
serialised, to see it fail (the module's last test does that on SQLite).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, event, func, insert, select
from sqlalchemy.exc import OperationalError

from core import db
from core.admin.planning import TARGET_METRICS, save_targets, targets_frame
from core.definitions.rules import DefinitionError
from core.definitions.versions import approve, propose
from core.funnel.kpis import KpiQuery, kpi_table
from core.imports.runs import import_csv
from core.models import AuditEntry, DefinitionSignoff, DefinitionVersion, Setting, utcnow
from core.permissions import Actor
from tests.conftest import TESTER

STRESS_SECONDS = float(os.environ.get("STRESS_SECONDS", "6"))
WRITERS = 8
MIN_ROUNDS = 3  # on a slow machine the run takes longer rather than proving less
YEAR = 2031  # targets nobody else writes
SAMPLE_LEADS = Path(__file__).resolve().parent.parent / "sample_data" / "leads.csv"
PROPOSER = Actor("mia", "marketing")
# Four leads per side race for each sign-off; the first of each side signs, the other three are told so.
SIGNERS = [Actor(f"marketing-lead-{i}", "marketing_lead") for i in range(4)] + [
    Actor(f"sales-lead-{i}", "sales_lead") for i in range(4)
]
EXPECTED_ANSWERS = ("has already signed", "only a proposal is signed")
# The kinds the rounds cycle through; an SLA coming into force rewrites every lead's response deadline, the
# heaviest write there is, while the reader aggregates those very rows.
KIND_CYCLE = (("mql", {"score_threshold": 50}), ("mql", {"score_threshold": 65}), ("sla", {"response_hours": 6}))


@dataclass
class Outcome:
    rounds: list[tuple[int, str]] = field(default_factory=list)  # (version id, kind) per round
    approvals: int = 0
    expected_refusals: int = 0
    unexpected: list[str] = field(default_factory=list)
    target_saves: int = 0
    last_target: dict[int, float] = field(default_factory=dict)  # month -> the value its editor last saved
    reader_runs: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, who: str, error: BaseException) -> None:
        with self.lock:
            self.unexpected.append(f"{who}: {type(error).__name__}: {error}")


def _seed(engine: Engine) -> None:
    import_csv(engine, "leads", SAMPLE_LEADS, actor=TESTER)
    first = pd.DataFrame({"month": [dt.date(YEAR, month, 1) for month in range(1, 13)]})
    for metric in TARGET_METRICS:
        first[metric] = 100.0 if metric == "mqls" else float("nan")
    save_targets(engine, TESTER, first, year=YEAR)


def run_stress(engine: Engine, seconds: float) -> Outcome:
    """Eight writers and one reader for about `seconds`; returns what each saw."""
    outcome = Outcome()
    deadline = time.monotonic() + seconds
    stop = threading.Event()
    current: dict[str, int] = {}

    def next_round() -> None:
        # Runs in one thread while the eight wait at the barrier: the next proposal they will all sign.
        if time.monotonic() > deadline and len(outcome.rounds) >= MIN_ROUNDS:
            stop.set()
            return
        kind, rules = KIND_CYCLE[len(outcome.rounds) % len(KIND_CYCLE)]
        version = propose(engine, PROPOSER, kind, rules)
        outcome.rounds.append((version.id, kind))
        current["id"] = version.id

    barrier = threading.Barrier(WRITERS, action=next_round, timeout=120)

    def writer(index: int, signer: Actor) -> None:
        month = index + 1
        value = 100.0
        try:
            while True:
                barrier.wait()
                if stop.is_set():
                    return
                try:
                    approve(engine, signer, current["id"])
                    with outcome.lock:
                        outcome.approvals += 1
                except DefinitionError as refusal:
                    if not any(answer in str(refusal) for answer in EXPECTED_ANSWERS):
                        raise
                    with outcome.lock:
                        outcome.expected_refusals += 1
                # Each writer edits only its own month, from the table as it last read it: the save must keep
                # the other seven's months as they are now, not as this writer read them.
                shown = targets_frame(engine, YEAR)
                edited = shown.copy()
                value += 1
                edited.loc[edited["month"] == dt.date(YEAR, month, 1), "mqls"] = value
                save_targets(engine, TESTER, edited, year=YEAR, shown=shown)
                with outcome.lock:
                    outcome.target_saves += 1
                    outcome.last_target[month] = value
        except BaseException as error:  # anything else would have reached the person
            outcome.fail(signer.username, error)
            stop.set()
            barrier.abort()

    def reader() -> None:
        query = KpiQuery(dt.date(2024, 1, 1), dt.date(2026, 12, 31), grain="month")
        while not stop.is_set():
            try:
                table = kpi_table(engine, query)
                assert int(table["leads_created"].sum()) > 0
                outcome.reader_runs += 1
            except BaseException as error:
                outcome.fail("reader", error)
                return

    threads = [threading.Thread(target=writer, args=(i, signer)) for i, signer in enumerate(SIGNERS)]
    threads.append(threading.Thread(target=reader))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    stop.set()
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return outcome


def check(engine: Engine, outcome: Outcome) -> None:
    assert not outcome.unexpected, outcome.unexpected[:5]
    assert len(outcome.rounds) >= MIN_ROUNDS and outcome.reader_runs >= 1, (len(outcome.rounds), outcome.reader_runs)
    rounds = len(outcome.rounds)
    # Every round: one approval per side succeeded, the other six got the app's answer.
    assert outcome.approvals == 2 * rounds
    assert outcome.expected_refusals == (WRITERS - 2) * rounds
    with engine.connect() as connection:
        signoffs = connection.execute(
            select(DefinitionSignoff.version_id, DefinitionSignoff.side, func.count())
            .group_by(DefinitionSignoff.version_id, DefinitionSignoff.side)
            .having(func.count() > 1)
        ).all()
        assert signoffs == [], f"duplicated sign-offs: {signoffs}"
        states = dict(connection.execute(select(DefinitionVersion.id, DefinitionVersion.state)).all())
        audit = Counter(
            connection.execute(
                select(AuditEntry.action).where(AuditEntry.entity == "definition", AuditEntry.action != "propose")
            ).scalars()
        )
    last_of_kind = {kind: version for version, kind in outcome.rounds}
    for version, kind in outcome.rounds:
        expected = "active" if last_of_kind[kind] == version else "superseded"
        assert states[version] == expected, (version, kind, states[version])
    assert audit["approve"] == 2 * rounds and audit["activate"] == rounds, audit
    stored = targets_frame(engine, YEAR)
    for month, value in outcome.last_target.items():
        saved = stored.loc[stored["month"] == dt.date(YEAR, month, 1), "mqls"].item()
        assert saved == value, f"month {month}: stored {saved}, its editor last saved {value} (an update was lost)"
    assert outcome.target_saves >= WRITERS * rounds


def test_writers_and_a_reader_lose_nothing(engine: Engine) -> None:
    _seed(engine)
    outcome = run_stress(engine, STRESS_SECONDS)
    check(engine, outcome)


def test_without_serialised_writes_sqlite_loses_updates_or_fails(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same run with SQLite's write transactions begun DEFERRED, as the driver's default does: the test
    above would catch it. (Without this, a stress test that passes could be one that cannot fail.)"""
    if engine.dialect.name != "sqlite":
        pytest.skip("the driver default being shown is SQLite's")
    _seed(engine)
    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 2)  # what a lock error costs is not what this shows
    deferred = db.get_engine(engine.url.render_as_string(hide_password=False))
    event.remove(deferred, "begin", db._sqlite_on_begin)
    event.listen(deferred, "begin", lambda connection: connection.exec_driver_sql("BEGIN"))
    try:
        outcome = run_stress(deferred, min(STRESS_SECONDS, 4))
        with pytest.raises(AssertionError):
            check(deferred, outcome)
    finally:
        deferred.dispose()


def test_a_deadlock_is_run_again_not_shown(engine: Engine) -> None:
    """Two transactions lock the same two rows in opposite orders: PostgreSQL kills one (40P01), `retrying`
    runs it again, and both changes land. On SQLite the second writer waits for the first instead."""
    with db.writing(engine).begin() as connection:
        for key in ("deadlock_a", "deadlock_b"):
            connection.execute(insert(Setting).values(key=key, value={"n": 0}, updated_at=utcnow(), updated_by="t"))
    attempts: Counter[str] = Counter()
    both_hold_their_first = threading.Barrier(2, timeout=10)

    @db.retrying
    def bump(first: str, second: str) -> None:
        attempts[first] += 1
        with db.session_scope(engine) as session:
            for key in (first, second):
                row = session.get(Setting, key, with_for_update=True)
                assert row is not None
                row.value = {"n": row.value["n"] + 1}
                session.flush()
                if key == first and attempts[first] == 1 and engine.dialect.name == "postgresql":
                    both_hold_their_first.wait()  # the first attempts cross: a certain deadlock

    threads = [
        threading.Thread(target=bump, args=("deadlock_a", "deadlock_b")),
        threading.Thread(target=bump, args=("deadlock_b", "deadlock_a")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with engine.connect() as connection:
        values = dict(
            connection.execute(select(Setting.key, Setting.value).where(Setting.key.like("deadlock_%"))).all()
        )
    assert values == {"deadlock_a": {"n": 2}, "deadlock_b": {"n": 2}}  # neither bump lost
    if engine.dialect.name == "postgresql":
        assert sum(attempts.values()) == 3, attempts  # one of the two ran twice


def test_only_a_deadlock_or_serialization_failure_is_retried() -> None:
    class DriverError(Exception):
        def __init__(self, sqlstate: str) -> None:
            self.sqlstate = sqlstate

    calls: list[str] = []

    @db.retrying
    def fails_once(sqlstate: str) -> str:
        calls.append(sqlstate)
        if calls.count(sqlstate) == 1:
            raise OperationalError("UPDATE …", {}, DriverError(sqlstate))
        return "done"

    assert fails_once("40P01") == "done" and fails_once("40001") == "done"
    with pytest.raises(OperationalError):
        fails_once("23505")  # a unique violation is an answer, not a collision to run again
    assert calls == ["40P01", "40P01", "40001", "40001", "23505"]
