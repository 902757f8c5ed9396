"""The misalignment self-diagnostic: the survey, its anonymous results, the perception gap, the same signs
measured in the data, and the action plan they lead to.

Areas are the root causes of the seeds; each is tied to a step of the seven-step alignment framework
(seed "Sales and Marketing Alignment: How to Turn Two Teams Into One Revenue Engine") and to the OneFunnel
page that does that step.

Anonymity: no group of fewer than MIN_GROUP people is ever shown, and a group is also withheld when
showing it would let someone subtract their way to a smaller one (see `withheld`). Results of a round are
shown only once it has closed, so that watching the numbers move as one person answers reveals nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine, case, exists, func, select, text
from sqlalchemy.exc import IntegrityError

from core.audit import record
from core.db import read_scope, retrying, session_scope
from core.definitions.versions import KINDS, versions
from core.exports import markdown_text as md
from core.funnel.kpis import KpiQuery, data_range, kpi_table
from core.funnel.scoreboard import SLA_FLAG_BELOW, anchor_day, percent
from core.models import Lead, Opportunity, SurveyAnswer, SurveyResponse, SurveyRound, utcnow
from core.permissions import Actor, require
from core.rejections.explorer import RejectionQuery, overview
from core.settings import current

_ROUND_LOCK_ID = 4_242_007  # pg_advisory_xact_lock key serialising the creation of rounds
MIN_GROUP = 3  # no group smaller than this is ever shown
GAP_FLAG = 1.0  # points on the 1-5 scale: a perception gap this wide is flagged
AGREE = 4  # "agree" or "strongly agree"
HEALTHY, TROUBLED = 3.5, 3.0  # mean agreement at or above HEALTHY reads as fine; below TROUBLED as a problem
SIGNS_WINDOW_DAYS = 91  # the data a round is held against: the 13 weeks up to its close
COMPLETENESS_FLAG_BELOW = 0.95
UNMATCHED_FLAG_ABOVE = 0.05

SCALE = {1: "Strongly disagree", 2: "Disagree", 3: "Neither agree nor disagree", 4: "Agree", 5: "Strongly agree"}
Team = Literal["marketing", "sales", "ops", "other"]
Level = Literal["executive", "manager", "individual_contributor"]
TEAMS: dict[str, str] = {"marketing": "Marketing", "sales": "Sales", "ops": "Ops", "other": "Other"}
LEVELS: dict[str, str] = {
    "executive": "Executives",
    "manager": "Managers",
    "individual_contributor": "Individual contributors",
}


@dataclass(frozen=True)
class Area:
    key: str
    name: str
    step: int  # of FRAMEWORK
    action: str  # the fix, as the action plan words it
    page: str  # the OneFunnel page that does it
    page_label: str
    # (sign key, the fix instead): when that sign measures fine, the problem is understanding, not the missing thing
    instead: tuple[str, str] | None = None


@dataclass(frozen=True)
class Statement:
    key: str
    area: str
    text: str


FRAMEWORK = {
    1: "Set shared revenue goals both teams own",
    2: "Agree on one ICP and detailed buyer personas",
    3: "Define shared language and lead-qualification criteria",
    4: "Map the buyer journey and define handoffs",
    5: "Unify the tech stack around one source of truth",
    6: "Establish a communication cadence",
    7: "Start small, prove it, then scale",
}

AREAS: dict[str, Area] = {
    area.key: area
    for area in (
        Area(
            "goals",
            "Shared goals and metrics",
            1,
            "Put both teams on the same numbers: review MQL→SQL conversion and pipeline together, not MQL volume alone",
            "pages/scoreboard.py",
            "Scoreboard",
        ),
        Area(
            "definitions",
            "Shared definition of a qualified lead",
            3,
            "Write the ICP, MQL and SQL definitions together and have both leads sign them",
            "pages/definitions.py",
            "Definitions",
            (
                "definitions_review",
                "Walk both teams through the signed definitions, and tighten the MQL rule where sales keeps rejecting",
            ),
        ),
        Area(
            "handoff",
            "Handoff and follow-up",
            4,
            "Fix the SLA: response hours and the attempts owed before a rejection, then hold sales to it",
            "pages/definitions.py",
            "Definitions (SLA)",
        ),
        Area(
            "data",
            "Shared data and systems",
            5,
            "Bring both teams' exports into one database and fix missing handoff fields at the source",
            "pages/data.py",
            "Data",
        ),
        Area(
            "feedback",
            "Feedback loops and communication",
            6,
            "Run the weekly sync: go through rejection reasons with marketing and feed them back into targeting",
            "pages/weekly_sync.py",
            "Weekly sync",
        ),
        Area(
            "content",
            "Content",
            2,
            "Build the ICP and buyer personas together, and brief content from the objections sales hears",
            "pages/definitions.py",
            "Definitions (ICP)",
        ),
        Area(
            "leadership",
            "Leadership and structure",
            7,
            "Have both leaders review one scoreboard together and pilot changes in one segment before rolling out",
            "pages/scoreboard.py",
            "Scoreboard",
        ),
    )
}
ALIGNED = "aligned"  # the statement asked on its own, outside the areas
STATEMENTS: tuple[Statement, ...] = (
    Statement(
        "goals_shared_number",
        "goals",
        "Marketing and sales are measured on at least one number they share, such as pipeline or revenue.",
    ),
    Statement(
        "goals_quality_over_volume",
        "goals",
        "Marketing is judged on how many of its leads convert, not only on how many it brings in.",
    ),
    Statement(
        "definitions_written",
        "definitions",
        "Our definition of a qualified lead is written down and signed by both teams.",
    ),
    Statement("definitions_no_disputes", "definitions", "Marketing and sales rarely argue about the quality of leads."),
    Statement("handoff_follow_up", "handoff", "Sales follows up on marketing's leads within the agreed time."),
    Statement(
        "handoff_context", "handoff", "When a lead is handed over, sales gets its source, intent and history with it."
    ),
    Statement("data_same_numbers", "data", "Both teams work from the same numbers; our reports reconcile."),
    Statement("data_one_system", "data", "Our CRM is one system of record that both teams trust."),
    Statement("feedback_rejections", "feedback", "When sales turns a lead away, marketing hears why."),
    Statement("feedback_cadence", "feedback", "Marketing and sales meet regularly to review leads and pipeline."),
    Statement("content_used", "content", "Sales uses the content marketing produces."),
    Statement("content_message", "content", "What our campaigns say matches what reps say on calls."),
    Statement(
        "leadership_priorities",
        "leadership",
        "Marketing and sales leaders agree on priorities and settle conflicts together.",
    ),
    Statement(
        "leadership_retrospective",
        "leadership",
        "After a missed target, we hold one shared review instead of blaming each other.",
    ),
    Statement(ALIGNED, ALIGNED, "Our sales and marketing teams are aligned."),
)
STATEMENT_BY_KEY = {statement.key: statement for statement in STATEMENTS}


# What a role usually is, to pre-fill the form; each person says what they are, since roles do not say level.
_TEAM_OF_ROLE = {"marketing": "marketing", "marketing_lead": "marketing", "sales": "sales", "sales_lead": "sales"}
_LEVEL_OF_ROLE = {"exec": "executive", "marketing_lead": "executive", "sales_lead": "executive"}


def suggested_tags(role: str) -> tuple[str, str | None]:
    """(team, level) to pre-fill for a role: the leads are VPs, so executives; ops are ops; the rest unknown."""
    team = _TEAM_OF_ROLE.get(role, "ops" if role == "ops" else "other")
    return team, _LEVEL_OF_ROLE.get(role)


def area_name(key: str) -> str:
    return AREAS[key].name if key in AREAS else '"We are aligned"'


class SurveyError(ValueError):
    """A survey write that cannot be done as asked; nothing was changed."""


class SurveyRefused(SurveyError):
    """An imported round with problems; `problems` names each row, column and what was expected."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(problems[:20]) + (f"\n… and {len(problems) - 20} more" if len(problems) > 20 else "")
        super().__init__(f"the answers were not imported ({len(problems)} problems):\n{shown}")


