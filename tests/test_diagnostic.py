"""The misalignment self-diagnostic (core.alignment.diagnostic): rounds, one answer per person per round,
anonymous results with primary and secondary suppression, perception gaps, the six signs measured in the data,
their reading against the answers, the action plan, the Markdown summary, the sample rounds and the CLI.

Every mean, gap and share below is worked out by hand in the comments next to it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import json
import random
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import Engine, select, text

from core.admin.seed import seed_definitions, seed_survey
from core.admin.settings import update
from core.alignment.diagnostic import survey
from core.alignment.diagnostic.actions import action_plan
from core.alignment.diagnostic.questions import ALIGNED, AREAS, LEVELS, STATEMENTS, TEAMS, suggested_tags
from core.alignment.diagnostic.report import as_dict, diagnose, summary_markdown
from core.alignment.diagnostic.results import (
    MIN_GROUP,
    Gap,
    GroupScores,
    Results,
    ResultsView,
    results,
    signed_points,
    withheld,
)
from core.alignment.diagnostic.signs import (
    SIGNS,
    Evidence,
    Sign,
    SignReading,
    measured_signs,
    no_reason,
    read_signs,
    separate_numbers,
)
from core.alignment.diagnostic.survey import (
    ANSWER_COLUMNS,
    RoundInfo,
    SurveyError,
    SurveyRefused,
    close_round,
    closed_rounds,
    import_round,
    my_answer,
    open_round,
    open_round_on,
    rounds,
    submit_answer,
)
from core.cli import main
from core.config import PROJECT_ROOT
from core.definitions.versions import active
from core.imports.runs import import_csv
from core.models import AuditEntry
from core.permissions import Actor, PermissionDenied
from tests.conftest import TESTER, csv_file, snapshot

TODAY = dt.date(2026, 11, 23)  # a Monday
NOON = dt.datetime(2026, 11, 23, 12, 0)  # UTC; what close_round stamps in these tests
OPS = Actor("olivia", "ops")
MARIA, SAM, OLGA = Actor("maria", "marketing"), Actor("sam", "sales"), Actor("olga", "ops")
EXEC, IC, MANAGER = "executive", "individual_contributor", "manager"
Q2 = (dt.date(2026, 6, 8), dt.date(2026, 6, 19))
Q3 = (dt.date(2026, 9, 14), dt.date(2026, 9, 25))
SAMPLE = PROJECT_ROOT / "sample_data"


def answers(
    by_area: Mapping[str, int] | None = None, *, aligned: Any = 3, default: int = 3, **by_statement: Any
) -> dict[str, Any]:
    """One person's scores: `default` everywhere, `by_area` for both statements of an area, then single statements."""
    scores = {s.key: (by_area or {}).get(s.area, default) for s in STATEMENTS}
    scores[ALIGNED] = aligned
    scores.update(by_statement)
    return scores


def row(respondent: str, team: str, level: str, scores: Mapping[str, Any]) -> dict[str, Any]:
    return {"respondent": respondent, "team": team, "level": level, **scores}


def crowd(cells: Mapping[tuple[str, str], int], scores: Mapping[str, int] | None = None) -> list[dict[str, Any]]:
    """n people per (team, level), all answering `scores` (3 everywhere by default)."""
    return [
        row(f"{team}-{level}-{n}", team, level, scores or answers())
        for (team, level), count in cells.items()
        for n in range(count)
    ]


def import_rows(
    engine: Engine, name: str, rows: list[dict[str, Any]], dates: tuple[dt.date, dt.date] = Q3
) -> RoundInfo:
    return import_round(engine, TESTER, name, *dates, pd.DataFrame(rows, columns=ANSWER_COLUMNS), today=TODAY)


def respondents_of(outcome: Results) -> dict[str, int | None]:
    return {g.key: g.respondents for g in outcome.groups}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """close_round and submit_answer stamp this instant instead of the real time."""
    monkeypatch.setattr(survey, "utcnow", lambda: NOON)
    return NOON


# ------------------------------------------------------------------ 1. scores, gaps, agreement, change

# Six people; each gives both statements of an area the same score, 3 on the areas not listed, except that p6
# answers 3 to data_one_system (2 to data_same_numbers).
#       team       level      goals  definitions  handoff  data  aligned
#   p1  marketing  executive    5         4          4       3      5
#   p2  marketing  executive    5         4          4       3      4
#   p3  sales      executive    5         4          2       3      3
#   p4  marketing  IC           4         2          4       2      2
#   p5  sales      IC           4         2          2       2      4
#   p6  sales      IC           4         2          2      2/3     1
SIX = [
    row("p1", "marketing", EXEC, answers({"goals": 5, "definitions": 4, "handoff": 4, "data": 3}, aligned=5)),
    row("p2", "marketing", EXEC, answers({"goals": 5, "definitions": 4, "handoff": 4, "data": 3}, aligned=4)),
    row("p3", "sales", EXEC, answers({"goals": 5, "definitions": 4, "handoff": 2, "data": 3}, aligned=3)),
    row("p4", "marketing", IC, answers({"goals": 4, "definitions": 2, "handoff": 4, "data": 2}, aligned=2)),
    row("p5", "sales", IC, answers({"goals": 4, "definitions": 2, "handoff": 2, "data": 2}, aligned=4)),
    row(
        "p6",
        "sales",
        IC,
        answers({"goals": 4, "definitions": 2, "handoff": 2, "data": 2}, aligned=1, data_one_system=3),
    ),
]


@pytest.fixture
def six(engine: Engine) -> Results:
    import_rows(engine, "Q2 2026 pulse", crowd({("ops", MANAGER): 3}), Q2)  # everyone 3 on everything
    info = import_rows(engine, "Q3 2026 pulse", SIX)
    return results(engine, info.id, today=TODAY)


def test_area_scores_overall_by_team_and_by_level(six: Results) -> None:
    assert six.everyone is not None and six.everyone.respondents == 6
    everyone = six.everyone.areas
    assert everyone["goals"] == pytest.approx(27 / 6)  # 5+5+5+4+4+4, each twice, over 12 answers
    assert everyone["definitions"] == pytest.approx(3.0)  # (3×4 + 3×2) / 6
    assert everyone["handoff"] == pytest.approx(3.0)  # 4+4+2+4+2+2 = 18 over 6
    assert everyone["data"] == pytest.approx(31 / 12)  # executives 6×3 = 18, ICs 2+2+2+2+2+3 = 13
    assert everyone["feedback"] == everyone["content"] == everyone["leadership"] == pytest.approx(3.0)
    assert everyone[ALIGNED] == pytest.approx(19 / 6)  # 5+4+3+2+4+1
    groups = {g.key: g for g in six.groups}
    # No ops, other or managers answered: those groups are withheld, not left out.
    assert respondents_of(six) == {
        "marketing": 3,
        "sales": 3,
        "ops": None,
        "other": None,
        EXEC: 3,
        MANAGER: None,
        IC: 3,
    }
    assert groups["marketing"].areas["goals"] == pytest.approx(14 / 3)  # p1 5, p2 5, p4 4
    assert groups["sales"].areas["goals"] == pytest.approx(13 / 3)  # p3 5, p5 4, p6 4
    assert groups["marketing"].areas["handoff"] == pytest.approx(4.0)
    assert groups["sales"].areas["handoff"] == pytest.approx(2.0)
    assert groups["marketing"].areas["data"] == pytest.approx(16 / 6)  # 3,3 + 3,3 + 2,2
    assert groups["sales"].areas["data"] == pytest.approx(15 / 6)  # 3,3 + 2,2 + 2,3
    assert groups[EXEC].areas["definitions"] == pytest.approx(4.0)
    assert groups[IC].areas["definitions"] == pytest.approx(2.0)
    assert groups[IC].areas["data"] == pytest.approx(13 / 6)
    assert groups[IC].statements["data_one_system"] == pytest.approx(7 / 3)  # 2, 2, 3
    assert groups[EXEC].areas[ALIGNED] == pytest.approx(4.0)  # 5, 4, 3


