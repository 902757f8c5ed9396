"""Caches that cannot mix users' data (issue 10).

st.cache_data hashes a large DataFrame argument from a sample of its rows (Streamlit issue #14622), so two
users' uploads that differ outside the sample would share an entry. The rule here: no cached function takes
a frame, an upload or bytes; sandbox reads are keyed by the trial's id and its owner, and core checks the
owner again on every miss.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import Engine

import ui.cache
from core.permissions import Actor, PermissionDenied
from core.sandbox import outcome, trials
from tests.conftest import csv_file

ROOT = Path(__file__).resolve().parent.parent
# Annotations a cached function's parameter must not have: values whose hash Streamlit samples or that carry
# one person's upload.
FORBIDDEN = ("DataFrame", "Series", "ndarray", "UploadedFile", "bytes", "IO", "BinaryIO", "TextIO")
OLGA = Actor("olga", "ops")
ADA = Actor("ada", "admin")
HEADER = "lead_id,created_at,source,company_size,seniority,score,mql_at,sql_at,rejected_at,first_response_at"


def _cached_functions() -> list[tuple[str, ast.FunctionDef]]:
    found = []
    for path in [ROOT / "app.py", *sorted((ROOT / "ui").glob("*.py")), *sorted((ROOT / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef) and any("cache_" in ast.unparse(d) for d in node.decorator_list):
                found.append((f"{path.relative_to(ROOT)}:{node.name}", node))
    return found


def test_no_cached_function_takes_a_frame_or_an_upload() -> None:
    functions = _cached_functions()
    assert len(functions) >= 20  # the walk finds the caches (ui/cache.py has most of them)
    offenders = []
    for where, function in functions:
        for argument in [*function.args.args, *function.args.kwonlyargs]:
            annotation = ast.unparse(argument.annotation) if argument.annotation is not None else None
            if annotation is None or any(word in annotation for word in FORBIDDEN):
                offenders.append(f"{where}({argument.arg}: {annotation})")
    assert offenders == []


def _leads(score: int) -> str:
    """Twelve leads of the same shape and size; only the score differs between the two users' files."""
    rows = [
        f"L{i},2025-01-{6 + i % 5:02d} 09:00,web,{50 + i},manager,{score},2025-01-{6 + i % 5:02d} 10:00,"
        f"{'2025-01-20 10:00' if i % 2 else ''},{'' if i % 2 else '2025-01-21 10:00'},2025-01-{6 + i % 5:02d} 11:00"
        for i in range(12)
    ]
    return "\n".join([HEADER, *rows]) + "\n"


def test_two_users_uploads_never_see_each_other(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui.cache, "engine", lambda: engine)
    ui.cache.clear_after_write()
    # The same file name and trial name, the same shape: only who uploaded it tells them apart.
    olgas = trials.upload_trial(engine, OLGA, "Q1 leads", csv_file(_leads(score=90), "leads.csv"))
    adas = trials.upload_trial(engine, ADA, "Q1 leads", csv_file(_leads(score=10), "leads.csv"))
    knobs = outcome.Knobs(score_threshold=50, icp_fit_required=False)
    mine = ui.cache.trial_outcome(OLGA.username, OLGA.role, olgas.id, knobs, "Your knobs")
    theirs = ui.cache.trial_outcome(ADA.username, ADA.role, adas.id, knobs, "Your knobs")
    assert (mine.leads, mine.mqls) == (12, 12)  # every score 90 passes 50
    assert (theirs.leads, theirs.mqls) == (12, 0)  # every score 10 fails it
    assert mine == outcome.outcome(engine, OLGA, olgas.id, knobs)
    my_curve = ui.cache.trial_curve(OLGA.username, OLGA.role, olgas.id, knobs).points.set_index("threshold")
    their_curve = ui.cache.trial_curve(ADA.username, ADA.role, adas.id, knobs).points.set_index("threshold")
    assert (my_curve.loc[90, "mqls"], their_curve.loc[90, "mqls"]) == (12, 0)
    # With Ada's result in the cache, Olga asking for Ada's trial is a miss that core refuses, both ways.
    with pytest.raises(PermissionDenied):
        ui.cache.trial_outcome(OLGA.username, OLGA.role, adas.id, knobs, "Your knobs")
    with pytest.raises(PermissionDenied):
        ui.cache.trial_curve(ADA.username, ADA.role, olgas.id, knobs)
    with pytest.raises(PermissionDenied):
        ui.cache.trial_choices(OLGA.username, OLGA.role, adas.id)
    assert [t.id for t in trials.trials(engine, OLGA)] == [olgas.id]
    assert [t.id for t in trials.trials(engine, ADA)] == [adas.id]
    ui.cache.clear_after_write()
