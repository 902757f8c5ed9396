"""A closed round's anonymous results: mean agreement per area for each group a view allows, the perception
gaps between executives and individual contributors and between marketing and sales, the change since the
previous round, and the tables the page draws them from.

Anonymity: no group of fewer than MIN_GROUP people is ever shown, and a group is also withheld when showing it
would let someone subtract their way to a smaller one (see `withheld`). Results of a round are shown only once
it has closed, so that watching the numbers move as one person answers reveals nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from sqlalchemy import Engine, case, func, select

from core.alignment.diagnostic.questions import ALIGNED, AREAS, LEVELS, STATEMENTS, TEAMS, area_name
from core.alignment.diagnostic.survey import RoundInfo, SurveyError, answers_in_force, rounds
from core.formatting import decimal, percent
from core.models import SurveyAnswer, SurveyResponse

MIN_GROUP = 3  # no group smaller than this is ever shown
GAP_FLAG = 1.0  # points on the 1-5 scale: a perception gap this wide is flagged
AGREE = 4  # "agree" or "strongly agree"
PAIRS = (  # the perception gaps: (between, left group, right group)
    ("Executives vs individual contributors", "executive", "individual_contributor"),
    ("Marketing vs sales", "marketing", "sales"),
)


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
        .where(SurveyResponse.round_id == round_id, answers_in_force())
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
            .where(SurveyResponse.round_id == round_id, answers_in_force())
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
        for between, left, right in PAIRS:
            gap = _gap(area, between, by_key.get(left), by_key.get(right))
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


# ------------------------------------------------------------------ the tables the page draws


# Whose answers a page may pick: label -> (team, level) of the ResultsView.
VIEWS: dict[str, tuple[str | None, str | None]] = {
    "Everyone": (None, None),
    **{f"Team: {name}": (key, None) for key, name in TEAMS.items()},
    **{f"Level: {name}": (None, key) for key, name in LEVELS.items()},
}


def area_order() -> list[str]:
    """The areas by name, in the survey's order, "we are aligned" last."""
    return [area_name(area) for area in [*AREAS, ALIGNED]]


def score_grid(outcome: Results) -> pd.DataFrame:
    """One row per area and group (the view's people first): area, group ("name|how many", "|" for a line
    break under the column), score (None when withheld) and its label."""
    rows = []
    for group in [outcome.everyone, *outcome.groups]:
        assert group is not None
        column = f"{group.name}|{group.respondents} people" if group.shown else f"{group.name}|withheld"
        for area in [*AREAS, ALIGNED]:
            score = group.areas.get(area) if group.shown else None
            label = decimal(score) if score is not None else f"<{MIN_GROUP}*"
            rows.append({"area": area_name(area), "group": column, "score": score, "label": label})
    return pd.DataFrame(rows, columns=["area", "group", "score", "label"])


def gap_frames(outcome: Results, between: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The gaps of one pair of groups: one row per area (low, high, the gap's label, whether flagged), and one
    per area and group (the two dots). Empty when this view cannot compare the pair."""
    gaps = [g for g in outcome.gaps if g.between == between]
    lines = pd.DataFrame(
        [
            {
                "area": area_name(g.area),
                "low": min(g.left_score, g.right_score),
                "high": max(g.left_score, g.right_score),
                "gap": f"{abs(g.points):.1f} pt" + (" ⚑" if g.flagged else ""),
                "flagged": gap_kind(g.flagged),
            }
            for g in gaps
        ],
        columns=["area", "low", "high", "gap", "flagged"],
    )
    dots = pd.DataFrame(
        [{"area": area_name(g.area), "group": g.left, "score": g.left_score} for g in gaps]
        + [{"area": area_name(g.area), "group": g.right, "score": g.right_score} for g in gaps],
        columns=["area", "group", "score"],
    )
    return lines, dots


def gap_kind(flagged: bool) -> str:
    return f"{GAP_FLAG:g} point or more" if flagged else f"under {GAP_FLAG:g} point"


def aligned_shares(outcome: Results) -> pd.DataFrame:
    """Per level shown: the share who agree that the teams are aligned."""
    return pd.DataFrame(
        [
            {"group": g.name, "agree": g.agree_aligned, "label": percent(g.agree_aligned)}
            for g in outcome.groups
            if g.dimension == "level" and g.shown and g.agree_aligned is not None
        ],
        columns=["group", "agree", "label"],
    )


def signed_points(value: float) -> str:
    """A change of a score: +0.3 or -0.3; a change that rounds to nothing is +0.0, never -0.0."""
    return f"{round(value, 1) + 0.0:+.1f}"


def change_table(outcome: Results) -> pd.DataFrame:
    """Each area's score now and its change since the previous round, where both are shown."""
    now = outcome.everyone.areas if outcome.everyone is not None else {}
    return pd.DataFrame(
        [
            {"Area": area_name(area), "Score now": now.get(area), "Change": signed_points(delta)}
            for area in [*AREAS, ALIGNED]
            if (delta := outcome.change.get(area)) is not None
        ],
        columns=["Area", "Score now", "Change"],
    )


def statement_table(outcome: Results) -> pd.DataFrame:
    """Every statement with the view's mean agreement."""
    means = outcome.everyone.statements if outcome.everyone is not None else {}
    return pd.DataFrame(
        [
            {
                "area": area_name(s.area) if s.area != ALIGNED else "Overall",
                "statement": s.text,
                "mean": means.get(s.key),
            }
            for s in STATEMENTS
        ],
        columns=["area", "statement", "mean"],
    )