# ------------------------------------------------------------------ rounds


@dataclass(frozen=True)
class RoundInfo:
    id: int
    name: str
    opens_on: dt.date
    closes_on: dt.date
    closed_on: dt.date | None  # the day ops closed it early
    respondents: int

    @property
    def last_day(self) -> dt.date:
        """The last day answers were taken: the closing day, or the day ops closed it early."""
        return min(self.closes_on, self.closed_on) if self.closed_on else self.closes_on

    def status(self, today: dt.date) -> Literal["upcoming", "open", "closed"]:
        if self.closed_on is not None or today > self.closes_on:
            return "closed"
        return "open" if today >= self.opens_on else "upcoming"

    def describe(self) -> str:
        return f"{self.name} ({self.opens_on:%d %b} – {self.last_day:%d %b %Y})"


def _round_info(round_: SurveyRound, respondents: int) -> RoundInfo:
    return RoundInfo(round_.id, round_.name, round_.opens_on, round_.closes_on, round_.closed_on, respondents)


def _in_force() -> Any:
    return SurveyResponse.superseded_at.is_(None)


def rounds(engine: Engine) -> list[RoundInfo]:
    """Every round, newest first, with how many people answered."""
    counted = (
        select(SurveyResponse.round_id, func.count().label("respondents"))
        .where(_in_force())
        .group_by(SurveyResponse.round_id)
        .subquery()
    )
    with read_scope(engine) as session:
        rows = session.execute(
            select(SurveyRound, func.coalesce(counted.c.respondents, 0))
            .outerjoin(counted, counted.c.round_id == SurveyRound.id)
            .order_by(SurveyRound.opens_on.desc())
        ).all()
        return [_round_info(round_, int(respondents)) for round_, respondents in rows]


def open_round_on(engine: Engine, today: dt.date) -> RoundInfo | None:
    return next((r for r in rounds(engine) if r.status(today) == "open"), None)


def closed_rounds(engine: Engine, today: dt.date) -> list[RoundInfo]:
    return [r for r in rounds(engine) if r.status(today) == "closed"]


def _check_dates(name: str, opens_on: dt.date, closes_on: dt.date) -> str:
    name = " ".join(name.split())
    if not name:
        raise SurveyError("a round needs a name, e.g. 'Q4 2026 pulse'")
    if len(name) > 128:
        raise SurveyError("a round's name is at most 128 characters")
    if closes_on < opens_on:
        raise SurveyError(f"the round closes ({closes_on}) before it opens ({opens_on})")
    return name


def _overlap(session: Any, opens_on: dt.date, closes_on: dt.date) -> None:
    for other in session.scalars(select(SurveyRound)):
        info = _round_info(other, 0)
        if opens_on <= info.last_day and info.opens_on <= closes_on:
            raise SurveyError(f"{info.describe()} already covers some of those days; rounds may not overlap")


def _create_round(
    session: Any, actor: Actor, name: str, opens_on: dt.date, closes_on: dt.date, **detail: Any
) -> SurveyRound:
    if session.get_bind().dialect.name == "postgresql":
        # Two ops opening rounds at once: the second waits, then sees the first and its dates.
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ROUND_LOCK_ID})
    if session.scalar(select(SurveyRound.id).where(SurveyRound.name == name)) is not None:
        raise SurveyError(f"there is already a round called {name!r}")
    _overlap(session, opens_on, closes_on)
    round_ = SurveyRound(name=name, opens_on=opens_on, closes_on=closes_on, created_by=actor.username)
    session.add(round_)
    session.flush()
    record(
        session,
        actor=actor.username,
        action="open" if not detail else "import",
        entity="survey_round",
        entity_key=str(round_.id),
        detail={"name": name, "opens_on": opens_on.isoformat(), "closes_on": closes_on.isoformat(), **detail},
    )
    return round_


@retrying
def open_round(
    engine: Engine, actor: Actor, name: str, opens_on: dt.date, closes_on: dt.date, *, today: dt.date
) -> RoundInfo:
    """Ops open a round for everyone to answer; it may start later but not end in the past."""
    require(actor, "manage_survey")
    name = _check_dates(name, opens_on, closes_on)
    if closes_on < today:
        raise SurveyError(f"the round would close on {closes_on}, which has passed; pick a later closing day")
    try:
        with session_scope(engine) as session:
            return _round_info(_create_round(session, actor, name, opens_on, closes_on), 0)
    except IntegrityError:
        raise SurveyError(f"there is already a round called {name!r}") from None