def test_gaps_are_flagged_from_one_point(six: Results) -> None:
    gaps = {(g.area, g.between): g for g in six.gaps}
    assert len(gaps) == 16  # 7 areas + "aligned", for each of the two pairs
    levels, teams = "Executives vs individual contributors", "Marketing vs sales"
    assert gaps["goals", levels].points == pytest.approx(1.0) and gaps["goals", levels].flagged  # 5 vs 4
    assert gaps["data", levels].points == pytest.approx(5 / 6) and not gaps["data", levels].flagged  # 3 vs 13/6
    assert gaps["definitions", levels].points == pytest.approx(2.0) and gaps["definitions", levels].flagged
    assert gaps["handoff", levels].points == pytest.approx(2 / 3) and not gaps["handoff", levels].flagged
    assert gaps["handoff", teams].points == pytest.approx(2.0) and gaps["handoff", teams].flagged  # 4 vs 2
    assert gaps[ALIGNED, teams].points == pytest.approx(1.0) and gaps[ALIGNED, teams].flagged  # 11/3 vs 8/3
    assert gaps["goals", teams].points == pytest.approx(1 / 3) and not gaps["goals", teams].flagged
    assert (gaps["goals", levels].left, gaps["goals", levels].right) == ("Executives", "Individual contributors")
    flagged = sorted((g.area, g.between) for g in six.gaps if g.flagged)
    assert flagged == [
        ("aligned", levels),  # 4 vs 7/3
        ("aligned", teams),
        ("definitions", levels),
        ("goals", levels),
        ("handoff", teams),
    ]


def test_gap_is_flagged_when_it_shows_as_one_point() -> None:
    def gap(left: float, right: float) -> Gap:
        return Gap("goals", "Executives vs individual contributors", "Executives", left, "ICs", right)

    assert gap(4.1, 3.1).flagged  # 0.9999999999999996 shows as 1.0
    assert gap(3.0, 4.0).flagged  # either direction
    assert gap(2.0, 2.96).flagged  # 0.96 shows as 1.0
    assert not gap(2.0, 2.94).flagged  # 0.94 shows as 0.9
    assert not gap(3.9, 3.0).flagged  # 0.9
    rng = random.Random(5)
    for _ in range(2000):  # flagged exactly when the one-decimal figure the page shows reads 1.0 or more
        g = gap(rng.uniform(1, 5), rng.uniform(1, 5))
        assert g.flagged == (float(f"{abs(g.points):.1f}") >= 1.0), g


def test_agree_aligned_counts_fours_and_fives(six: Results) -> None:
    assert six.everyone is not None
    shares = {g.key: g.agree_aligned for g in six.groups if g.shown}
    assert six.everyone.agree_aligned == pytest.approx(3 / 6)  # p1 5, p2 4, p5 4; p3's 3 is not agreement
    assert shares == pytest.approx({"marketing": 2 / 3, "sales": 1 / 3, EXEC: 2 / 3, IC: 1 / 3})


def test_change_since_the_previous_closed_round(six: Results) -> None:
    assert six.previous is not None and six.previous.name == "Q2 2026 pulse"
    # Q2: three people answered 3 to everything.
    assert six.change["goals"] == pytest.approx(4.5 - 3)
    assert six.change["data"] == pytest.approx(31 / 12 - 3)
    assert six.change["definitions"] == pytest.approx(0.0)
    assert six.change[ALIGNED] == pytest.approx(19 / 6 - 3)
    assert set(six.change) == {*AREAS, ALIGNED}


def test_first_round_has_no_change_and_a_view_without_a_comparable_past_has_none(engine: Engine) -> None:
    first = import_rows(engine, "Q2 2026 pulse", crowd({("ops", MANAGER): 3}), Q2)
    assert results(engine, first.id, today=TODAY).change == {}
    second = import_rows(engine, "Q3 2026 pulse", SIX)
    # Marketing answered Q3 (3 people) but not Q2: nothing to compare with.
    marketing = results(engine, second.id, ResultsView(team="marketing"), today=TODAY)
    assert marketing.shown and marketing.previous is not None and marketing.change == {}


# ------------------------------------------------------------------ 2. anonymity

CELLS = [(team, level) for team in TEAMS for level in LEVELS]
# 5 marketing and 5 sales executives, 2 ops executives.
SMALL_OPS = {("marketing", EXEC): 5, ("sales", EXEC): 5, ("ops", EXEC): 2}
# One marketing executive among 21 people: marketing 1 / 3 / 5, sales 4 / 4 / 4 (executives / managers / ICs).
LONE_EXEC = {
    ("marketing", EXEC): 1,
    ("marketing", MANAGER): 3,
    ("marketing", IC): 5,
    ("sales", EXEC): 4,
    ("sales", MANAGER): 4,
    ("sales", IC): 4,
}


def shown_groups(counts: Mapping[tuple[str, str], int]) -> set[tuple[str, str]]:
    return set(withheld(counts).shown)


def published(engine: Engine, round_id: int) -> list[frozenset[tuple[str, str]]]:
    """The team × level cells of every group any view of the round shows a number for."""
    out = []
    views = [ResultsView(), *(ResultsView(team=t) for t in TEAMS), *(ResultsView(level=lv) for lv in LEVELS)]
    for view in views:
        outcome = results(engine, round_id, view, today=TODAY)
        if not outcome.shown:
            continue
        population = {c for c in CELLS if view.team in (None, c[0]) and view.level in (None, c[1])}
        out.append(frozenset(population))
        for g in outcome.groups:
            if g.shown:
                out.append(frozenset(c for c in population if g.key == c[0 if g.dimension == "team" else 1]))
    return out


def solvable_small_groups(
    groups: list[frozenset[tuple[str, str]]], counts: Mapping[tuple[str, str], int]
) -> list[tuple[tuple[str, str], ...]]:
    """The unions of 1 to MIN_GROUP - 1 people whose sum of answers follows from the shown groups' sums by adding
    and subtracting, empty cells being known: a union is solvable when adding its row leaves the rank unchanged."""
    rows = [[1.0 if c in g else 0.0 for c in CELLS] for g in groups]
    rows += [[1.0 if c == empty else 0.0 for c in CELLS] for empty in CELLS if not counts.get(empty)]
    rank = np.linalg.matrix_rank(np.array(rows)) if rows else 0
    occupied = [c for c in CELLS if counts.get(c)]
    found = []
    for union in [*itertools.combinations(occupied, 1), *itertools.combinations(occupied, 2)]:
        if 0 < sum(counts[c] for c in union) < MIN_GROUP:
            row_ = [1.0 if c in union else 0.0 for c in CELLS]
            if np.linalg.matrix_rank(np.array([*rows, row_])) == rank:
                found.append(union)
    return found


def test_withheld_a_small_team_and_the_team_that_would_reveal_it() -> None:
    # Everyone (12) is shown; ops (2) is not, and 12 - marketing 5 - sales 5 would give ops: one of the two
    # goes too (marketing, first in order). The cells equal their teams, and go first at equal size.
    assert shown_groups(SMALL_OPS) == {("all", ""), ("team", "sales"), ("level", EXEC)}


def test_withheld_a_lone_executive_and_the_cells_that_would_reveal_it() -> None:
    # Marketing's executive (1) is hidden; showing marketing's managers (3) would give it as 9 - 3 - 5, and
    # showing sales' executives or managers would give it through the executives (5) or the managers (7):
    # the four cells marketing/sales × executives/managers go together. Teams and levels all stay.
    assert shown_groups(LONE_EXEC) == {
        ("all", ""),
        ("team", "marketing"),
        ("team", "sales"),
        ("level", EXEC),
        ("level", MANAGER),
        ("level", IC),
        ("cell", "marketing/individual_contributor"),
        ("cell", "sales/individual_contributor"),
    }


def test_withheld_nothing_but_empty_and_small_groups_when_nothing_can_be_subtracted() -> None:
    assert shown_groups({("sales", IC): 3, ("marketing", IC): 4}) == {
        ("all", ""),
        ("team", "sales"),
        ("team", "marketing"),
        ("level", IC),
        ("cell", "sales/individual_contributor"),
        ("cell", "marketing/individual_contributor"),
    }
    assert shown_groups({("sales", IC): 2}) == set()  # not even everyone
    assert shown_groups({}) == set()


def test_withheld_leaves_nothing_small_solvable_on_random_tables() -> None:
    rng = random.Random(20261123)
    for _ in range(150):
        counts = {cell: rng.choice([0, 0, 0, 1, 2, 3, 4, 6]) for cell in CELLS}
        shown = withheld(counts).shown
        groups = []
        for kind, key in shown:
            if kind == "all":
                groups.append(frozenset(CELLS))
            elif kind == "cell":
                groups.append(frozenset({tuple(key.split("/"))}))  # type: ignore[arg-type]
            else:
                groups.append(frozenset(c for c in CELLS if key == c[0 if kind == "team" else 1]))
        assert all(sum(counts[c] for c in g) >= MIN_GROUP for g in groups), counts
        assert solvable_small_groups(groups, counts) == [], counts
        assert (("all", "") in shown) == (sum(counts.values()) >= MIN_GROUP)  # everyone is never withheld for others


