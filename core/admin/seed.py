"""Loading the committed sample data: the demo's fictional company, and the definitions it has signed."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from sqlalchemy import Engine

from core.alignment.diagnostic import survey
from core.config import PROJECT_ROOT
from core.definitions import versions
from core.definitions.rules import KINDS, DefinitionError, validate_rules
from core.definitions.versions import VersionInfo
from core.imports.runs import ImportResult, import_csv
from core.permissions import Actor
from core.settings import current

SAMPLE_DIR = PROJECT_ROOT / "sample_data"
# Leads first so that opportunities find the leads they came from.
SEED_ORDER = ("leads", "opportunities", "touches", "spend", "targets")
# The company's signed definitions, next to its data; a folder without this file seeds no definitions.
DEFINITIONS_FILE = "definitions.yaml"
# Past rounds of the self-diagnostic, one row per respondent and round; a folder without it seeds no survey.
SURVEY_FILE = "survey.csv"
# The round the demo's visitors answer: opened by seeding when none is open or coming, for two weeks.
OPEN_ROUND_DAYS = 14

SEED_ACTOR = Actor("seed", "admin")
# Who writes and signs the sample company's definitions: the demo users of core.admin.demo, so that the
# Definitions page and the audit log show the people a demo visitor can sign in as.
PROPOSER = Actor("ops", "ops")
SIGNERS = (Actor("marketing_lead", "marketing_lead"), Actor("sales_lead", "sales_lead"))


@dataclass(frozen=True)
class DefinitionSeed:
    """What seeding the definitions did: the versions it put in force, and the kinds it left alone."""

    put_in_force: tuple[VersionInfo, ...] = ()
    already_present: tuple[str, ...] = ()
    missing_file: Path | None = None

    def summary(self) -> str:
        if self.missing_file is not None:
            return f"definitions: none seeded ({self.missing_file} is missing)"
        done = ", ".join(f"{version.kind} v{version.number}" for version in self.put_in_force)
        kept = ", ".join(self.already_present)
        if done and kept:
            return f"definitions: put {done} in force; {kept} already present, left alone"
        if done:
            return f"definitions: put {done} in force"
        return f"definitions: already present ({kept}), left alone" if kept else "definitions: none in the file"


@dataclass(frozen=True)
class SurveySeed:
    """What seeding the survey did: past rounds imported or already there, and the round opened for answers."""

    imported: tuple[str, ...] = ()
    already_present: tuple[str, ...] = ()
    opened: str | None = None

    def summary(self) -> str:
        parts = []
        if self.imported:
            parts.append("imported " + ", ".join(self.imported))
        if self.already_present:
            parts.append(", ".join(self.already_present) + " already present")
        if self.opened:
            parts.append(f"opened {self.opened} for answers")
        return "survey: " + ("; ".join(parts) if parts else "nothing to do")


def seed_survey(engine: Engine, path: Path, *, today: dt.date) -> SurveySeed | None:
    """Imports each past round of the file not yet present (by name), then opens a round for the next two weeks
    unless one is open or coming, so that a demo visitor can answer. A folder without the file: None, nothing."""
    if not path.is_file():
        return None
    present = {info.name for info in survey.rounds(engine)}
    imported, kept = [], []
    answers = pd.read_csv(path, dtype=str, keep_default_na=False)
    for (name, opens_on, closes_on), frame in answers.groupby(["round", "opens_on", "closes_on"], sort=False):
        if name in present:
            kept.append(str(name))
            continue
        table = frame.drop(columns=["round", "opens_on", "closes_on"]).reset_index(drop=True)
        survey.import_round(
            engine,
            SEED_ACTOR,
            str(name),
            dt.date.fromisoformat(str(opens_on)),
            dt.date.fromisoformat(str(closes_on)),
            table,
            today=today,
        )
        imported.append(str(name))
    opened = None
    if not any(info.status(today) in ("open", "upcoming") for info in survey.rounds(engine)):
        name = f"Q{(today.month - 1) // 3 + 1} {today.year} pulse"
        if name in present or name in imported:
            name = f"Pulse of {today:%d %b %Y}"
        closes_on = today + dt.timedelta(days=OPEN_ROUND_DAYS - 1)
        try:
            opened = survey.open_round(engine, SEED_ACTOR, name, today, closes_on, today=today).name
        except survey.SurveyError:
            opened = None  # a past round reaches into the next two weeks; the demo has no open round then
    return SurveySeed(tuple(imported), tuple(kept), opened)


class SeedResults(list[ImportResult]):
    """The import of each canonical file, in SEED_ORDER, and what seeding the definitions did."""

    def __init__(
        self, imports: list[ImportResult], definitions: DefinitionSeed | None, survey: SurveySeed | None = None
    ) -> None:
        super().__init__(imports)
        self.definitions = definitions
        self.survey = survey

    def summaries(self) -> list[str]:
        lines = [result.summary() for result in self]
        if self.definitions is not None:
            lines.append(self.definitions.summary())
        if self.survey is not None:
            lines.append(self.survey.summary())
        return lines


def load_definitions(path: Path) -> dict[str, tuple[dict[str, Any], str]]:
    """kind -> (rules in their stored form, prose) from a definitions file, in KINDS order.

    A file that cannot be used is a ValueError naming the problem, before anything is written."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ValueError(f"{path} must map each definition kind ({', '.join(KINDS)}) to its rules and prose")
    unknown = sorted(str(kind) for kind in document if kind not in KINDS)
    if unknown:
        raise ValueError(f"{path}: unknown definition kinds {', '.join(unknown)}; expected some of {', '.join(KINDS)}")
    loaded: dict[str, tuple[dict[str, Any], str]] = {}
    for kind in KINDS:
        if kind not in document:
            continue
        entry = document[kind]
        if not isinstance(entry, dict) or set(entry) != {"rules", "prose"} or not isinstance(entry["rules"], dict):
            raise ValueError(f"{path}: {kind} must have exactly `rules` (a mapping) and `prose` (text)")
        if not isinstance(entry["prose"], str) or not entry["prose"].strip():
            raise ValueError(f"{path}: {kind} needs its prose, the paragraph people read")
        try:
            rules = validate_rules(kind, entry["rules"])
        except DefinitionError as exc:
            raise ValueError(f"{path}: {exc}") from exc
        loaded[kind] = (rules, entry["prose"].strip())
    return loaded