@retrying
def close_round(engine: Engine, actor: Actor, round_id: int, *, today: dt.date) -> RoundInfo:
    """Ops close an open round before its closing day; its answers are final and its results appear."""
    require(actor, "manage_survey")
    with session_scope(engine) as session:
        round_ = session.get(SurveyRound, round_id, with_for_update=True)
        if round_ is None:
            raise SurveyError(f"there is no round {round_id}")
        if _round_info(round_, 0).status(today) != "open":
            raise SurveyError(f"{round_.name} is not open; only an open round can be closed")
        round_.closed_on, round_.closed_at, round_.closed_by = today, utcnow(), actor.username
        record(session, actor=actor.username, action="close", entity="survey_round", entity_key=str(round_id))
        respondents = session.scalar(select(func.count()).where(SurveyResponse.round_id == round_id, _in_force()))
        return _round_info(round_, int(respondents or 0))


# ------------------------------------------------------------------ answers


@dataclass(frozen=True)
class MyAnswer:
    team: str
    level: str
    scores: dict[str, int]
    submitted_at: dt.datetime
    changes: int  # how many times it was changed after the first answer


def _validated(team: str, level: str, scores: Mapping[str, Any]) -> dict[str, int]:
    if team not in TEAMS:
        raise SurveyError(f"team {team!r} is not one of {', '.join(TEAMS)}")
    if level not in LEVELS:
        raise SurveyError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    unknown = sorted(set(scores) - set(STATEMENT_BY_KEY))
    if unknown:
        raise SurveyError(f"unknown statements: {', '.join(unknown)}")
    missing = [s.text for s in STATEMENTS if scores.get(s.key) is None]
    if missing:
        raise SurveyError(f"{len(missing)} statements are unanswered, first: {missing[0]!r}")
    clean: dict[str, int] = {}
    for key, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise SurveyError(f"{STATEMENT_BY_KEY[key].text!r}: expected a whole number from 1 to 5, got {value!r}")
        clean[key] = value
    return clean


def _add_response(
    session: Any, round_id: int, respondent: str, team: str, level: str, scores: dict[str, int], at: dt.datetime
) -> None:
    response = SurveyResponse(round_id=round_id, respondent=respondent, team=team, level=level, submitted_at=at)
    session.add(response)
    session.flush()
    session.add_all(
        SurveyAnswer(response_id=response.id, statement=key, area=STATEMENT_BY_KEY[key].area, score=value)
        for key, value in scores.items()
    )


def my_answer(engine: Engine, actor: Actor, round_id: int) -> MyAnswer | None:
    """The signed-in person's own answer in force in this round: no one reads another's."""
    require(actor, "answer_survey")
    respondent = actor.username
    with read_scope(engine) as session:
        responses = session.scalars(
            select(SurveyResponse)
            .where(SurveyResponse.round_id == round_id, SurveyResponse.respondent == respondent)
            .order_by(SurveyResponse.submitted_at.desc(), SurveyResponse.id.desc())
        ).all()
        if not responses or responses[0].superseded_at is not None:
            return None
        latest = responses[0]
        scores = dict(
            session.execute(
                select(SurveyAnswer.statement, SurveyAnswer.score).where(SurveyAnswer.response_id == latest.id)
            ).all()
        )
        return MyAnswer(latest.team, latest.level, scores, latest.submitted_at, len(responses) - 1)


@retrying
def submit_answer(
    engine: Engine,
    actor: Actor,
    round_id: int,
    team: str,
    level: str,
    scores: Mapping[str, Any],
    *,
    today: dt.date,
) -> MyAnswer:
    """Saves the signed-in person's answer; a second answer in the same round replaces the first (which is kept,
    superseded). Only while the round is open. The audit log records that they answered, not what."""
    require(actor, "answer_survey")
    clean = _validated(team, level, scores)
    try:
        with session_scope(engine) as session:
            # A shared lock: close_round's exclusive one waits for this answer, or this answer sees it closed.
            round_ = session.get(SurveyRound, round_id, with_for_update={"read": True})
            if round_ is None:
                raise SurveyError(f"there is no round {round_id}")
            info = _round_info(round_, 0)
            if info.status(today) != "open":
                raise SurveyError(f"{info.describe()} is not open for answers")
            now = utcnow()
            earlier = session.scalar(
                select(SurveyResponse).where(
                    SurveyResponse.round_id == round_id, SurveyResponse.respondent == actor.username, _in_force()
                )
            )
            if earlier is not None:
                earlier.superseded_at = now
                session.flush()
            _add_response(session, round_id, actor.username, team, level, clean, now)
            record(
                session,
                actor=actor.username,
                action="change answer" if earlier is not None else "answer",
                entity="survey_round",
                entity_key=str(round_id),
            )
    except IntegrityError:
        # Two windows of the same person saved at once: the unique index kept one answer in force.
        raise SurveyError("your answer was just saved from another window; reload to see it") from None
    answer = my_answer(engine, actor, round_id)
    assert answer is not None
    return answer


ANSWER_COLUMNS = ("respondent", "team", "level", *(s.key for s in STATEMENTS))