def test_small_team_and_the_team_that_would_reveal_it_are_withheld(engine: Engine) -> None:
    info = import_rows(engine, "Q3 2026 pulse", crowd(SMALL_OPS))
    outcome = results(engine, info.id, today=TODAY)
    assert outcome.everyone is not None and outcome.everyone.respondents == 12
    assert respondents_of(outcome) == {
        "marketing": None,  # 5 people, but 12 - 5 - 5 would give ops
        "sales": 5,
        "ops": None,  # 2
        "other": None,  # nobody: empty groups are withheld like small ones
        EXEC: 12,
        MANAGER: None,
        IC: None,
    }
    marketing = next(g for g in outcome.groups if g.key == "marketing")
    assert marketing.areas == {} and marketing.statements == {} and marketing.agree_aligned is None
    assert outcome.gaps == []  # neither pair has both sides shown
    # A filter to ops (2 people) shows nothing; nor does one to marketing, withheld only to protect ops.
    for team in ("ops", "marketing", "other"):
        refused = results(engine, info.id, ResultsView(team=team), today=TODAY)
        assert not refused.shown and "nothing is shown" in (refused.withheld_reason or "")
        assert (refused.everyone, refused.groups, refused.gaps, refused.change) == (None, [], [], {})
    assert results(engine, info.id, ResultsView(team="sales"), today=TODAY).shown


def test_team_and_level_views_hide_the_same_cells(engine: Engine) -> None:
    info = import_rows(engine, "Q3 2026 pulse", crowd(LONE_EXEC))
    everyone = results(engine, info.id, today=TODAY)
    assert respondents_of(everyone) == {
        "marketing": 9,
        "sales": 12,
        "ops": None,
        "other": None,
        EXEC: 5,
        MANAGER: 7,
        IC: 9,
    }
    marketing = results(engine, info.id, ResultsView(team="marketing"), today=TODAY)
    # The lone executive and the managers: 1 + 3 = 4 withheld, so 9 - 5 gives no group under 3.
    assert respondents_of(marketing) == {EXEC: None, MANAGER: None, IC: 5}
    assert marketing.gaps == []  # executives withheld: no executive-vs-IC gap
    sales = results(engine, info.id, ResultsView(team="sales"), today=TODAY)
    assert respondents_of(sales) == {EXEC: None, MANAGER: None, IC: 4}
    views = {level: results(engine, info.id, ResultsView(level=level), today=TODAY) for level in LEVELS}
    assert respondents_of(views[EXEC]) == {"marketing": None, "sales": None, "ops": None, "other": None}
    assert respondents_of(views[MANAGER]) == {"marketing": None, "sales": None, "ops": None, "other": None}
    assert respondents_of(views[IC]) == {"marketing": 5, "sales": 4, "ops": None, "other": None}
    assert solvable_small_groups(published(engine, info.id), LONE_EXEC) == []


def test_a_lone_person_cannot_be_solved_by_chaining_subtractions(engine: Engine) -> None:
    # marketing: 4 executives, 3 managers; sales: 3 executives, 1 manager, 3 ICs; ops: 3 executives. Were the
    # sales ICs (3) and marketing's and ops' executives (4, 3) shown, sales' executives would be 10 - 4 - 3 = 3
    # and then the lone sales manager 7 - 3 - 3 = 1, with their answer.
    counts = {
        ("marketing", EXEC): 4,
        ("marketing", MANAGER): 3,
        ("sales", EXEC): 3,
        ("sales", MANAGER): 1,
        ("sales", IC): 3,
        ("ops", EXEC): 3,
    }
    info = import_rows(engine, "Q3 2026 pulse", crowd(counts))
    sales = results(engine, info.id, ResultsView(team="sales"), today=TODAY)
    executives = results(engine, info.id, ResultsView(level=EXEC), today=TODAY)
    assert sales.shown and respondents_of(sales) == {EXEC: None, MANAGER: None, IC: None}
    assert executives.shown and respondents_of(executives) == dict.fromkeys(TEAMS)
    assert solvable_small_groups(published(engine, info.id), counts) == []


def test_no_shown_group_below_three_in_any_view_of_random_rounds(engine: Engine) -> None:
    rng = random.Random(7)
    views_refused = groups_withheld = 0
    for number in range(4):
        people = [
            (rng.choices(list(TEAMS), weights=[6, 6, 3, 1])[0], rng.choices(list(LEVELS), weights=[2, 3, 6])[0])
            for _ in range(20)
        ]
        rows = [row(f"r{number}-{i}", t, lv, answers(default=rng.randint(1, 5))) for i, (t, lv) in enumerate(people)]
        opens = dt.date(2025, 1, 6) + dt.timedelta(weeks=2 * number)
        info = import_rows(engine, f"Round {number}", rows, (opens, opens + dt.timedelta(days=4)))
        views = [ResultsView(), *(ResultsView(team=t) for t in TEAMS), *(ResultsView(level=lv) for lv in LEVELS)]
        for view in views:
            outcome = results(engine, info.id, view, today=TODAY)
            members = [(t, lv) for t, lv in people if view.team in (None, t) and view.level in (None, lv)]
            if not outcome.shown:
                views_refused += bool(members)
                continue
            assert outcome.everyone is not None and outcome.everyone.respondents == len(members) >= MIN_GROUP
            for dimension, index in (("team", 0), ("level", 1)):
                groups = [g for g in outcome.groups if g.dimension == dimension]
                broken_down = view.team is None if dimension == "team" else view.level is None
                assert [g.key for g in groups] == (
                    list(TEAMS if dimension == "team" else LEVELS) if broken_down else []
                )
                for g in groups:
                    actual = sum(1 for m in members if m[index] == g.key)
                    assert g.respondents in (None, actual)
                    assert g.respondents is None or g.respondents >= MIN_GROUP
                hidden = sum(1 for m in members for g in groups if g.respondents is None and m[index] == g.key)
                groups_withheld += hidden > 0
                assert hidden == 0 or hidden >= MIN_GROUP, (number, view, dimension)
        counts = {cell: people.count(cell) for cell in CELLS}
        assert solvable_small_groups(published(engine, info.id), counts) == [], counts
    assert views_refused and groups_withheld  # the fixture does exercise both kinds of suppression


def test_results_view_refuses_two_filters_and_unknown_names() -> None:
    with pytest.raises(SurveyError, match="not both"):
        ResultsView(team="sales", level=EXEC)
    with pytest.raises(SurveyError, match="'finance' is not one of"):
        ResultsView(team="finance")
    with pytest.raises(SurveyError, match="'vp' is not one of"):
        ResultsView(level="vp")


# ------------------------------------------------------------------ 3. open rounds show no results


def test_open_round_shows_no_results_until_it_closes(engine: Engine, clock: dt.datetime) -> None:
    info = open_round(engine, OPS, "Q4 2026 pulse", TODAY, TODAY + dt.timedelta(days=13), today=TODAY)
    for actor in (MARIA, SAM, OLGA):
        submit_answer(engine, actor, info.id, "other", IC, answers(default=4), today=TODAY)
    running = results(engine, info.id, today=TODAY)
    assert not running.shown and running.everyone is None and running.groups == []
    assert running.withheld_reason is not None
    assert "appear when it closes on 06 Dec 2026" in running.withheld_reason
    assert "3 people have answered so far" in running.withheld_reason
    # An upcoming round is no different.
    upcoming = open_round(engine, OPS, "Q1 2027 pulse", dt.date(2027, 1, 4), dt.date(2027, 1, 15), today=TODAY)
    assert not results(engine, upcoming.id, today=TODAY).shown
    # The day after the closing day it is closed without anyone closing it.
    after = results(engine, info.id, today=TODAY + dt.timedelta(days=14))
    assert after.shown and after.everyone is not None and after.everyone.areas["goals"] == pytest.approx(4.0)


def test_closed_round_with_two_answers_stays_withheld(engine: Engine, clock: dt.datetime) -> None:
    info = open_round(engine, OPS, "Q4 2026 pulse", TODAY, TODAY + dt.timedelta(days=13), today=TODAY)
    for actor in (MARIA, SAM):
        submit_answer(engine, actor, info.id, "sales", IC, answers(), today=TODAY)
    close_round(engine, OPS, info.id, today=TODAY)
    outcome = results(engine, info.id, today=TODAY)
    assert not outcome.shown and "Everyone: fewer than 3 people answered" in (outcome.withheld_reason or "")


# ------------------------------------------------------------------ 4. answers


@pytest.fixture
def pulse(engine: Engine, clock: dt.datetime) -> RoundInfo:
    return open_round(engine, OPS, "Q4 2026 pulse", TODAY, TODAY + dt.timedelta(days=13), today=TODAY)


