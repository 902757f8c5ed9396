"""Loading the committed sample data: the demo's fictional company."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from core.config import PROJECT_ROOT
from core.importer import ImportResult, import_csv
from core.permissions import Actor

SAMPLE_DIR = PROJECT_ROOT / "sample_data"
# Leads first so that opportunities find the leads they came from.
SEED_ORDER = ("leads", "opportunities", "touches", "spend", "targets")


SEED_ACTOR = Actor("seed", "admin")


def seed_sample_data(engine: Engine, directory: Path = SAMPLE_DIR, *, actor: Actor = SEED_ACTOR) -> list[ImportResult]:
    """Import the five canonical CSVs from `directory`; a re-run changes nothing."""
    results = []
    for kind in SEED_ORDER:
        path = directory / f"{kind}.csv"
        if not path.is_file():
            raise ValueError(f"sample data file {path} is missing; run `python sample_data/generate.py`")
        results.append(import_csv(engine, kind, path, actor=actor))
    return results