@retrying
def import_round(
    engine: Engine,
    actor: Actor,
    name: str,
    opens_on: dt.date,
    closes_on: dt.date,
    answers: pd.DataFrame,
    *,
    today: dt.date,
) -> RoundInfo:
    """A round held before OneFunnel (or the sample company's), from a table with ANSWER_COLUMNS: one row per
    respondent, all or nothing. The round must have closed; its answers are final."""
    require(actor, "manage_survey")
    name = _check_dates(name, opens_on, closes_on)
    if closes_on >= today:
        raise SurveyError("only a round that has closed can be imported; open a round for one still running")
    problems = [f"column {column!r} is missing" for column in ANSWER_COLUMNS if column not in answers.columns]
    problems += [f"column {column!r} is not expected" for column in answers.columns if column not in ANSWER_COLUMNS]
    if not problems and answers.empty:
        problems.append("the table has no answers: expected one row per respondent")
    rows: list[tuple[str, str, str, dict[str, int]]] = []
    if not problems:
        seen: set[str] = set()
        for number, row in enumerate(answers.to_dict("records"), start=2):  # row 1 is the header
            respondent = str(row["respondent"]).strip() if pd.notna(row["respondent"]) else ""
            if not respondent:
                problems.append(f"row {number}, column 'respondent': expected an identifier, got a blank")
            elif len(respondent) > 128:
                problems.append(f"row {number}, column 'respondent': at most 128 characters, got {len(respondent)}")
            elif respondent in seen:
                problems.append(f"row {number}, column 'respondent': {respondent!r} answered twice")
            seen.add(respondent)
            for column, allowed in (("team", TEAMS), ("level", LEVELS)):
                if row[column] not in allowed:
                    problems.append(
                        f"row {number}, column {column!r}: expected one of {', '.join(allowed)}, got {row[column]!r}"
                    )
            scores: dict[str, int] = {}
            for statement in STATEMENTS:
                value = row[statement.key]
                as_float = pd.to_numeric(value, errors="coerce")
                if (
                    pd.isna(as_float)
                    or not math.isfinite(as_float)
                    or as_float != int(as_float)
                    or not 1 <= as_float <= 5
                ):
                    problems.append(
                        f"row {number}, column {statement.key!r}: expected a whole number from 1 to 5, got {value!r}"
                    )
                else:
                    scores[statement.key] = int(as_float)
            rows.append((respondent, str(row["team"]), str(row["level"]), scores))
    if problems:
        raise SurveyRefused(problems)
    with session_scope(engine) as session:
        round_ = _create_round(session, actor, name, opens_on, closes_on, respondents=len(rows))
        submitted = dt.datetime.combine(closes_on, dt.time(12))
        for respondent, team, level, scores in rows:
            _add_response(session, round_.id, respondent, team, level, scores, submitted)
        return _round_info(round_, len(rows))


# ------------------------------------------------------------------ anonymity


CELLS: tuple[tuple[str, str], ...] = tuple((team, level) for team in TEAMS for level in LEVELS)
# Every union of team × level cells, as 0/1 rows over CELLS: the groups an onlooker could try to isolate.
_UNIONS = np.array([[(mask >> i) & 1 for i in range(len(CELLS))] for mask in range(1, 2 ** len(CELLS))], dtype=float)
GroupKey = tuple[str, str]  # ("all", ""), ("team", team), ("level", level) or ("cell", "team/level")


def _groups() -> dict[GroupKey, frozenset[tuple[str, str]]]:
    """Every group some view of a round can show, as the cells it is made of."""
    groups: dict[GroupKey, frozenset[tuple[str, str]]] = {("all", ""): frozenset(CELLS)}
    groups |= {("team", team): frozenset(c for c in CELLS if c[0] == team) for team in TEAMS}
    groups |= {("level", level): frozenset(c for c in CELLS if c[1] == level) for level in LEVELS}
    groups |= {("cell", f"{t}/{lv}"): frozenset({(t, lv)}) for t, lv in CELLS}
    return groups


def _disclosed(published: list[frozenset[tuple[str, str]]], sizes: np.ndarray) -> bool:
    """Whether the published groups' sums let someone compute the sum of the answers of 1 to MIN_GROUP - 1
    people. Sums are linear in the cells, so a union of cells is known when its 0/1 row lies in the span of
    the published groups' rows; the onlooker is assumed to know which cells are empty (an org chart tells
    that there is no ops executive), and an empty cell's sum is 0."""
    basis = [[1.0 if cell in group else 0.0 for cell in CELLS] for group in published]
    basis += [list(np.eye(len(CELLS))[i]) for i in np.flatnonzero(sizes == 0)]
    if not published:
        return False
    rows = np.array(basis)
    projector = np.linalg.pinv(rows) @ rows
    known = np.abs(_UNIONS @ projector - _UNIONS).max(axis=1) < 1e-7
    union_sizes = _UNIONS @ sizes
    return bool((known & (union_sizes > 0) & (union_sizes < MIN_GROUP)).any())


@dataclass(frozen=True)
class Withheld:
    """What of one round may be shown: the groups published, the same in every view of it."""

    shown: frozenset[GroupKey]

    def team(self, team: str) -> bool:
        return ("team", team) in self.shown

    def level(self, level: str) -> bool:
        return ("level", level) in self.shown

    def cell(self, team: str, level: str) -> bool:
        return ("cell", f"{team}/{level}") in self.shown


def withheld(counts: Mapping[tuple[str, str], int]) -> Withheld:
    """The groups of a round that may be shown: no group under MIN_GROUP people, and no set of groups from
    which adding and subtracting gives the answers of fewer than MIN_GROUP people (checked exactly, across
    every view: everyone, each team, each level, each team × level cell). While some combination would,
    the smallest shown group (cells first) is withheld too; everyone together is withheld only when under
    MIN_GROUP. Empty groups are withheld like small ones, so which are empty is not shown either."""
    sizes = np.array([counts.get(cell, 0) for cell in CELLS], dtype=float)
    groups = _groups()
    rank = {"cell": 0, "team": 1, "level": 1, "all": 2}
    shown = [key for key, cells in groups.items() if sum(counts.get(c, 0) for c in cells) >= MIN_GROUP]
    while _disclosed([groups[key] for key in shown], sizes):
        smallest = min(
            (key for key in shown if key[0] != "all"),
            key=lambda key: (sum(counts.get(c, 0) for c in groups[key]), rank[key[0]], list(groups).index(key)),
        )
        shown.remove(smallest)
    return Withheld(frozenset(shown))


# ------------------------------------------------------------------ results