def test_a_changed_answer_supersedes_the_first(engine: Engine, pulse: RoundInfo) -> None:
    first = submit_answer(engine, MARIA, pulse.id, "marketing", IC, answers(default=2), today=TODAY)
    assert (first.level, first.changes, first.scores["goals_shared_number"]) == (IC, 0, 2)
    second = submit_answer(engine, MARIA, pulse.id, "marketing", MANAGER, answers(default=4), today=TODAY)
    assert (second.team, second.level, second.changes) == ("marketing", MANAGER, 1)
    assert second.scores == answers(default=4)
    assert my_answer(engine, MARIA, pulse.id) == second
    assert my_answer(engine, SAM, pulse.id) is None  # each reads only their own
    with engine.connect() as connection:
        kept = connection.execute(
            text("SELECT count(*), count(superseded_at) FROM survey_responses WHERE respondent = 'maria'")
        ).one()
        stored = connection.execute(text("SELECT count(*) FROM survey_answers")).scalar_one()
    assert tuple(kept) == (2, 1)  # both rows kept, the first superseded
    assert stored == 2 * len(STATEMENTS)
    assert rounds(engine)[0].respondents == 1
    submit_answer(engine, SAM, pulse.id, "sales", IC, answers(default=3), today=TODAY)
    submit_answer(engine, OLGA, pulse.id, "ops", IC, answers(default=5), today=TODAY)
    close_round(engine, OPS, pulse.id, today=TODAY)
    outcome = results(engine, pulse.id, today=TODAY)
    assert outcome.everyone is not None and outcome.everyone.respondents == 3  # maria once
    assert outcome.everyone.areas["goals"] == pytest.approx((4 + 3 + 5) / 3)  # her 4s, not her 2s


def test_rounds_keep_separate_answers(engine: Engine, pulse: RoundInfo) -> None:
    submit_answer(engine, MARIA, pulse.id, "marketing", IC, answers(default=2), today=TODAY)
    submit_answer(engine, MARIA, pulse.id, "marketing", IC, answers(default=3), today=TODAY)
    close_round(engine, OPS, pulse.id, today=TODAY)  # closed at NOON: its last day is TODAY
    tomorrow = TODAY + dt.timedelta(days=1)
    later = open_round(engine, OPS, "Q4 follow-up", tomorrow, tomorrow + dt.timedelta(days=6), today=tomorrow)
    fresh = submit_answer(engine, MARIA, later.id, "marketing", EXEC, answers(default=5), today=tomorrow)
    assert fresh.changes == 0 and fresh.level == EXEC
    earlier = my_answer(engine, MARIA, pulse.id)
    assert earlier is not None and (earlier.changes, earlier.level, earlier.scores["aligned"]) == (1, IC, 3)
    assert {r.name: r.respondents for r in rounds(engine)} == {"Q4 2026 pulse": 1, "Q4 follow-up": 1}


def test_answers_only_while_the_round_is_open(engine: Engine, pulse: RoundInfo) -> None:
    past = import_rows(engine, "Q3 2026 pulse", SIX)
    with pytest.raises(SurveyError, match="is not open for answers"):
        submit_answer(engine, MARIA, past.id, "marketing", IC, answers(), today=TODAY)
    coming = open_round(engine, OPS, "Q1 2027 pulse", dt.date(2027, 1, 4), dt.date(2027, 1, 15), today=TODAY)
    with pytest.raises(SurveyError, match="is not open for answers"):
        submit_answer(engine, MARIA, coming.id, "marketing", IC, answers(), today=TODAY)
    with pytest.raises(SurveyError, match="is not open for answers"):  # the pulse, the day after it closed
        submit_answer(engine, MARIA, pulse.id, "marketing", IC, answers(), today=pulse.closes_on + dt.timedelta(1))
    with pytest.raises(SurveyError, match="there is no round 999"):
        submit_answer(engine, MARIA, 999, "marketing", IC, answers(), today=TODAY)
    assert my_answer(engine, MARIA, pulse.id) is None


@pytest.mark.parametrize(
    ("team", "level", "scores", "message"),
    [
        ("finance", IC, answers(), "team 'finance' is not one of"),
        ("sales", "vp", answers(), "level 'vp' is not one of"),
        ("sales", IC, answers(goals_shared_number=0), "expected a whole number from 1 to 5, got 0"),
        ("sales", IC, answers(goals_shared_number=6), "got 6"),
        ("sales", IC, answers(goals_shared_number=3.5), "got 3.5"),
        ("sales", IC, answers(goals_shared_number=True), "got True"),
        ("sales", IC, answers(goals_shared_number="4"), "got '4'"),
        ("sales", IC, {k: v for k, v in answers().items() if k != "content_used"}, "1 statements are unanswered"),
        ("sales", IC, answers(content_used=None), "unanswered, first: 'Sales uses the content"),
        ("sales", IC, {**answers(), "mood": 3}, "unknown statements: mood"),
    ],
)
def test_bad_answers_are_refused_and_write_nothing(
    engine: Engine, pulse: RoundInfo, team: str, level: str, scores: dict[str, Any], message: str
) -> None:
    before = snapshot(engine)
    with pytest.raises(SurveyError, match=re.escape(message)):
        submit_answer(engine, MARIA, pulse.id, team, level, scores, today=TODAY)
    assert snapshot(engine) == before


def test_audit_log_records_answering_not_the_answer(engine: Engine, pulse: RoundInfo) -> None:
    submit_answer(engine, MARIA, pulse.id, "marketing", IC, answers(default=2), today=TODAY)
    submit_answer(engine, MARIA, pulse.id, "marketing", IC, answers(default=5), today=TODAY)
    with engine.connect() as connection:
        entries = connection.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.entity_key, AuditEntry.detail)
            .where(AuditEntry.entity == "survey_round")
            .order_by(AuditEntry.id)
        ).all()
    assert [(e.actor, e.action, e.entity_key) for e in entries] == [
        ("olivia", "open", str(pulse.id)),
        ("maria", "answer", str(pulse.id)),
        ("maria", "change answer", str(pulse.id)),
    ]
    assert entries[0].detail == {"name": "Q4 2026 pulse", "opens_on": "2026-11-23", "closes_on": "2026-12-06"}
    assert entries[1].detail == {} and entries[2].detail == {}  # nothing of the scores, team or level


def test_suggested_tags_prefill_team_and_level_from_the_role() -> None:
    assert suggested_tags("marketing_lead") == ("marketing", EXEC)
    assert suggested_tags("sales") == ("sales", None)
    assert suggested_tags("ops") == ("ops", None)
    assert suggested_tags("exec") == ("other", EXEC)
    assert suggested_tags("admin") == ("other", None)


# ------------------------------------------------------------------ 5. round management


@pytest.mark.parametrize("role", ["exec", "marketing", "sales", "marketing_lead", "sales_lead"])
def test_only_ops_and_admins_manage_rounds(engine: Engine, role: str) -> None:
    actor = Actor("someone", role)  # type: ignore[arg-type]
    closes = TODAY + dt.timedelta(days=13)
    with pytest.raises(PermissionDenied):
        open_round(engine, actor, "Q4 2026 pulse", TODAY, closes, today=TODAY)
    with pytest.raises(PermissionDenied):
        import_round(engine, actor, "Q3", *Q3, pd.DataFrame(SIX), today=TODAY)
    assert rounds(engine) == []
    info = open_round(engine, OPS, "Q4 2026 pulse", TODAY, closes, today=TODAY)
    with pytest.raises(PermissionDenied):
        close_round(engine, actor, info.id, today=TODAY)
    assert open_round_on(engine, TODAY) == info
    # The admin may too.
    assert open_round(engine, TESTER, "Q1 2027", dt.date(2027, 1, 4), dt.date(2027, 1, 8), today=TODAY).id > info.id


def test_round_dates_and_names_are_checked(engine: Engine) -> None:
    closes = TODAY + dt.timedelta(days=13)
    info = open_round(engine, OPS, "  Q4   2026 pulse ", TODAY, closes, today=TODAY)
    assert info.name == "Q4 2026 pulse" and info.describe() == "Q4 2026 pulse (23 Nov – 06 Dec 2026)"
    cases = [
        (("Next", closes, closes + dt.timedelta(days=7)), "already covers some of those days"),  # shares a day
        (("Next", TODAY - dt.timedelta(days=3), TODAY + dt.timedelta(days=1)), "rounds may not overlap"),
        (("Next", dt.date(2027, 1, 8), dt.date(2027, 1, 4)), "closes (2027-01-04) before it opens (2027-01-08)"),
        (("Next", TODAY - dt.timedelta(days=10), TODAY - dt.timedelta(days=1)), "which has passed"),
        (("Q4 2026 pulse", dt.date(2027, 1, 4), dt.date(2027, 1, 8)), "there is already a round called"),
        (("Q4  2026  pulse", dt.date(2027, 1, 4), dt.date(2027, 1, 8)), "there is already a round called"),
        (("   ", dt.date(2027, 1, 4), dt.date(2027, 1, 8)), "a round needs a name"),
        (("x" * 129, dt.date(2027, 1, 4), dt.date(2027, 1, 8)), "at most 128 characters"),
    ]
    for (name, opens, closes_on), message in cases:
        with pytest.raises(SurveyError, match=re.escape(message)):
            open_round(engine, OPS, name, opens, closes_on, today=TODAY)
    assert [r.name for r in rounds(engine)] == ["Q4 2026 pulse"]
    # The day after it closes is free, and a one-day round is fine.
    nxt = open_round(engine, OPS, "Next", closes + dt.timedelta(days=1), closes + dt.timedelta(days=1), today=TODAY)
    assert [r.name for r in rounds(engine)] == ["Next", "Q4 2026 pulse"]  # newest first
    assert open_round_on(engine, TODAY) == info and open_round_on(engine, nxt.opens_on) == nxt
    assert open_round_on(engine, TODAY - dt.timedelta(days=1)) is None