def seed_definitions(engine: Engine, path: Path) -> DefinitionSeed:
    """Puts each definition of the file in force, through the same propose and sign-off workflow (and audit
    log) as the Definitions page. A kind that already has any version, in force or not, is left alone: the
    sample never replaces or competes with definitions someone wrote, and a re-run changes nothing."""
    if not path.is_file():
        return DefinitionSeed(missing_file=path)
    wanted = load_definitions(path)
    present = {version.kind for version in versions.versions(engine)}
    put_in_force, left_alone = [], []
    for kind, (rules, prose) in wanted.items():
        if kind in present:
            left_alone.append(kind)
            continue
        version = versions.propose(engine, PROPOSER, kind, rules, prose)
        for signer in SIGNERS:
            version = versions.approve(engine, signer, version.id, revision=version.revision)
        put_in_force.append(version)
    return DefinitionSeed(tuple(put_in_force), tuple(left_alone))


def seed_sample_data(
    engine: Engine,
    directory: Path = SAMPLE_DIR,
    *,
    actor: Actor = SEED_ACTOR,
    with_definitions: bool = True,
    with_survey: bool = True,
) -> SeedResults:
    """Import the five canonical CSVs from `directory`, then put the definitions of its versions.yaml in
    force (unless with_definitions is False) and load its past survey rounds, opening one for answers (unless
    with_survey is False); a re-run changes nothing."""
    paths = {kind: directory / f"{kind}.csv" for kind in SEED_ORDER}
    for path in paths.values():
        if not path.is_file():
            raise ValueError(f"sample data file {path} is missing; run `python sample_data/generate.py`")
    definitions_path = directory / DEFINITIONS_FILE
    if with_definitions and definitions_path.is_file():
        load_definitions(definitions_path)  # a bad file is refused before any import writes
    results = [import_csv(engine, kind, path, actor=actor) for kind, path in paths.items()]
    seeded = seed_definitions(engine, definitions_path) if with_definitions else None
    survey = seed_survey(engine, directory / SURVEY_FILE, today=current(engine).today()) if with_survey else None
    return SeedResults(results, seeded, survey)