@dataclass(frozen=True)
class ResultsView:
    """Whose answers: everyone, one team (broken down by level) or one level (broken down by team)."""

    team: str | None = None
    level: str | None = None

    def __post_init__(self) -> None:
        if self.team is not None and self.level is not None:
            raise SurveyError("filter by a team or by a level, not both")
        if self.team is not None and self.team not in TEAMS:
            raise SurveyError(f"team {self.team!r} is not one of {', '.join(TEAMS)}")
        if self.level is not None and self.level not in LEVELS:
            raise SurveyError(f"level {self.level!r} is not one of {', '.join(LEVELS)}")

    def describe(self) -> str:
        if self.team is not None:
            return TEAMS[self.team]
        return LEVELS[self.level] if self.level is not None else "Everyone"


@dataclass(frozen=True)
class GroupScores:
    """One group's mean agreement per area (and per statement), or None when the group is withheld."""

    dimension: Literal["all", "team", "level"]
    key: str
    name: str
    respondents: int | None
    areas: dict[str, float] = field(default_factory=dict)
    statements: dict[str, float] = field(default_factory=dict)
    agree_aligned: float | None = None  # share who agree (4 or 5) that the teams are aligned

    @property
    def shown(self) -> bool:
        return self.respondents is not None


@dataclass(frozen=True)
class Gap:
    area: str
    between: str  # "Executives vs individual contributors"
    left: str
    left_score: float
    right: str
    right_score: float

    @property
    def points(self) -> float:
        return self.left_score - self.right_score

    @property
    def flagged(self) -> bool:
        return round(abs(self.points), 1) >= GAP_FLAG  # as shown: a gap shown as 1.0 is flagged


@dataclass(frozen=True)
class Results:
    round: RoundInfo
    view: ResultsView
    withheld_reason: str | None  # why nothing is shown, else None
    everyone: GroupScores | None  # the view's whole population
    groups: list[GroupScores]  # the breakdowns the view allows, withheld ones with respondents None
    gaps: list[Gap]
    previous: RoundInfo | None = None
    change: dict[str, float] = field(default_factory=dict)  # area -> points since the previous round

    @property
    def shown(self) -> bool:
        return self.withheld_reason is None

    def group(self, key: str) -> GroupScores | None:
        return next((g for g in self.groups if g.key == key and g.shown), None)


def _cells(engine: Engine, round_id: int) -> pd.DataFrame:
    """Per team × level × statement: respondents, sum of scores and agreeing answers (aggregated in SQL)."""
    statement = (
        select(
            SurveyResponse.team,
            SurveyResponse.level,
            SurveyAnswer.area,
            SurveyAnswer.statement,
            func.count().label("answers"),
            func.sum(SurveyAnswer.score).label("total"),
            func.sum(case((SurveyAnswer.score >= AGREE, 1), else_=0)).label("agree"),
        )
        .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyResponse.round_id == round_id, _in_force())
        .group_by(SurveyResponse.team, SurveyResponse.level, SurveyAnswer.area, SurveyAnswer.statement)
    )
    with engine.connect() as connection:
        frame = pd.DataFrame(connection.execute(statement).mappings().all())
    if frame.empty:
        return pd.DataFrame(columns=["team", "level", "area", "statement", "answers", "total", "agree"])
    for column in ("answers", "total", "agree"):
        frame[column] = frame[column].astype(int)
    return frame


def _respondents(engine: Engine, round_id: int) -> dict[tuple[str, str], int]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(SurveyResponse.team, SurveyResponse.level, func.count())
            .where(SurveyResponse.round_id == round_id, _in_force())
            .group_by(SurveyResponse.team, SurveyResponse.level)
        ).all()
    return {(team, level): int(n) for team, level, n in rows}


def _scores(
    dimension: Literal["all", "team", "level"],
    key: str,
    name: str,
    cells: pd.DataFrame,
    counts: Mapping[tuple[str, str], int],
    members: Iterable[tuple[str, str]],
    shown: bool,
) -> GroupScores:
    members = set(members)
    respondents = sum(counts.get(cell, 0) for cell in members)
    if not shown or respondents < MIN_GROUP:
        return GroupScores(dimension, key, name, None)
    mine = cells[[(t, lv) in members for t, lv in zip(cells["team"], cells["level"], strict=True)]]
    by_area = mine.groupby("area")[["total", "answers"]].sum()
    by_statement = mine.groupby("statement")[["total", "answers", "agree"]].sum()
    areas = {area: float(row.total / row.answers) for area, row in by_area.iterrows() if row.answers}
    statements = {s: float(row.total / row.answers) for s, row in by_statement.iterrows() if row.answers}
    aligned = by_statement.loc[ALIGNED] if ALIGNED in by_statement.index else None
    agree = float(aligned.agree / aligned.answers) if aligned is not None and aligned.answers else None
    return GroupScores(dimension, key, name, respondents, areas, statements, agree)


def _gap(area: str, between: str, left: GroupScores | None, right: GroupScores | None) -> Gap | None:
    if left is None or right is None or area not in left.areas or area not in right.areas:
        return None
    return Gap(area, between, left.name, left.areas[area], right.name, right.areas[area])


def _view_scores(engine: Engine, info: RoundInfo, view: ResultsView) -> tuple[str | None, GroupScores | None, list]:
    cells, counts = _cells(engine, info.id), _respondents(engine, info.id)
    allowed = withheld(counts)
    if view.team is not None:
        members, population_shown = {c for c in CELLS if c[0] == view.team}, allowed.team(view.team)
    elif view.level is not None:
        members, population_shown = {c for c in CELLS if c[1] == view.level}, allowed.level(view.level)
    else:
        members, population_shown = set(CELLS), ("all", "") in allowed.shown
    if not population_shown:
        return (
            f"{view.describe()}: fewer than {MIN_GROUP} people answered, or showing them would let someone work "
            "out the answers of fewer than that; nothing is shown.",
            None,
            [],
        )
    everyone = _scores("all", "all", view.describe(), cells, counts, members, True)
    groups: list[GroupScores] = []
    if view.team is None:  # break down by team
        for team, name in TEAMS.items():
            shown = allowed.team(team) if view.level is None else allowed.cell(team, view.level)
            groups.append(_scores("team", team, name, cells, counts, {c for c in members if c[0] == team}, shown))
    if view.level is None:  # break down by level
        for level, name in LEVELS.items():
            shown = allowed.level(level) if view.team is None else allowed.cell(view.team, level)
            groups.append(_scores("level", level, name, cells, counts, {c for c in members if c[1] == level}, shown))
    return None, everyone, groups