def test_closing_a_round_early_shows_its_results(engine: Engine, clock: dt.datetime) -> None:
    info = open_round(engine, OPS, "Q4 2026 pulse", TODAY, TODAY + dt.timedelta(days=13), today=TODAY)
    for actor, score in ((MARIA, 2), (SAM, 3), (OLGA, 3)):
        submit_answer(engine, actor, info.id, "marketing", IC, answers(default=score), today=TODAY)
    assert closed_rounds(engine, TODAY) == []
    closed = close_round(engine, OPS, info.id, today=TODAY)
    assert (closed.closed_on, closed.respondents, closed.last_day, closed.status(TODAY)) == (TODAY, 3, TODAY, "closed")
    assert [r.id for r in closed_rounds(engine, TODAY)] == [info.id] and open_round_on(engine, TODAY) is None
    outcome = results(engine, info.id, today=TODAY)
    assert outcome.everyone is not None and outcome.everyone.areas["goals"] == pytest.approx(8 / 3)
    with pytest.raises(SurveyError, match="is not open; only an open round can be closed"):
        close_round(engine, OPS, info.id, today=TODAY)
    coming = open_round(engine, OPS, "Q1 2027", dt.date(2027, 1, 4), dt.date(2027, 1, 8), today=TODAY)
    with pytest.raises(SurveyError, match="is not open"):
        close_round(engine, OPS, coming.id, today=TODAY)
    with pytest.raises(SurveyError, match="there is no round 999"):
        close_round(engine, OPS, 999, today=TODAY)


def test_import_names_each_bad_row_and_column_and_writes_nothing(engine: Engine) -> None:
    rows = [
        row("a", "sales", IC, answers()),
        row("b", "sales", IC, answers(definitions_written="seven")),
        row("c", "finance", IC, answers(aligned="3.5")),
        row("a", "sales", "vp", answers(content_used="")),
        row("  ", "sales", IC, answers()),
    ]
    before = snapshot(engine)
    with pytest.raises(SurveyRefused) as refused:
        import_rows(engine, "Q3 2026 pulse", rows)
    assert refused.value.problems == [
        "row 3, column 'definitions_written': expected a whole number from 1 to 5, got 'seven'",
        "row 4, column 'team': expected one of marketing, sales, ops, other, got 'finance'",
        "row 4, column 'aligned': expected a whole number from 1 to 5, got '3.5'",
        "row 5, column 'respondent': 'a' answered twice",
        "row 5, column 'level': expected one of executive, manager, individual_contributor, got 'vp'",
        "row 5, column 'content_used': expected a whole number from 1 to 5, got ''",
        "row 6, column 'respondent': expected an identifier, got a blank",
    ]
    assert "7 problems" in str(refused.value)
    assert snapshot(engine) == before


def test_import_checks_columns_and_that_the_round_has_closed(engine: Engine) -> None:
    table = pd.DataFrame(SIX).drop(columns=[ALIGNED]).assign(mood=3)
    with pytest.raises(SurveyRefused) as refused:
        import_round(engine, TESTER, "Q3", *Q3, table, today=TODAY)
    assert refused.value.problems == ["column 'aligned' is missing", "column 'mood' is not expected"]
    with pytest.raises(SurveyRefused, match="the table has no answers"):
        import_round(engine, TESTER, "Q3", *Q3, pd.DataFrame(columns=ANSWER_COLUMNS), today=TODAY)
    with pytest.raises(SurveyError, match="only a round that has closed can be imported"):
        import_round(engine, TESTER, "Running", TODAY - dt.timedelta(days=5), TODAY, pd.DataFrame(SIX), today=TODAY)
    assert rounds(engine) == []
    info = import_rows(engine, "Q3 2026 pulse", SIX)
    assert (info.respondents, info.status(TODAY)) == (6, "closed")
    with pytest.raises(SurveyError, match="already a round called"):
        import_rows(engine, "Q3 2026 pulse", SIX, Q2)
    with pytest.raises(SurveyError, match="may not overlap"):
        import_rows(engine, "Q3 again", SIX, (Q3[1], Q3[1] + dt.timedelta(days=3)))


def test_import_names_an_infinite_score_as_a_bad_cell(engine: Engine) -> None:
    rows = [row("a", "sales", IC, answers(aligned="inf"))]
    with pytest.raises(SurveyRefused) as refused:
        import_rows(engine, "Q3 2026 pulse", rows)
    assert refused.value.problems == ["row 2, column 'aligned': expected a whole number from 1 to 5, got 'inf'"]


def test_import_refuses_a_respondent_longer_than_the_column(engine: Engine) -> None:
    with pytest.raises(SurveyRefused, match="row 2, column 'respondent'"):
        import_rows(engine, "Q3 2026 pulse", [row("r" * 129, "sales", IC, answers())])