def results(engine: Engine, round_id: int, view: ResultsView | None = None, *, today: dt.date) -> Results:
    """A closed round's anonymous results for a view: scores per area for the view's people and for each group
    it breaks down into, the perception gaps, and the change since the previous closed round."""
    view = view or ResultsView()
    every_round = rounds(engine)
    info = next((r for r in every_round if r.id == round_id), None)
    if info is None:
        raise SurveyError(f"there is no round {round_id}")
    if info.status(today) != "closed":
        return Results(
            info,
            view,
            f"Results of {info.name} appear when it closes on {info.closes_on:%d %b %Y}, so that no single answer "
            f"can be read from the numbers moving. {info.respondents} people have answered so far.",
            None,
            [],
            [],
        )
    reason, everyone, groups = _view_scores(engine, info, view)
    if reason is not None:
        return Results(info, view, reason, None, [], [])
    by_key = {g.key: g for g in groups if g.shown}
    gaps = []
    for area in [*AREAS, ALIGNED]:
        for pair in (
            ("Executives vs individual contributors", "executive", "individual_contributor"),
            ("Marketing vs sales", "marketing", "sales"),
        ):
            gap = _gap(area, pair[0], by_key.get(pair[1]), by_key.get(pair[2]))
            if gap is not None:
                gaps.append(gap)
    earlier = [r for r in every_round if r.status(today) == "closed" and r.last_day < info.opens_on]
    previous = earlier[0] if earlier else None
    change: dict[str, float] = {}
    if previous is not None and everyone is not None:
        before_reason, before, _ = _view_scores(engine, previous, view)
        if before_reason is None and before is not None:
            change = {a: everyone.areas[a] - before.areas[a] for a in everyone.areas if a in before.areas}
    return Results(info, view, None, everyone, groups, gaps, previous, change)


# ------------------------------------------------------------------ the same signs, measured


@dataclass(frozen=True)
class Sign:
    """A sign of misalignment from the seeds, measured in the data, and the statement that asks about it."""

    key: str
    name: str
    statement: str
    measured: str
    problem: bool | None  # None: the data cannot tell


@dataclass(frozen=True)
class SignReading:
    sign: Sign
    everyone: float | None
    executives: float | None
    contributors: float | None
    verdict: Literal["confirmed", "blind spot", "felt, not measured", "healthy", "unknown"]
    explanation: str

    @property
    def agree(self) -> bool | None:
        """Whether what people say and what the data shows agree."""
        if self.verdict in ("confirmed", "healthy"):
            return True
        return False if self.verdict in ("blind spot", "felt, not measured") else None


def signs_window(info: RoundInfo | None, today: dt.date, data_ends: dt.date | None) -> tuple[dt.date, dt.date]:
    """The 13 weeks of data up to the round's last day (or today), ending no later than the data does."""
    last = anchor_day(info.last_day if info is not None else today, data_ends)
    return last - dt.timedelta(days=SIGNS_WINDOW_DAYS - 1), last


def _definitions_review(engine: Engine, day: dt.date, interval: int) -> tuple[str, bool]:
    """Which definitions were in force on `day`, and whether any was past its review by then."""
    missing, overdue = [], []
    history = versions(engine)
    for kind in KINDS:
        in_force = [
            v
            for v in history
            if v.kind == kind
            and v.activated_at is not None
            and v.activated_at.date() <= day
            and (v.state == "active" or (v.closed_at is not None and v.closed_at.date() > day))
        ]
        if not in_force:
            missing.append(kind.upper())
            continue
        version = max(in_force, key=lambda v: v.activated_at or dt.datetime.min)
        assert version.activated_at is not None
        if day > version.activated_at.date() + dt.timedelta(days=interval):
            overdue.append(f"{kind.upper()} v{version.number} (signed {version.activated_at:%d %b %Y})")
    parts = []
    if missing:
        parts.append(f"on {day:%d %b %Y} no signed definition of " + ", ".join(missing))
    if overdue:
        parts.append(f"overdue for the {interval}-day review on {day:%d %b %Y}: " + ", ".join(overdue))
    return (
        "; ".join(parts) if parts else f"all {len(KINDS)} definitions signed and reviewed within {interval} days"
    ), bool(parts)


def measured_signs(engine: Engine, first_day: dt.date, last_day: dt.date) -> list[Sign]:
    """The signs of misalignment the data can show, over [first_day, last_day], judged by the gates in force
    (the definitions by those in force on last_day)."""
    settings = current(engine)
    row = kpi_table(engine, KpiQuery(first_day, last_day, "range")).iloc[0]
    rejections = overview(engine, RejectionQuery(first_day, last_day))
    signs: list[Sign] = []

    share = rejections.unqualified_share
    signs.append(
        Sign(
            "lead_quality",
            "Recurring arguments about lead quality",
            "definitions_no_disputes",
            (
                f"{percent(share)} of dispositioned MQLs were rejected as unqualified "
                f"({rejections.cohort_rejected:,} of {rejections.dispositioned:,}); the gate is "
                f"{percent(rejections.rejection_gate)}"
            )
            if rejections.dispositioned
            else f"not available: {rejections.share_unavailable}"
            if rejections.share_unavailable
            else "no MQL was accepted or rejected in the period",
            rejections.over_gate if rejections.dispositioned else None,
        )
    )

    judged = int(row.sla_met + row.sla_breached)
    compliance = row.sla_compliance
    signs.append(
        Sign(
            "slow_follow_up",
            "Slow or inconsistent follow-up",
            "handoff_follow_up",
            (
                f"{percent(compliance)} of MQLs answered within the {settings.sla_hours:g}-hour SLA "
                f"({int(row.sla_met):,} of {judged:,}); below {percent(SLA_FLAG_BELOW)} is a problem"
            )
            if judged
            else f"not available: {row.unavailable['sla_compliance']}"
            if "sla_compliance" in row.unavailable
            else "no MQL could be judged against the SLA in the period",
            bool(compliance < SLA_FLAG_BELOW) if judged else None,
        )
    )

    with engine.connect() as connection:
        linked = connection.execute(
            select(
                func.count().label("linked"),
                func.sum(case((~exists().where(Lead.lead_id == Opportunity.lead_id), 1), else_=0)).label("unmatched"),
            ).where(
                Opportunity.created_day >= first_day,
                Opportunity.created_day <= last_day,
                Opportunity.lead_id.is_not(None),
                Opportunity.lead_id != "",
            )
        ).one()
    linked_count, unmatched = int(linked.linked or 0), int(linked.unmatched or 0)
    unmatched_share = unmatched / linked_count if linked_count else 0.0
    completeness = row.data_completeness
    parts = []
    if row.mqls and "data_completeness" in row.unavailable:
        completeness = math.nan  # not measured, so no sign either way
        parts.append(f"handoff fields not available: {row.unavailable['data_completeness']}")
    elif row.mqls:
        parts.append(
            f"{percent(1 - completeness)} of MQLs miss a handoff field (company, title, e-mail, source or intent)"
        )
    if linked_count:
        parts.append(
            f"{percent(unmatched_share)} of opportunities name a lead the lead export does not have"
            if unmatched
            else "every opportunity's lead is in the lead export"
        )
    signs.append(
        Sign(
            "separate_numbers",
            "Separate systems and numbers that never reconcile",
            "data_same_numbers",
            "; ".join(parts) if parts else "no MQLs or opportunities in the period",
            (
                bool((row.mqls and completeness < COMPLETENESS_FLAG_BELOW) or unmatched_share > UNMATCHED_FLAG_ABOVE)
                if (row.mqls and not math.isnan(completeness)) or linked_count
                else None
            ),
        )
    )

    attainment, conversion = row.mql_attainment, row.mql_to_sql
    if "mql_to_sql" in row.unavailable or "mql_to_sql" in row.maturing:
        # Conversion the data cannot show, or a cohort still converting, proves no weak bottom of the funnel.
        why = row.unavailable.get("mql_to_sql") or "the period's MQLs are still maturing"
        top_heavy, measured = None, f"MQL→SQL conversion not available: {why}"
    elif row.mqls and not math.isnan(attainment):
        top_heavy = bool(attainment >= 1 and conversion < settings.conversion_gate)
        measured = (
            f"MQLs at {percent(attainment)} of target while MQL→SQL conversion is {percent(conversion)} "
            f"(gate {percent(settings.conversion_gate)})"
        )
    else:
        top_heavy, measured = None, "no MQL target or no MQLs for the period"
    signs.append(
        Sign(
            "top_heavy",
            "Strong top of funnel, weak conversion",
            "goals_quality_over_volume",
            measured,
            top_heavy,
        )
    )

    rejected, no_reason = rejections.rejected, rejections.no_reason
    signs.append(
        Sign(
            "no_reason",
            "Rejections without a reason",
            "feedback_rejections",
            f"not available: {rejections.no_reason_unavailable}"
            if rejections.no_reason_unavailable
            else f"{no_reason:,} of {rejections.reasons_known:,} rejections carry no reason (target 0)"
            if rejected
            else "no rejections in the period",
            bool(no_reason > 0) if rejected and not rejections.no_reason_unavailable else None,
        )
    )

    text, overdue = _definitions_review(engine, last_day, settings.review_interval_days)
    signs.append(
        Sign("definitions_review", "Definitions unsigned or overdue for review", "definitions_written", text, overdue)
    )
    return signs


def _score_of(group: GroupScores | None, statement: str) -> float | None:
    return group.statements.get(statement) if group is not None and group.shown else None


def read_signs(signs: list[Sign], outcome: Results) -> list[SignReading]:
    """Each measured sign next to what people said about it, and whether the two agree."""
    everyone = outcome.everyone
    executives, contributors = outcome.group("executive"), outcome.group("individual_contributor")
    readings = []
    for sign in signs:
        said = _score_of(everyone, sign.statement)
        said_exec, said_ic = _score_of(executives, sign.statement), _score_of(contributors, sign.statement)
        text = STATEMENT_BY_KEY[sign.statement].text
        if said is None or sign.problem is None:
            verdict: Any = "unknown"
            explanation = "not enough answers or data to compare"
        elif sign.problem and said < TROUBLED:
            verdict, explanation = "confirmed", "people see the problem the data shows"
        elif sign.problem:
            verdict = "blind spot"
            explanation = f'the data shows a problem, yet the answers average {said:.1f} of 5 on "{text}"'
        elif said < TROUBLED:
            verdict, explanation = "felt, not measured", "people feel a problem the data does not show"
        else:
            verdict, explanation = "healthy", "the data and the answers agree there is no problem"
        if (
            said_exec is not None
            and said_ic is not None
            and round(abs(said_exec - said_ic), 1) >= GAP_FLAG  # as shown, like Gap.flagged
            and sign.problem is not None
        ):
            nearer = "individual contributors" if (said_ic < said_exec) == sign.problem else "executives"
            explanation += (
                f"; executives score it {said_exec:.1f} and individual contributors {said_ic:.1f}: "
                f"the data sides with the {nearer}"
            )
        readings.append(SignReading(sign, said, said_exec, said_ic, verdict, explanation))
    return readings


# ------------------------------------------------------------------ the action plan


@dataclass(frozen=True)
class Action:
    area: str
    priority: float
    title: str
    step: int
    page: str
    page_label: str
    because: list[str]

    @property
    def step_text(self) -> str:
        return f"Step {self.step} of the alignment framework: {FRAMEWORK[self.step]}"