def test_a_round_closed_in_the_evening_west_of_utc_ends_that_day(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    update(engine, {"timezone": "America/Los_Angeles"}, actor=TESTER)
    info = open_round(engine, OPS, "Q4 2026 pulse", TODAY - dt.timedelta(days=7), TODAY + dt.timedelta(6), today=TODAY)
    # 20:00 in Los Angeles on Monday 23 November is 04:00 UTC on Tuesday 24 November.
    monkeypatch.setattr(survey, "utcnow", lambda: dt.datetime(2026, 11, 24, 4, 0))
    closed = close_round(engine, OPS, info.id, today=TODAY)
    tomorrow = TODAY + dt.timedelta(days=1)
    assert (closed.last_day, closed.describe()) == (TODAY, "Q4 2026 pulse (16 Nov – 23 Nov 2026)")
    assert (
        open_round(engine, OPS, "Next", tomorrow, tomorrow + dt.timedelta(days=6), today=tomorrow).opens_on == tomorrow
    )


# ------------------------------------------------------------------ 6. the signs, measured

LEAD_FIELDS = (
    "lead_id",
    "created_at",
    "email",
    "company",
    "title",
    "source",
    "intent_signal",
    "mql_at",
    "sql_at",
    "rejected_at",
    "rejection_reason",
    "first_response_at",
    "touch_attempts",
)
JAN = (dt.date(2025, 1, 1), dt.date(2025, 1, 31))
ON_TIME, LATE = "2025-01-06 11:00:00", "2025-01-07 12:00:00"  # MQL Mon 10:00: 60 and 420 + 180 business minutes


def mql(lead_id: str, *, responded: str = ON_TIME, sql: bool = False, reason: str | None = None, title: str = "VP"):
    """An MQL of Monday 6 January 2025, 10:00 UTC: accepted on the 8th, or rejected on the 9th with `reason`."""
    return {
        "lead_id": lead_id,
        "created_at": "2025-01-06 08:00:00",
        "email": f"{lead_id.lower()}@example.com",
        "company": f"Company {lead_id}",
        "title": title,
        "source": "paid_search",
        "intent_signal": "demo_request",
        "mql_at": "2025-01-06 10:00:00",
        "sql_at": "2025-01-08 10:00:00" if sql else "",
        "rejected_at": "2025-01-09 10:00:00" if reason is not None else "",
        "rejection_reason": reason or "",
        "first_response_at": responded,
        "touch_attempts": 6,
    }


def load(engine: Engine, leads: list[dict[str, Any]], opportunity_leads: list[str], mql_target: int | None) -> None:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LEAD_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(leads)
    import_csv(engine, "leads", csv_file(out.getvalue()), actor=TESTER)
    opportunities = "opportunity_id,lead_id,created_at,amount\n" + "".join(
        f"O{n},{lead},2025-01-10 10:00:00,1000\n" for n, lead in enumerate(opportunity_leads)
    )
    if opportunity_leads:
        import_csv(engine, "opportunities", csv_file(opportunities), actor=TESTER)
    if mql_target is not None:
        import_csv(engine, "targets", csv_file(f"month,metric,value\n2025-01,mqls,{mql_target}\n"), actor=TESTER)


def signs_of(engine: Engine, first_day: dt.date = JAN[0], last_day: dt.date = JAN[1]) -> dict[str, Sign]:
    return {sign.key: sign for sign in measured_signs(engine, first_day, last_day)}


def test_signs_of_a_troubled_funnel(engine: Engine) -> None:
    # Ten MQLs: T1, T2 accepted; T3–T5 rejected (T5 with no reason); T9, T10 answered late; T10 has no title.
    leads = [
        mql("T1", sql=True),
        mql("T2", sql=True),
        mql("T3", reason="Wrong company size"),
        mql("T4", reason="No budget"),
        mql("T5", reason=""),
        mql("T6"),
        mql("T7"),
        mql("T8"),
        mql("T9", responded=LATE),
        mql("T10", responded=LATE, title=""),
    ]
    load(engine, leads, ["T1", "GHOST", ""], mql_target=10)  # one opportunity names a lead nobody exported
    signs = signs_of(engine)
    assert list(signs) == [
        "lead_quality",
        "slow_follow_up",
        "separate_numbers",
        "top_heavy",
        "no_reason",
        "definitions_review",
    ]
    assert {key: sign.problem for key, sign in signs.items()} == dict.fromkeys(signs, True)
    # 3 rejected of 5 dispositioned (T1–T5) = 60% > the 30% gate.
    assert signs["lead_quality"].measured == (
        "60% of dispositioned MQLs were rejected as unqualified (3 of 5); the gate is 30%"
    )
    assert signs["slow_follow_up"].measured == (
        "80% of MQLs answered within the 4-hour SLA (8 of 10); below 90% is a problem"
    )
    # T10 of 10 lacks its title: 90% complete < 95%. O0 → T1 matches, O1 → GHOST does not; O2 names no lead.
    assert signs["separate_numbers"].measured == (
        "10% of MQLs miss a handoff field (company, title, e-mail, source or intent); "
        "50% of opportunities name a lead the lead export does not have"
    )
    # 10 MQLs of a 10 target is 100% (the flag starts there) while 2 / 10 = 20% convert.
    assert signs["top_heavy"].measured == "MQLs at 100% of target while MQL→SQL conversion is 20% (gate 30%)"
    assert signs["no_reason"].measured == "1 of 3 rejections carry no reason (target 0)"
    assert (
        signs["definitions_review"].measured
        == "on 31 Jan 2025 no signed definition of ICP, MQL, SQL, Pipeline stages, SLA"
    )
    assert signs["top_heavy"].statement == "goals_quality_over_volume"


def test_each_sign_is_one_function_over_one_read_of_the_evidence(engine: Engine) -> None:
    # T1 accepted, T2 rejected without a reason; opportunities name T1 and GHOST (not exported).
    load(engine, [mql("T1", sql=True), mql("T2", reason="")], ["T1", "GHOST"], mql_target=None)
    evidence = Evidence.read(engine, *JAN)
    whole = signs_of(engine)
    assert [spec.key for spec in SIGNS] == list(whole)
    for spec in SIGNS:
        assert Sign(spec.key, spec.name, spec.statement, *spec.measure(evidence)) == whole[spec.key]
    # One sign alone, on evidence changed by hand: with GHOST exported the numbers reconcile.
    assert separate_numbers(replace(evidence, unmatched=0)) == (
        "0% of MQLs miss a handoff field (company, title, e-mail, source or intent); "
        "every opportunity's lead is in the lead export",
        False,
    )
    assert separate_numbers(evidence)[1] is True  # 1 of 2 opportunities: 50% > 5%
    assert no_reason(evidence) == ("1 of 1 rejections carry no reason (target 0)", True)


def test_signs_of_a_healthy_funnel(engine: Engine) -> None:
    # H1–H5 accepted, H6 rejected with a reason, all but H10 answered within the hour, all complete; target 20.
    leads = [mql(f"H{n}", sql=n <= 5, reason="Wrong company size" if n == 6 else None) for n in range(1, 10)]
    leads.append(mql("H10", responded=LATE))
    load(engine, leads, ["H1", "H2"], mql_target=20)
    signs = signs_of(engine)
    assert {key: sign.problem for key, sign in signs.items()} == {
        "lead_quality": False,  # 1 of 6 = 17%
        "slow_follow_up": False,  # 9 of 10 = 90%: the flag is below 90%
        "separate_numbers": False,
        "top_heavy": False,  # 50% of target
        "no_reason": False,
        "definitions_review": True,  # still none signed
    }
    assert signs["lead_quality"].measured.startswith("17% of dispositioned MQLs were rejected as unqualified (1 of 6)")
    assert signs["top_heavy"].measured == "MQLs at 50% of target while MQL→SQL conversion is 50% (gate 30%)"
    assert signs["separate_numbers"].measured == (
        "0% of MQLs miss a handoff field (company, title, e-mail, source or intent); "
        "every opportunity's lead is in the lead export"
    )
    assert signs["no_reason"].measured == "0 of 1 rejections carry no reason (target 0)"
    assert signs["slow_follow_up"].measured.startswith("90% of MQLs answered within the 4-hour SLA (9 of 10)")


def test_unmatched_opportunities_alone_make_numbers_separate(engine: Engine) -> None:
    # Complete MQLs, but 1 of 10 linked opportunities names a missing lead: 10% > 5%.
    load(engine, [mql(f"H{n}", sql=True) for n in range(1, 11)], [f"H{n}" for n in range(1, 10)] + ["GHOST"], None)
    signs = signs_of(engine)
    assert signs["separate_numbers"].problem is True
    assert "10% of opportunities name a lead the lead export does not have" in signs["separate_numbers"].measured
    assert signs["top_heavy"].problem is None  # no MQL target
    assert signs["top_heavy"].measured == "no MQL target or no MQLs for the period"
    assert signs["no_reason"].problem is None and signs["no_reason"].measured == "no rejections in the period"


def test_incomplete_mqls_alone_make_numbers_separate_below_95_percent(engine: Engine) -> None:
    # 20 MQLs, one without an intent signal: 95% complete, at the gate, not below it.
    leads = [mql(f"H{n}") for n in range(1, 20)] + [{**mql("H20"), "intent_signal": ""}]
    load(engine, leads, [], None)
    at_gate = signs_of(engine)["separate_numbers"]
    assert (at_gate.problem, at_gate.measured) == (
        False,
        "5.0% of MQLs miss a handoff field (company, title, e-mail, source or intent)",  # no opportunities
    )
    load(engine, [mql("H21", title="")], [], None)  # 19 of 21 complete: 90.5%
    below = signs_of(engine)["separate_numbers"]
    assert below.problem is True and below.measured.startswith("9.5% of MQLs miss a handoff field")


def test_signs_without_data_are_unknown(engine: Engine) -> None:
    signs = signs_of(engine)
    assert {key: sign.problem for key, sign in signs.items()} == {
        "lead_quality": None,
        "slow_follow_up": None,
        "separate_numbers": None,
        "top_heavy": None,
        "no_reason": None,
        "definitions_review": True,
    }
    assert signs["lead_quality"].measured == "no MQL was accepted or rejected in the period"
    assert signs["separate_numbers"].measured == "no MQLs or opportunities in the period"


def test_definitions_review_sign_judges_the_definitions_in_force_on_the_last_day(engine: Engine) -> None:
    seed_definitions(engine, SAMPLE / "definitions.yaml")
    icp = active(engine, "icp")
    assert icp is not None and icp.activated_at is not None
    signed = icp.activated_at.date()  # all five are signed now

    def review(last_day: dt.date) -> Sign:
        return signs_of(engine, last_day - dt.timedelta(days=90), last_day)["definitions_review"]

    before = review(signed - dt.timedelta(days=1))  # a window that ends before they were signed
    assert (before.problem, before.measured) == (
        True,
        f"on {signed - dt.timedelta(days=1):%d %b %Y} no signed definition of ICP, MQL, SQL, Pipeline stages, SLA",
    )
    for last_day in (signed, signed + dt.timedelta(days=90)):
        fresh = review(last_day)
        assert (fresh.problem, fresh.measured) == (False, "all 5 definitions signed and reviewed within 90 days")
    stale = review(signed + dt.timedelta(days=91))
    assert stale.problem is True
    assert stale.measured.startswith(
        f"overdue for the 90-day review on {signed + dt.timedelta(days=91):%d %b %Y}: "
        f"ICP v1 (signed {icp.activated_at:%d %b %Y}), MQL v1"
    )


# ------------------------------------------------------------------ 7. reading the signs, the action plan

ROUND = RoundInfo(1, "Q3 2026 pulse", *Q3, None, 12)


def group(dimension: str, key: str, n: int | None, areas: dict[str, float], statements: dict[str, float]):
    return GroupScores(dimension, key, key.title(), n, areas, statements)  # type: ignore[arg-type]


def outcome_of(everyone: dict[str, float], executives: dict[str, float], contributors: dict[str, float], **kw: Any):
    areas = kw.pop("areas", {})
    return Results(
        ROUND,
        ResultsView(),
        None,
        group("all", "all", 12, areas, everyone),
        [
            GroupScores("level", EXEC, "Executives", 4, {}, executives),
            GroupScores("level", IC, "Individual contributors", 8, {}, contributors),
        ],
        kw.pop("gaps", []),
    )


def test_read_signs_verdicts() -> None:
    said = {
        "definitions_no_disputes": 2.5,
        "handoff_follow_up": 4.0,
        "data_same_numbers": 2.0,
        "goals_quality_over_volume": 4.2,
        "feedback_rejections": 3.2,
        "definitions_written": 3.0,
    }
    executives = {"definitions_no_disputes": 2.0, "handoff_follow_up": 4.5, "goals_quality_over_volume": 3.0}
    contributors = {"definitions_no_disputes": 3.5, "handoff_follow_up": 3.0, "goals_quality_over_volume": 4.5}
    signs = [
        Sign("lead_quality", "Recurring arguments", "definitions_no_disputes", "60%", True),
        Sign("slow_follow_up", "Slow follow-up", "handoff_follow_up", "80%", True),
        Sign("separate_numbers", "Separate numbers", "data_same_numbers", "0%", False),
        Sign("top_heavy", "Top heavy", "goals_quality_over_volume", "50%", False),
        Sign("no_reason", "No reason", "feedback_rejections", "no rejections", None),
        Sign("definitions_review", "Definitions", "definitions_written", "none signed", True),
    ]
    readings = {r.sign.key: r for r in read_signs(signs, outcome_of(said, executives, contributors))}
    verdicts = {key: (r.verdict, r.agree) for key, r in readings.items()}
    assert verdicts == {
        "lead_quality": ("confirmed", True),  # a problem, and 2.5 < 3
        "slow_follow_up": ("blind spot", False),  # a problem, yet 4.0
        "separate_numbers": ("felt, not measured", False),  # no problem, yet 2.0
        "top_heavy": ("healthy", True),
        "no_reason": ("unknown", None),  # the data cannot tell
        "definitions_review": ("blind spot", False),  # a problem, and 3.0 is not below 3
    }
    blind = readings["slow_follow_up"]
    assert (blind.everyone, blind.executives, blind.contributors) == (4.0, 4.5, 3.0)
    assert blind.explanation == (
        "the data shows a problem, yet the answers average 4.0 of 5 on \"Sales follows up on marketing's leads "
        'within the agreed time."; executives score it 4.5 and individual contributors 3.0: '
        "the data sides with the individual contributors"
    )
    # A problem that executives see more darkly (2.0) than ICs (3.5): the data sides with the executives.
    assert readings["lead_quality"].explanation.endswith("the data sides with the executives")
    # No problem, and ICs (4.5) are happier than executives (3.0): the data sides with the ICs.
    assert readings["top_heavy"].explanation.endswith("the data sides with the individual contributors")
    assert "sides with" not in readings["separate_numbers"].explanation  # executives did not say: no comparison


def test_read_signs_notes_a_gap_that_shows_as_one_point() -> None:
    said = {"handoff_follow_up": 4.0}
    outcome = outcome_of(said, {"handoff_follow_up": 4.46}, {"handoff_follow_up": 3.5})
    (only,) = read_signs([Sign("slow_follow_up", "Slow follow-up", "handoff_follow_up", "80%", True)], outcome)
    assert Gap("handoff", "", "Executives", 4.46, "ICs", 3.5).flagged  # the same gap, as the page flags it
    assert only.explanation.endswith("the data sides with the individual contributors")


def test_read_signs_with_withheld_answers_is_unknown() -> None:
    outcome = Results(ROUND, ResultsView(), None, GroupScores("all", "all", "Everyone", None), [], [])
    sign = Sign("lead_quality", "Recurring arguments", "definitions_no_disputes", "60%", True)
    (only,) = read_signs([sign], outcome)
    assert (only.verdict, only.everyone, only.explanation) == (
        "unknown",
        None,
        "not enough answers or data to compare",
    )


def reading(key: str, statement: str, problem: bool | None, verdict: str) -> SignReading:
    return SignReading(
        Sign(key, key.replace("_", " "), statement, f"{key} measured", problem), 3.0, None, None, verdict, ""
    )


PLAN_AREAS = {
    "goals": 4.0,
    "definitions": 2.5,
    "handoff": 3.0,
    "data": 3.4,
    "feedback": 3.5,
    "content": 3.4,
    "leadership": 4.5,
    ALIGNED: 1.0,
}
PLAN_GAPS = [
    Gap("definitions", "Executives vs individual contributors", "Executives", 4.0, "Individual contributors", 2.5),
    Gap("definitions", "Marketing vs sales", "Marketing", 3.0, "Sales", 2.0),
    Gap("leadership", "Executives vs individual contributors", "Executives", 3.8, "Individual contributors", 5.0),
    Gap("goals", "Marketing vs sales", "Marketing", 4.5, "Sales", 3.6),  # 0.9: not flagged, adds nothing
]
PLAN_READINGS = [
    reading("lead_quality", "definitions_no_disputes", True, "confirmed"),
    reading("slow_follow_up", "handoff_follow_up", True, "blind spot"),
    reading("separate_numbers", "data_same_numbers", False, "felt, not measured"),
    reading("top_heavy", "goals_quality_over_volume", False, "healthy"),
    reading("no_reason", "feedback_rejections", None, "unknown"),
    reading("definitions_review", "definitions_written", False, "healthy"),
]


def test_action_plan_priorities_and_order() -> None:
    outcome = outcome_of({}, {}, {}, areas=PLAN_AREAS, gaps=PLAN_GAPS)
    plan = action_plan(outcome, PLAN_READINGS, count=10)
    # definitions: 2 × (3.5 - 2.5) = 2.0, widest flagged gap 1.5, a measured problem 1.5: 5.0
    # handoff:     2 × 0.5 = 1.0, a measured problem that is a blind spot 1.5 + 1.0: 3.5
    # leadership:  score fine, a flagged gap of -1.2: 1.2
    # data, content: 2 × (3.5 - 3.4) = 0.2 each, tied: in the framework's area order (data first)
    # goals (4.0, a 0.9 gap), feedback (3.5 is healthy, sign unknown): nothing to do
    assert [(a.area, a.priority) for a in plan] == [
        ("definitions", 5.0),
        ("handoff", 3.5),
        ("leadership", 1.2),
        ("data", 0.2),
        ("content", 0.2),
    ]
    assert [a.area for a in action_plan(outcome, PLAN_READINGS)] == ["definitions", "handoff", "leadership"]
    definitions = plan[0]
    assert definitions.because == [
        "Shared definition of a qualified lead scores 2.5 of 5 across 12 people",
        "Executives score it 4.0 and individual contributors 2.5",
        "lead quality: lead_quality measured",
    ]
    assert (definitions.step, definitions.page, definitions.page_label) == (3, "pages/definitions.py", "Definitions")
    assert definitions.step_text == (
        "Step 3 of the alignment framework: Define shared language and lead-qualification criteria"
    )
    assert plan[2].because == ["Executives score it 3.8 and individual contributors 5.0"]


def test_definitions_action_depends_on_the_review_sign() -> None:
    outcome = outcome_of({}, {}, {}, areas=PLAN_AREAS, gaps=PLAN_GAPS)
    signed = action_plan(outcome, PLAN_READINGS)[0]
    # Signed and reviewed, yet people disagree: walk them through it rather than write new definitions.
    assert signed.title == AREAS["definitions"].instead[1]  # type: ignore[index]
    assert signed.title.startswith("Walk both teams through the signed definitions")
    unsigned = [*PLAN_READINGS[:-1], reading("definitions_review", "definitions_written", True, "confirmed")]
    top = action_plan(outcome, unsigned)[0]
    assert top.title == AREAS["definitions"].action and top.priority == pytest.approx(6.5)  # + 1.5
    unknown = [*PLAN_READINGS[:-1], reading("definitions_review", "definitions_written", None, "unknown")]
    assert action_plan(outcome, unknown)[0].title == AREAS["definitions"].action


def test_action_plan_is_empty_when_all_is_well() -> None:
    healthy = dict.fromkeys([*AREAS, ALIGNED], 4.0)
    assert action_plan(outcome_of({}, {}, {}, areas=healthy), PLAN_READINGS[2:4]) == []


# ------------------------------------------------------------------ 8. the summary


def cells_of(line: str) -> list[str]:
    """A Markdown table row's cells, split on pipes that are not escaped."""
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]