def action_plan(outcome: Results, readings: list[SignReading], count: int = 3) -> list[Action]:
    """The `count` highest-priority fixes. An area's priority adds how far its score falls short of healthy (x2),
    its widest flagged perception gap, 1.5 for each problem the data measures in it, and 1 for a blind spot."""
    everyone = outcome.everyone
    candidates = []
    for key, area in AREAS.items():
        because: list[str] = []
        priority = 0.0
        score = everyone.areas.get(key) if everyone is not None else None
        if score is not None and score < HEALTHY:
            priority += 2 * (HEALTHY - score)
            because.append(f"{area.name} scores {score:.1f} of 5 across {everyone.respondents} people")  # type: ignore[union-attr]
        flagged = [gap for gap in outcome.gaps if gap.area == key and gap.flagged]
        if flagged:
            widest = max(flagged, key=lambda gap: abs(gap.points))
            priority += abs(widest.points)
            because.append(
                f"{widest.left} score it {widest.left_score:.1f} and {widest.right.lower()} {widest.right_score:.1f}"
            )
        for reading in readings:
            if STATEMENT_BY_KEY[reading.sign.statement].area != key or not reading.sign.problem:
                continue
            priority += 1.5 + (1.0 if reading.verdict == "blind spot" else 0.0)
            because.append(f"{reading.sign.name}: {reading.sign.measured}")
        title = area.action
        if area.instead is not None and any(
            r.sign.key == area.instead[0] and r.sign.problem is False for r in readings
        ):
            title = area.instead[1]
        if priority > 0:
            candidates.append(Action(key, round(priority, 3), title, area.step, area.page, area.page_label, because))
    order = list(AREAS)
    candidates.sort(key=lambda action: (-action.priority, order.index(action.area)))
    return candidates[:count]


# ------------------------------------------------------------------ the one-page summary


def signed_points(value: float) -> str:
    """+0.3 or -0.3; a change that rounds to nothing is +0.0, never -0.0."""
    return f"{round(value, 1) + 0.0:+.1f}"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def summary_markdown(
    outcome: Results, readings: list[SignReading], actions: list[Action], window: tuple[dt.date, dt.date]
) -> str:
    """The diagnostic as one page of Markdown for the leadership meeting (anonymous: withheld groups show —)."""
    info = outcome.round
    out = [f"# Alignment self-diagnostic: {md(info.describe())}", ""]
    if not outcome.shown or outcome.everyone is None:
        return "\n".join([*out, md(outcome.withheld_reason or "No results."), ""])
    everyone = outcome.everyone
    out.append(
        f"{everyone.respondents} people answered ({md(outcome.view.describe())}). Answers are anonymous; no group of "
        f"fewer than {MIN_GROUP} people is shown."
    )
    levels = [g for g in outcome.groups if g.dimension == "level"]
    shown_levels = [g for g in levels if g.shown and g.agree_aligned is not None]
    if shown_levels:
        agree = "; ".join(f"{g.name.lower()} {percent(g.agree_aligned)}" for g in shown_levels)
        out += ["", f'**"Our sales and marketing teams are aligned"**: agree — {agree}.']
    columns = [everyone, *outcome.groups]
    out += ["", "## Scores by area (1 = strongly disagree, 5 = strongly agree)", ""]
    header = ["area", *(f"{g.name} ({g.respondents if g.shown else f'<{MIN_GROUP} or withheld'})" for g in columns)]
    if outcome.change:
        header.append(f"change since {outcome.previous.name if outcome.previous else 'last round'}")
    out += ["| " + " | ".join(md(h) for h in header) + " |", "|" + "---|" * len(header)]
    for area in [*AREAS, ALIGNED]:
        cells = [md(area_name(area)), *(_number(g.areas.get(area)) if g.shown else "—" for g in columns)]
        if outcome.change:
            delta = outcome.change.get(area)
            cells.append("—" if delta is None else signed_points(delta))
        out.append("| " + " | ".join(cells) + " |")
    flagged = [gap for gap in outcome.gaps if gap.flagged]
    out += ["", f"## Perception gaps of {GAP_FLAG:g} point or more", ""]
    out += [
        f"- {md(area_name(g.area))}: {md(g.left)} {g.left_score:.1f} vs {md(g.right.lower())} {g.right_score:.1f} "
        f"({g.points:+.1f})"
        for g in flagged
    ] or ["- None."]
    out += ["", f"## What the data says ({window[0]:%d %b} – {window[1]:%d %b %Y})", ""]
    out += ["| sign | measured | people say (1–5) | verdict |", "|---|---|---|---|"]
    for reading in readings:
        out.append(
            f"| {md(reading.sign.name)} | {md(reading.sign.measured)} | {_number(reading.everyone)} | "
            f"{md(reading.verdict)}: {md(reading.explanation)} |"
        )
    out += ["", "## Action plan", ""]
    for number, action in enumerate(actions, start=1):
        out.append(f"{number}. **{md(action.title)}** — {md(action.step_text)}. In OneFunnel: {md(action.page_label)}.")
        out += [f"   - {md(reason)}" for reason in action.because]
    if not actions:
        out.append("No gap found that needs a fix.")
    return "\n".join(out) + "\n"


def diagnose(
    engine: Engine, round_id: int, view: ResultsView | None = None, *, today: dt.date
) -> tuple[Results, list[SignReading], list[Action], tuple[dt.date, dt.date]]:
    """Everything the page and the CLI show for a round: results, the signs read against them, the plan."""
    outcome = results(engine, round_id, view, today=today)
    span = data_range(engine)
    window = signs_window(outcome.round, today, span[1] if span else None)
    signs = measured_signs(engine, *window) if span else []
    readings = read_signs(signs, outcome) if outcome.shown else []
    return outcome, readings, action_plan(outcome, readings) if outcome.shown else [], window


def as_dict(outcome: Results, readings: list[SignReading], actions: list[Action]) -> dict[str, Any]:
    """For `python -m core survey results --json`."""
    return {
        "round": outcome.round.name,
        "view": outcome.view.describe(),
        "withheld": outcome.withheld_reason,
        "groups": [
            {"name": g.name, "respondents": g.respondents, "areas": g.areas, "agree_aligned": g.agree_aligned}
            for g in ([outcome.everyone] if outcome.everyone else []) + outcome.groups
        ],
        "gaps": [
            {"area": g.area, "between": g.between, "points": round(g.points, 3), "flagged": g.flagged}
            for g in outcome.gaps
        ],
        "change": outcome.change,
        "signs": [
            {
                "sign": r.sign.name,
                "measured": r.sign.measured,
                "problem": r.sign.problem,
                "said": r.everyone,
                "verdict": r.verdict,
            }
            for r in readings
        ],
        "actions": [{"title": a.title, "step": a.step, "page": a.page_label, "because": a.because} for a in actions],
    }