def test_summary_markdown_shows_counts_and_dashes_for_withheld_groups(engine: Engine) -> None:
    info = import_rows(engine, "Q3 2026 pulse", crowd(SMALL_OPS))
    outcome, readings, actions, window = diagnose(engine, info.id, today=TODAY)
    assert readings == [] and actions  # no lead data: no signs; scores of 3 everywhere fall short of 3.5
    page = summary_markdown(outcome, readings, actions, window)
    assert page.startswith("# Alignment self-diagnostic: Q3 2026 pulse (14 Sep – 25 Sep 2026)\n")
    assert "12 people answered (Everyone)." in page
    header = next(line for line in page.splitlines() if line.startswith("| area"))
    withheld_label = "(\\<3 or withheld)"  # "<" escaped for Markdown
    assert cells_of(header) == [
        "area",
        "Everyone (12)",
        f"Marketing {withheld_label}",
        "Sales (5)",
        f"Ops {withheld_label}",
        f"Other {withheld_label}",
        "Executives (12)",
        f"Managers {withheld_label}",
        f"Individual contributors {withheld_label}",
    ]
    goals = next(line for line in page.splitlines() if line.startswith("| Shared goals"))
    assert cells_of(goals) == ["Shared goals and metrics", "3.0", "—", "3.0", "—", "—", "3.0", "—", "—"]
    assert "## Perception gaps of 1 point or more\n\n- None." in page
    assert '**"Our sales and marketing teams are aligned"**: agree — executives 0%.' in page
    assert "1. **Put both teams on the same numbers" in page  # goals first: every area 0.5 short, in area order


def test_summary_markdown_neutralises_round_names(engine: Engine) -> None:
    import_rows(engine, "=HYPERLINK(1) | [x](y)", crowd({("ops", MANAGER): 3}), Q2)
    info = import_rows(engine, "@cmd | [click](http://evil) <b>", SIX)
    page = summary_markdown(*diagnose(engine, info.id, today=TODAY))
    title = page.splitlines()[0]
    assert "[click](" not in page and "[x](" not in page and "<b>" not in page
    assert title.startswith("# Alignment self-diagnostic: '@cmd \\| \\[click\\](http://evil) \\<b\\>")
    table = [line for line in page.splitlines() if line.startswith("|")]
    header = cells_of(table[0])
    assert header[-1] == "change since =HYPERLINK(1) \\| \\[x\\](y)"  # the "=" is inside the cell, not at its start
    for line in table:
        cells = cells_of(line)
        assert len(cells) == len(header) or line.startswith("| sign") or len(cells) == 4, line
        assert not any(cell.startswith(("=", "@")) for cell in cells), line
    goals = next(line for line in table if line.startswith("| Shared goals"))
    assert cells_of(goals)[-1] == "+1.5"  # 4.5 now, 3 in the previous round


def test_summary_markdown_of_a_withheld_view(engine: Engine) -> None:
    info = import_rows(engine, "Q3 2026 pulse", crowd(SMALL_OPS))
    outcome, readings, actions, window = diagnose(engine, info.id, ResultsView(team="ops"), today=TODAY)
    page = summary_markdown(outcome, readings, actions, window)
    assert page.splitlines()[2].startswith("Ops: fewer than 3 people answered, or showing them would let someone")
    assert "|" not in page and (readings, actions) == ([], [])


def test_signed_points_never_shows_minus_zero() -> None:
    assert [signed_points(v) for v in (0.3, -0.3, -0.04, 0.0, 1.25)] == ["+0.3", "-0.3", "+0.0", "+0.0", "+1.2"]


# ------------------------------------------------------------------ 9. the sample rounds


def test_seed_imports_the_sample_rounds_once_and_opens_one(engine: Engine) -> None:
    seeded = seed_survey(engine, SAMPLE / "survey.csv", today=TODAY)
    assert seeded is not None
    assert (seeded.imported, seeded.already_present, seeded.opened) == (
        ("Q2 2026 pulse", "Q3 2026 pulse"),
        (),
        "Q4 2026 pulse",
    )
    assert [(r.name, r.respondents, r.status(TODAY)) for r in rounds(engine)] == [
        ("Q4 2026 pulse", 0, "open"),
        ("Q3 2026 pulse", 36, "closed"),
        ("Q2 2026 pulse", 38, "closed"),
    ]
    assert open_round_on(engine, TODAY).closes_on == dt.date(2026, 12, 6)  # type: ignore[union-attr]
    again = seed_survey(engine, SAMPLE / "survey.csv", today=TODAY)
    assert again is not None and (again.imported, again.opened) == ((), None)
    assert again.already_present == ("Q2 2026 pulse", "Q3 2026 pulse")
    assert again.summary() == "survey: Q2 2026 pulse, Q3 2026 pulse already present"
    assert len(rounds(engine)) == 3


def test_sample_q3_round_shows_the_gaps_it_was_made_for(engine: Engine) -> None:
    seed_survey(engine, SAMPLE / "survey.csv", today=TODAY)
    q3 = next(r for r in rounds(engine) if r.name == "Q3 2026 pulse")
    outcome = results(engine, q3.id, today=TODAY)
    levels = {g.area for g in outcome.gaps if g.flagged and g.between == "Executives vs individual contributors"}
    assert len(levels & set(AREAS)) >= 5
    teams = {g.area: g for g in outcome.gaps if g.between == "Marketing vs sales"}
    assert teams["definitions"].flagged and teams["definitions"].points > 0  # marketing thinks it is settled
    assert outcome.previous is not None and outcome.previous.name == "Q2 2026 pulse"
    assert all(g.respondents is None or g.respondents >= MIN_GROUP for g in outcome.groups)


def test_seed_without_a_survey_file_does_nothing(engine: Engine, tmp_path: Path) -> None:
    assert seed_survey(engine, tmp_path / "survey.csv", today=TODAY) is None
    assert rounds(engine) == []


# ------------------------------------------------------------------ 10. the command line


def test_cli_survey_import_rounds_and_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    answers_file = tmp_path / "answers.csv"
    pd.DataFrame(crowd(LONE_EXEC), columns=ANSWER_COLUMNS).to_csv(answers_file, index=False)

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(["--database-url", url, "survey", *argv])
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _ = run(
        "import", str(answers_file), "--name", "Q1 2025", "--opens", "2025-01-06", "--closes", "2025-01-17"
    )
    assert (code, out) == (0, "imported 21 answers as Q1 2025 (06 Jan – 17 Jan 2025)\n")
    assert run("rounds") == (0, "Q1 2025 (06 Jan – 17 Jan 2025): closed, 21 answers\n", "")
    code, out, _ = run("results", "--json")
    data = json.loads(out)
    assert code == 0 and data["round"] == "Q1 2025" and data["withheld"] is None
    assert {g["name"]: g["respondents"] for g in data["groups"]} == {
        "Everyone": 21,
        "Marketing": 9,
        "Sales": 12,
        "Ops": None,
        "Other": None,
        "Executives": 5,
        "Managers": 7,
        "Individual contributors": 9,
    }
    assert data["gaps"][0] == {
        "area": "goals",
        "between": "Executives vs individual contributors",
        "points": 0.0,  # everyone answered 3
        "flagged": False,
    }
    code, out, _ = run("results", "--team", "marketing", "--json")
    assert code == 0 and [(g["name"], g["respondents"]) for g in json.loads(out)["groups"]] == [
        ("Marketing", 9),
        ("Executives", None),
        ("Managers", None),
        ("Individual contributors", 5),
    ]
    code, out, _ = run("results", "--team", "ops")
    assert code == 0 and "Ops: fewer than 3 people answered" in out and "|" not in out
    code, _, err = run("results", "--round", "Q9")
    assert code == 2 and "no closed round Q9" in err
    code, _, err = run(
        "import", str(answers_file), "--name", "Again", "--opens", "2025-01-13", "--closes", "2025-01-20"
    )
    assert code == 2 and "may not overlap" in err
    code, _, err = run(
        "import", str(tmp_path / "nope.csv"), "--name", "X", "--opens", "2025-02-03", "--closes", "2025-02-07"
    )
    assert code == 2 and "no such file" in err


def test_as_dict_is_plain_json(six: Results) -> None:
    data = as_dict(six, [], [])
    assert json.loads(json.dumps(data)) == data
    assert data["view"] == "Everyone" and data["signs"] == [] and data["actions"] == []
    gap = next(g for g in data["gaps"] if g["area"] == "data" and g["between"].startswith("Executives"))
    assert gap == {
        "area": "data",
        "between": "Executives vs individual contributors",
        "points": 0.833,
        "flagged": False,
    }
    assert data["change"]["goals"] == pytest.approx(1.5)
