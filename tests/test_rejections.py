"""The rejection explorer (core.rejections: explorer, profiles, streaks) and the reason catalogue
(core.rejections.catalogue), counted by hand.

The main fixture: MQLs of Monday 6 January 2025 rejected over the four ISO weeks 6 Jan – 2 Feb 2025 (UTC),
plus one rejection of an older MQL inside the period (X2) and one of a period's MQL after it (X1).

    id  typed reason            size  industry sen.      source       campaign owner att.  rejected  week
    R1  company too small         20  saas     ic        paid_search  ps-a     Alex    2   Tue 07 Jan  W1
    R2  Company size too small    30  saas     manager   paid_search  ps-a     Alex    6   Wed 08 Jan  W1
    R3  too small co.             10  fintech  ic        webinar      wb-1     Dana    1   Tue 14 Jan  W2
    R4  wrong size              2000  saas     vp        webinar      wb-1     Dana    -   Wed 15 Jan  W2
    R5  Wrong company size         -  saas     director  events       ev-1     Dana    3   Tue 21 Jan  W3
    R6  Duplicate                100  saas     vp        paid_search  ps-b     Alex    0   Wed 22 Jan  W3
    R7  No budget                200  fintech  cxo       paid_search  ps-a     Dana    2   Wed 08 Jan  W1
    R8  (blank)                   60  saas     manager   events       ev-1     Alex    1   Thu 09 Jan  W1
    R9  -                         70  fintech  ic        webinar      wb-1     -       8   Thu 16 Jan  W2
    R10 Too smol!!                15  saas     ic        paid_search  ps-b     Alex    4   Tue 28 Jan  W4
    R11 too smol                  25  fintech  ic        events       -        Dana    -   Wed 29 Jan  W4
    X2  Bad timing (MQL in Dec)  300  saas     vp        paid_search  ps-a     Alex    6   Fri 10 Jan  W1
    X1  No budget                400  saas     director  webinar      wb-1     Dana    2   Tue 04 Feb  (after)
    A1–A4 accepted (sql_at set), O1 open; all MQLs of 6 Jan.

R1–R5 are five spellings of "Wrong company size" (the default catalogue knows them); "too smol" is unknown.
The SLA asks for 6 touch attempts: "Wrong company size" and "Duplicate" do not need them, "No budget",
"Bad timing", blank and unmapped reasons do. So R7, R8 and R10 are premature; R4 and R11 have no count.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import unicodedata
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import Date, Engine, bindparam, select, text

from core.admin import settings as org_settings
from core.db import alembic_config, get_engine, session_scope
from core.definitions.rules import IcpRules, MqlRules
from core.funnel import rollups
from core.funnel.derived import store_settings
from core.funnel.kpis import KpiQuery, kpi_table
from core.funnel.segments import NOT_SET, SIZE_BANDS, Filters
from core.imports.mapping import load_preset
from core.imports.runs import import_csv
from core.models import AuditEntry, Lead
from core.permissions import Actor, PermissionDenied
from core.rejections import explorer as rj
from core.rejections import streaks
from core.rejections.catalogue import (
    CatalogueError,
    add_reason,
    catalogue,
    map_spelling,
    unknown_reasons,
    update_reason,
)
from core.rejections.explorer import Drill, by_owner, by_reason, drill_leads, explorer_range, heatmap, overview, weekly
from core.rejections.profiles import Finding, reason_profiles
from core.rejections.scope import NO_REASON, RejectionQuery
from core.rejections.streaks import Streak, complete_weeks, recurring_tops, week_tops
from core.text import reason_key, reason_keys
from tests.conftest import TESTER, csv_file, snapshot

OPS = Actor("olivia", "ops")
WCS = "Wrong company size"
UNMAPPED_SMOL = "Unmapped: too smol"
FIRST, LAST = dt.date(2025, 1, 6), dt.date(2025, 2, 2)
W1, W2, W3, W4 = (FIRST + dt.timedelta(weeks=n) for n in range(4))
PERIOD = RejectionQuery(FIRST, LAST)

LEAD_COLUMNS = (
    "lead_id",
    "created_at",
    "company_size",
    "industry",
    "seniority",
    "source",
    "campaign",
    "mql_at",
    "sql_at",
    "rejected_at",
    "rejection_reason",
    "owner",
    "touch_attempts",
)


def import_leads(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Leads through the importer, so the derived columns (rejected_day, reason_key) are computed as in production."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=LEAD_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if value is None else value for key, value in row.items()})
    import_csv(engine, "leads", csv_file(out.getvalue()), actor=TESTER)


CREATED, MQL = "2025-01-06 08:00:00", "2025-01-06 10:00:00"


def _lead(
    lead_id: str,
    size: int | None,
    industry: str,
    seniority: str,
    source: str,
    campaign: str | None,
    owner: str | None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "created_at": CREATED,
        "mql_at": MQL,
        "company_size": size,
        "industry": industry,
        "seniority": seniority,
        "source": source,
        "campaign": campaign,
        "owner": owner,
        **extra,
    }


def _rejected(
    lead_id: str, reason: str | None, day: str, attempts: int | None, *args: Any, **extra: Any
) -> dict[str, Any]:
    return _lead(
        lead_id,
        *args,
        rejected_at=f"2025-{day} 12:00:00",
        rejection_reason=reason,
        touch_attempts=attempts,
        **extra,
    )


MAIN = [
    _rejected("R1", "company too small", "01-07", 2, 20, "saas", "ic", "paid_search", "ps-a", "Alex"),
    _rejected("R2", "Company size too small", "01-08", 6, 30, "saas", "manager", "paid_search", "ps-a", "Alex"),
    _rejected("R3", "too small co.", "01-14", 1, 10, "fintech", "ic", "webinar", "wb-1", "Dana"),
    _rejected("R4", "wrong size", "01-15", None, 2000, "saas", "vp", "webinar", "wb-1", "Dana"),
    _rejected("R5", "Wrong company size", "01-21", 3, None, "saas", "director", "events", "ev-1", "Dana"),
    _rejected("R6", "Duplicate", "01-22", 0, 100, "saas", "vp", "paid_search", "ps-b", "Alex"),
    _rejected("R7", "No budget", "01-08", 2, 200, "fintech", "cxo", "paid_search", "ps-a", "Dana"),
    _rejected("R8", None, "01-09", 1, 60, "saas", "manager", "events", "ev-1", "Alex"),
    _rejected("R9", "-", "01-16", 8, 70, "fintech", "ic", "webinar", "wb-1", None),
    _rejected("R10", "Too smol!!", "01-28", 4, 15, "saas", "ic", "paid_search", "ps-b", "Alex"),
    _rejected("R11", "too smol", "01-29", None, 25, "fintech", "ic", "events", None, "Dana"),
    {
        **_rejected("X2", "Bad timing", "01-10", 6, 300, "saas", "vp", "paid_search", "ps-a", "Alex"),
        "created_at": "2024-12-20 08:00:00",
        "mql_at": "2024-12-20 10:00:00",
    },
    _rejected("X1", "No budget", "02-04", 2, 400, "saas", "director", "webinar", "wb-1", "Dana"),
    _lead("A1", 100, "saas", "vp", "paid_search", "ps-a", "Alex", sql_at="2025-01-10 10:00:00"),
    _lead("A2", 40, "fintech", "director", "webinar", "wb-1", "Dana", sql_at="2025-01-12 10:00:00"),
    _lead("A3", 500, "saas", "cxo", "events", "ev-1", "Alex", sql_at="2025-01-20 10:00:00"),
    _lead("A4", None, "saas", "manager", "paid_search", "ps-b", "Dana", sql_at="2025-01-21 10:00:00"),
    _lead("O1", 80, "saas", "ic", "webinar", "wb-1", "Alex"),
]


@pytest.fixture
def explorer(engine: Engine) -> Engine:
    import_leads(engine, MAIN)
    return engine


def reason_counts(frame: pd.DataFrame) -> dict[str, int]:
    return {str(reason): int(n) for reason, n in zip(frame["reason"], frame["rejections"], strict=True)}


def reason_id(engine: Engine, name: str) -> int:
    return next(reason.id for reason in catalogue(engine) if reason.name == name)


def audit_entries(engine: Engine) -> list[tuple[str, str, str, str | None, dict[str, Any]]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.entity, AuditEntry.entity_key, AuditEntry.detail)
            .where(AuditEntry.entity.in_(["rejection_reason", "reason_synonym"]))
            .order_by(AuditEntry.id)
        ).all()
    return [tuple(row) for row in rows]


def leads_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text("SELECT * FROM leads ORDER BY lead_id"))]


# --- 1. folding and the catalogue -------------------------------------------------------------------------------


def test_fold_folds_case_spacing_punctuation_and_unicode() -> None:
    assert reason_key("Too small co.") == reason_key("too  small co") == "too small co"
    assert reason_key("  TOO\tSMALL\nco!!! ") == "too small co"
    assert reason_key("too_small-co") == "too small co"  # underscores and dashes separate words
    assert reason_key("Ｗｒｏｎｇ　ｓｉｚｅ") == "wrong size"  # full-width letters and space: NFKC
    assert reason_key("ﬁrm too small") == "firm too small"  # the ligature unfolds
    decomposed = "Cafe\u0301 owner"
    assert decomposed != unicodedata.normalize("NFC", decomposed)
    assert reason_key(decomposed) == reason_key("Café owner") == "café owner"
    assert reason_key("STRASSE") == reason_key("straße") == "strasse"  # casefold, not lower
    assert reason_key("No response after 6 attempts") == "no response after 6 attempts"  # digits stay
    for blank in (None, float("nan"), "", "   ", "-", "?!", "...", "—", "_"):
        assert reason_key(blank) is None, blank
    assert len(reason_key("x" * 300) or "") == 255


def test_reason_keys_fold_each_text_and_keeps_blanks() -> None:
    texts = pd.Series(["Too small co.", None, "too  small co", float("nan"), "-", "Dupe"])
    assert reason_keys(texts).tolist() == ["too small co", None, "too small co", None, None, "dupe"]


def test_default_catalogue_maps_the_spellings_of_one_reason(explorer: Engine) -> None:
    reasons = {reason.name: reason for reason in catalogue(explorer)}
    assert len(reasons) == 12
    wrong_size = reasons[WCS]
    assert (wrong_size.category, wrong_size.lead_field, wrong_size.attempts_required) == (
        "targeting",
        "company_size",
        False,
    )
    assert {"company too small", "company size too small", "too small co", "wrong size", "wrong company size"} <= set(
        wrong_size.synonyms
    )
    assert reasons["No budget"].attempts_required and not reasons["Duplicate"].attempts_required

    table = by_reason(explorer, PERIOD)
    # R1–R5 typed five ways; X2 (an older MQL) counts by its rejection day; X1 was rejected after the period.
    assert reason_counts(table) == {
        WCS: 5,
        UNMAPPED_SMOL: 2,
        NO_REASON: 2,
        "Bad timing": 1,
        "Duplicate": 1,
        "No budget": 1,
    }
    assert list(table["reason"]) == [WCS, NO_REASON, UNMAPPED_SMOL, "Bad timing", "Duplicate", "No budget"]
    assert dict(zip(table["reason"], table["category"], strict=True)) == {
        WCS: "targeting",
        NO_REASON: "none",
        UNMAPPED_SMOL: "none",
        "Bad timing": "timing",
        "Duplicate": "data",
        "No budget": "qualification",
    }
    assert list(table["share"]) == pytest.approx([5 / 12, 2 / 12, 2 / 12, 1 / 12, 1 / 12, 1 / 12])
    assert list(table["cumulative_share"]) == pytest.approx([5 / 12, 7 / 12, 9 / 12, 10 / 12, 11 / 12, 1.0])


def test_unknown_reason_is_listed_with_an_example_and_count(explorer: Engine) -> None:
    unknown = unknown_reasons(explorer)
    assert list(unknown["key"]) == ["too smol"]
    assert list(unknown["leads"]) == [2]
    assert unknown.loc[0, "example"] in {"Too smol!!", "too smol"}


def test_mapping_a_spelling_counts_it_under_the_reason_without_touching_leads(explorer: Engine) -> None:
    before = leads_rows(explorer)
    key, was = map_spelling(explorer, OPS, "Too smol!!", reason_id(explorer, WCS))
    assert (key, was) == ("too smol", None)

    assert reason_counts(by_reason(explorer, PERIOD)) == {
        WCS: 7,
        NO_REASON: 2,
        "Bad timing": 1,
        "Duplicate": 1,
        "No budget": 1,
    }
    assert unknown_reasons(explorer).empty
    assert overview(explorer, PERIOD).unmapped == 0
    # Wrong company size needs no attempts, so R10 (4 attempts, unmapped before) is no longer premature.
    assert overview(explorer, PERIOD).premature == 2
    assert leads_rows(explorer) == before  # the raw text and the key stay; only the catalogue changed
    with explorer.connect() as connection:
        typed: dict[str, str | None] = dict(
            connection.execute(text("SELECT lead_id, rejection_reason FROM leads")).all()
        )
    assert (typed["R10"], typed["R11"], typed["R3"], typed["R9"], typed["R8"]) == (
        "Too smol!!",
        "too smol",
        "too small co.",
        "-",
        None,
    )
    assert audit_entries(explorer) == [("olivia", "map", "reason_synonym", "too smol", {"reason": WCS})]
    assert "too smol" in next(r for r in catalogue(explorer) if r.name == WCS).synonyms

    # Mapping it again to the same reason changes nothing and logs nothing.
    map_spelling(explorer, OPS, "TOO SMOL", reason_id(explorer, WCS))
    assert len(audit_entries(explorer)) == 1


def test_remapping_a_spelling_records_what_it_meant(engine: Engine) -> None:
    import_leads(engine, [_rejected("T1", "Too big!", "01-07", 9, 5000, "saas", "vp", "events", None, "Alex")])
    assert reason_counts(by_reason(engine, PERIOD)) == {WCS: 1}
    key, was = map_spelling(engine, OPS, "too big", reason_id(engine, "Bad timing"))
    assert (key, was) == ("too big", WCS)
    assert reason_counts(by_reason(engine, PERIOD)) == {"Bad timing": 1}
    assert audit_entries(engine) == [
        ("olivia", "remap", "reason_synonym", "too big", {"reason": "Bad timing", "was": WCS})
    ]


def test_a_spelling_that_is_another_reasons_name_is_refused(explorer: Engine) -> None:
    before = snapshot(explorer)
    with pytest.raises(CatalogueError, match="name of the reason 'Duplicate'"):
        map_spelling(explorer, OPS, "DUPLICATE.", reason_id(explorer, "Bad timing"))
    with pytest.raises(CatalogueError, match="letter or digit"):
        map_spelling(explorer, OPS, "?!", reason_id(explorer, "Bad timing"))
    with pytest.raises(CatalogueError, match="no reason with id"):
        map_spelling(explorer, OPS, "too smol", 999_999)
    assert snapshot(explorer) == before


@pytest.mark.parametrize(
    ("name", "category", "lead_field", "message"),
    [
        ("Too early", "marketing", None, "unknown category"),
        ("Too early", "timing", "revenue", "unknown lead field"),
        ("Duplicate", "data", None, "already means 'Duplicate'"),
        ("  no   BUDGET ", "qualification", None, "already means 'No budget'"),
        ("Dupe", "data", None, "already means 'Duplicate'"),  # another reason's synonym
        ("!!!", "timing", None, "letter or digit"),
        ("x" * 129, "timing", None, "at most 128"),
    ],
)
def test_add_reason_refusals_change_nothing(
    explorer: Engine, name: str, category: str, lead_field: str | None, message: str
) -> None:
    before = snapshot(explorer)
    with pytest.raises(CatalogueError, match=message):
        add_reason(explorer, OPS, name=name, category=category, lead_field=lead_field)
    assert snapshot(explorer) == before


def test_add_reason_makes_its_name_a_synonym(explorer: Engine) -> None:
    added = add_reason(explorer, OPS, name=" Too  early ", category="timing", description=" later ")
    assert (added.name, added.category, added.synonyms, added.description) == (
        "Too early",
        "timing",
        ("too early",),
        "later",
    )
    assert added.attempts_required
    import_leads(explorer, [_rejected("T1", "too early!", "01-07", 9, 80, "saas", "vp", "events", None, "Alex")])
    assert reason_counts(by_reason(explorer, PERIOD))["Too early"] == 1
    assert audit_entries(explorer)[-1][:4] == ("olivia", "create", "rejection_reason", "Too early")


@pytest.mark.parametrize(
    ("name", "category", "message"),
    [
        ("No budget", "nonsense", "unknown category"),
        ("Duplicate", "qualification", "already means 'Duplicate'"),
        ("dupe", "qualification", "already means 'Duplicate'"),
        ("", "qualification", "letter or digit"),
    ],
)
def test_update_reason_refusals_change_nothing(explorer: Engine, name: str, category: str, message: str) -> None:
    before = snapshot(explorer)
    with pytest.raises(CatalogueError, match=message):
        update_reason(
            explorer,
            OPS,
            reason_id(explorer, "No budget"),
            name=name,
            category=category,
            lead_field=None,
            attempts_required=True,
            description="",
        )
    with pytest.raises(CatalogueError, match="no reason with id"):
        update_reason(
            explorer,
            OPS,
            999_999,
            name="Ghost",
            category="timing",
            lead_field=None,
            attempts_required=True,
            description="",
        )
    assert snapshot(explorer) == before


def test_renaming_a_reason_keeps_the_old_spellings(explorer: Engine) -> None:
    budget = reason_id(explorer, "No budget")
    renamed = update_reason(
        explorer,
        OPS,
        budget,
        name="Budget constraints",
        category="qualification",
        lead_field=None,
        attempts_required=False,
        description="No money now.",
    )
    assert renamed.name == "Budget constraints"
    assert {"no budget", "budget constraints"} <= set(renamed.synonyms)
    counts = reason_counts(by_reason(explorer, PERIOD))
    assert counts["Budget constraints"] == 1 and "No budget" not in counts
    assert overview(explorer, PERIOD).premature == 2  # R7 needs no attempts any more: R8, R10 remain
    entry = audit_entries(explorer)[-1]
    assert entry[:4] == ("olivia", "update", "rejection_reason", "No budget")
    assert entry[4]["name"] == ["No budget", "Budget constraints"]
    assert entry[4]["attempts_required"] == [True, False]


@pytest.mark.parametrize("role", ["exec", "marketing", "sales", "marketing_lead", "sales_lead"])
def test_only_ops_and_admin_edit_the_catalogue(explorer: Engine, role: str) -> None:
    actor = Actor("someone", role)  # type: ignore[arg-type]
    budget = reason_id(explorer, "No budget")
    before = snapshot(explorer)
    with pytest.raises(PermissionDenied):
        map_spelling(explorer, actor, "too smol", budget)
    with pytest.raises(PermissionDenied):
        add_reason(explorer, actor, name="Too early", category="timing")
    with pytest.raises(PermissionDenied):
        update_reason(
            explorer, actor, budget, name="Money", category="qualification", lead_field=None,
            attempts_required=True, description="",
        )  # fmt: skip
    assert snapshot(explorer) == before
    assert unknown_reasons(explorer)["key"].tolist() == ["too smol"]


def test_admin_may_edit_the_catalogue(explorer: Engine) -> None:
    map_spelling(explorer, TESTER, "too smol", reason_id(explorer, WCS))
    assert reason_counts(by_reason(explorer, PERIOD))[WCS] == 7


# --- 2. the three-week rule -------------------------------------------------------------------------------------


def mondays(first: dt.date, count: int) -> list[dt.date]:
    return [first + dt.timedelta(weeks=n) for n in range(count)]


def frame(*rows: tuple[dt.date, str, int]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["week", "reason", "rejections"])


def test_three_weeks_on_top_is_a_streak() -> None:
    weeks = mondays(W1, 4)
    weekly_frame = frame(
        (weeks[0], WCS, 5),
        (weeks[0], "No budget", 2),
        (weeks[1], WCS, 3),
        (weeks[1], "No budget", 2),
        (weeks[2], WCS, 4),
        (weeks[3], "No budget", 6),
        (weeks[3], WCS, 1),
    )
    streaks = recurring_tops(weekly_frame, weeks)
    assert streaks == [Streak(WCS, (weeks[0], weeks[1], weeks[2]))]
    sentence = streaks[0].sentence()
    assert "“Wrong company size” topped the rejection reasons 3 complete weeks in a row" in sentence
    assert "from the week of 06 Jan 2025 to the week of 20 Jan 2025 (06 Jan, 13 Jan, 20 Jan)" in sentence
    assert week_tops(weekly_frame, weeks) == {weeks[0]: WCS, weeks[1]: WCS, weeks[2]: WCS, weeks[3]: "No budget"}


def test_two_weeks_are_not_a_streak() -> None:
    weeks = mondays(W1, 3)
    weekly_frame = frame((weeks[0], WCS, 5), (weeks[1], WCS, 3), (weeks[2], "No budget", 4), (weeks[2], WCS, 1))
    assert recurring_tops(weekly_frame, weeks) == []


def test_a_week_without_rejections_breaks_the_run() -> None:
    weeks = mondays(W1, 5)
    weekly_frame = frame((weeks[0], WCS, 5), (weeks[1], WCS, 3), (weeks[3], WCS, 4), (weeks[4], WCS, 2))
    assert week_tops(weekly_frame, weeks)[weeks[2]] is None
    assert recurring_tops(weekly_frame, weeks) == []
    # With the gap week filled by the same reason the five weeks are one streak.
    filled = pd.concat([weekly_frame, frame((weeks[2], WCS, 1))])
    assert recurring_tops(filled, weeks) == [Streak(WCS, tuple(weeks))]


def test_a_tie_on_top_breaks_the_run() -> None:
    weeks = mondays(W1, 4)
    weekly_frame = frame(
        (weeks[0], WCS, 5),
        (weeks[1], WCS, 3),
        (weeks[1], "No budget", 3),
        (weeks[2], WCS, 4),
        (weeks[3], WCS, 4),
    )
    assert week_tops(weekly_frame, weeks)[weeks[1]] is None
    assert recurring_tops(weekly_frame, weeks) == []
    # A tie below the top does not matter.
    untied = frame(*((week, WCS, 5) for week in weeks), (weeks[1], "No budget", 2), (weeks[1], "Duplicate", 2))
    assert recurring_tops(untied, weeks) == [Streak(WCS, tuple(weeks))]


def test_the_week_table_and_the_streaks_share_one_tie_rule() -> None:
    """The page's "top reason of each week" is core's: a tie on top names every tied reason, tops nothing and
    breaks the streak; a tie below the top, or with the blank reason, does not."""
    weeks = mondays(W1, 5)
    weekly_frame = frame(
        (weeks[0], WCS, 5),
        (weeks[0], NO_REASON, 5),
        (weeks[1], WCS, 3),
        (weeks[1], "No budget", 3),
        (weeks[1], "Duplicate", 3),
        (weeks[2], WCS, 4),
        (weeks[2], "No budget", 1),
        (weeks[2], "Duplicate", 1),
        (weeks[3], WCS, 4),
        (weeks[4], NO_REASON, 2),
    )
    found = streaks.find(weekly_frame, weeks[0], weeks[3] + dt.timedelta(days=6), dt.date(2025, 6, 1))
    table = streaks.week_table(weekly_frame, found).set_index("week")
    tops = week_tops(weekly_frame, list(found.complete))
    assert table.loc[weeks[0], "top_reason"] == WCS == tops[weeks[0]]
    assert table.loc[weeks[1], "top_reason"] == f"tie: Duplicate / No budget / {WCS}"
    assert tops[weeks[1]] is None and table.loc[weeks[1], "rejections"] == 3
    assert table.loc[weeks[2], "top_reason"] == WCS == tops[weeks[2]]
    # A week with blank reasons only has no top reason and no row; the fifth week is outside the period.
    assert weeks[4] not in table.index and list(found.weeks) == weeks[:4]
    assert not table["streak"].any() and found.streaks == ()
    assert list(table["complete"]) == [True, True, True, True]


def test_the_trend_keeps_the_top_reasons_and_sums_the_rest() -> None:
    weeks = mondays(W1, 3)
    weekly_frame = frame(
        *((week, WCS, 5) for week in weeks),
        (weeks[0], "No budget", 2),
        (weeks[0], "Duplicate", 1),
        (weeks[1], "Bad timing", 1),
        (weeks[2], NO_REASON, 4),
    )
    # The last week is cut by the period: it is drawn, faded, and is not counted for a streak.
    found = streaks.find(weekly_frame, weeks[0], weeks[2] + dt.timedelta(days=2), dt.date(2025, 6, 1))
    assert found.streaks == () and found.complete == frozenset(weeks[:2])
    order = streaks.trend_order([WCS, "No budget", NO_REASON, "Duplicate", "Bad timing"], top=2)
    assert order == [WCS, "No budget", streaks.OTHER_REASONS, NO_REASON]
    trend = streaks.trend_frame(weekly_frame, found, order).set_index(["week", "reason"])
    assert trend.loc[(weeks[0], streaks.OTHER_REASONS), "rejections"] == 1
    assert trend.loc[(weeks[1], streaks.OTHER_REASONS), "rejections"] == 1
    assert trend.loc[(weeks[2], NO_REASON), "week_state"] == "partial"
    assert trend["rejections"].sum() == weekly_frame["rejections"].sum()
    share = streaks.followed_share(weekly_frame, WCS, found).set_index("week")
    assert share.loc[weeks[0], "share"] == pytest.approx(5 / 8)
    assert list(share["state"]) == [streaks.NOT_IN_A_STREAK, streaks.NOT_IN_A_STREAK, streaks.INCOMPLETE]


def test_no_reason_never_tops_a_week() -> None:
    weeks = mondays(W1, 3)
    weekly_frame = frame(
        (weeks[0], NO_REASON, 9),
        (weeks[0], WCS, 1),
        (weeks[1], NO_REASON, 9),
        (weeks[1], WCS, 1),
        (weeks[2], NO_REASON, 9),
        (weeks[2], WCS, 1),
    )
    assert set(week_tops(weekly_frame, weeks).values()) == {WCS}
    assert recurring_tops(weekly_frame, weeks) == [Streak(WCS, tuple(weeks))]
    only_blank = frame(*((week, NO_REASON, 9) for week in weeks))
    assert set(week_tops(only_blank, weeks).values()) == {None}
    assert recurring_tops(only_blank, weeks) == []


def test_two_separate_runs_are_both_reported() -> None:
    weeks = mondays(W1, 7)
    weekly_frame = frame(
        *((week, WCS, 4) for week in weeks[:3]),
        (weeks[3], "Duplicate", 2),
        *((week, "No budget", 3) for week in weeks[4:]),
    )
    assert recurring_tops(weekly_frame, weeks) == [
        Streak(WCS, tuple(weeks[:3])),
        Streak("No budget", tuple(weeks[4:])),
    ]
    # A different reason on top in between also ends a run: WCS, WCS, WCS, No budget ×3 is two runs too.
    back_to_back = frame(*((week, WCS, 4) for week in weeks[:3]), *((week, "No budget", 3) for week in weeks[3:6]))
    assert recurring_tops(back_to_back, weeks[:6]) == [
        Streak(WCS, tuple(weeks[:3])),
        Streak("No budget", tuple(weeks[3:6])),
    ]


def test_complete_weeks_leave_out_partial_weeks_and_the_running_one() -> None:
    # Wed 1 Jan – Wed 5 Feb 2025: the weeks of 30 Dec and 3 Feb are cut by the period.
    first, last = dt.date(2025, 1, 1), dt.date(2025, 2, 5)
    assert complete_weeks(first, last, dt.date(2025, 6, 1)) == mondays(W1, 4)
    # On Wed 29 Jan the week of 27 Jan is still running.
    assert complete_weeks(first, last, dt.date(2025, 1, 29)) == mondays(W1, 3)
    # On Monday 27 Jan the week of 20 Jan has just ended; on Sunday 26 Jan it has not.
    assert complete_weeks(first, last, dt.date(2025, 1, 27)) == mondays(W1, 3)
    assert complete_weeks(first, last, dt.date(2025, 1, 26)) == mondays(W1, 2)
    # A period of whole weeks keeps both ends.
    assert complete_weeks(FIRST, LAST, dt.date(2025, 2, 3)) == mondays(W1, 4)
    assert complete_weeks(dt.date(2025, 1, 7), dt.date(2025, 1, 12), dt.date(2025, 6, 1)) == []


def test_explorer_range_ends_with_the_last_complete_week() -> None:
    assert explorer_range("last_13_weeks", dt.date(2025, 2, 5)) == (dt.date(2024, 11, 4), dt.date(2025, 2, 2))
    assert explorer_range("this_year", dt.date(2025, 2, 5)) == (dt.date(2025, 1, 1), dt.date(2025, 2, 5))


def test_weekly_counts_and_the_streak_from_stored_rejections(explorer: Engine) -> None:
    counts = {(row.week, row.reason): row.rejections for row in weekly(explorer, PERIOD).itertuples()}
    assert counts == {
        (W1, WCS): 2,
        (W1, "No budget"): 1,
        (W1, NO_REASON): 1,
        (W1, "Bad timing"): 1,
        (W2, WCS): 2,
        (W2, NO_REASON): 1,
        (W3, WCS): 1,
        (W3, "Duplicate"): 1,
        (W4, UNMAPPED_SMOL): 2,
    }
    weeks = complete_weeks(FIRST, LAST, dt.date(2025, 2, 10))
    assert week_tops(weekly(explorer, PERIOD), weeks) == {W1: WCS, W2: WCS, W3: None, W4: UNMAPPED_SMOL}
    assert recurring_tops(weekly(explorer, PERIOD), weeks) == []
    # One more "too big" on Thursday 23 Jan breaks W3's tie: three weeks of Wrong company size.
    import_leads(explorer, [_rejected("T1", "Too big", "01-23", 9, 5000, "saas", "vp", "events", None, "Alex")])
    assert recurring_tops(weekly(explorer, PERIOD), weeks) == [Streak(WCS, (W1, W2, W3))]
    # Once "too smol" means Wrong company size, week 4 joins the run.
    map_spelling(explorer, OPS, "too smol", reason_id(explorer, WCS))
    assert recurring_tops(weekly(explorer, PERIOD), weeks) == [Streak(WCS, (W1, W2, W3, W4))]


# --- 3. overview and owners -------------------------------------------------------------------------------------


def cohort_row(engine: Engine, filters: Filters | None = None) -> dict[str, Any]:
    query = KpiQuery(FIRST, LAST, "range", filters=filters or Filters())
    return kpi_table(engine, query).iloc[0].to_dict()


def test_overview_counts(explorer: Engine) -> None:
    summary = overview(explorer, PERIOD)
    assert summary.rejected == 12  # R1–R11 and X2
    assert summary.no_reason == 2  # R8 (blank) and R9 ("-")
    assert summary.unmapped == 2  # R10, R11
    # R7 (No budget, 2), R8 (blank, 1), R10 (unmapped, 4). Not R1, R3, R5 (Wrong company size needs no
    # attempts), not R6 (Duplicate, 0), not X2 (Bad timing, exactly 6), not R9 (8); R4, R11 unknown.
    assert summary.premature == 3
    assert summary.attempts_unknown == 2
    assert summary.min_touch_attempts == 6
    # The cohort: the 17 MQLs of 6 Jan (not X2), 16 dispositioned (not O1), 12 rejected (R1–R11, X1).
    assert (summary.mqls, summary.dispositioned, summary.cohort_rejected) == (17, 16, 12)
    assert summary.unqualified_share == pytest.approx(12 / 16)
    assert summary.rejection_gate == pytest.approx(0.30) and summary.over_gate

    kpis = cohort_row(explorer)
    assert kpis["rejected_no_reason"] == summary.no_reason == 2
    assert kpis["rejection_share"] == pytest.approx(summary.unqualified_share)
    assert (kpis["mqls"], kpis["dispositioned"], kpis["rejected"]) == (17, 16, 12)


def test_by_owner_counts(explorer: Engine) -> None:
    table = by_owner(explorer, PERIOD)
    assert list(table["owner"]) == ["Alex", "(not set)", "Dana"]  # most without a reason, then most premature
    rows = {row["owner"]: row for row in table.to_dict(orient="records")}
    # Alex: R1, R2, R6, R8, R10, X2; Dana: R3, R4, R5, R7, R11; nobody: R9.
    assert {o: (r["rejected"], r["no_reason"], r["premature"], r["attempts_unknown"]) for o, r in rows.items()} == {
        "Alex": (6, 1, 2, 0),
        "Dana": (5, 0, 1, 2),
        "(not set)": (1, 1, 0, 0),
    }
    assert rows["Alex"]["no_reason_share"] == pytest.approx(1 / 6)
    assert rows["Alex"]["premature_share"] == pytest.approx(2 / 6)
    assert rows["Dana"]["premature_share"] == pytest.approx(1 / 5)
    assert table["rejected"].sum() == overview(explorer, PERIOD).rejected


def test_a_lower_sla_minimum_changes_what_is_premature(explorer: Engine) -> None:
    # The minimum comes from a signed SLA version, which writes it with `store`.
    with session_scope(explorer) as session:
        store_settings(session, {"min_touch_attempts": 2}, actor_name="sla")
    # Fewer than 2: R8 (blank, 1). R7 has exactly 2, R6 (0) is a Duplicate.
    assert overview(explorer, PERIOD).premature == 1
    assert dict(zip(by_owner(explorer, PERIOD)["owner"], by_owner(explorer, PERIOD)["premature"], strict=True)) == {
        "Alex": 1,
        "Dana": 0,
        "(not set)": 0,
    }


# --- 4. filters and the local rejection day ---------------------------------------------------------------------

FILTERED: dict[str, tuple[Filters, dict[str, Any]]] = {
    "all": (
        Filters(),
        {
            "overview": (12, 2, 2, 3, 2),
            "reasons": {WCS: 5, UNMAPPED_SMOL: 2, NO_REASON: 2, "No budget": 1, "Duplicate": 1, "Bad timing": 1},
            "owners": {"Alex": 6, "Dana": 5, "(not set)": 1},
            "cohort": (17, 16, 12),
        },
    ),
    "source": (
        Filters(sources=("webinar",)),  # R3, R4, R9; cohort R3, R4, R9, X1, A2, O1
        {
            "overview": (3, 1, 0, 0, 1),
            "reasons": {WCS: 2, NO_REASON: 1},
            "owners": {"Dana": 2, "(not set)": 1},
            "cohort": (6, 5, 4),
        },
    ),
    "campaign": (
        Filters(campaigns=("ps-a",)),  # R1, R2, R7, X2; cohort R1, R2, R7, A1
        {
            "overview": (4, 0, 0, 1, 0),
            "reasons": {WCS: 2, "No budget": 1, "Bad timing": 1},
            "owners": {"Alex": 3, "Dana": 1},
            "cohort": (4, 4, 3),
        },
    ),
    "owner": (
        Filters(owners=("Dana",)),  # R3, R4, R5, R7, R11; cohort those, X1, A2, A4
        {
            "overview": (5, 0, 1, 1, 2),
            "reasons": {WCS: 3, "No budget": 1, UNMAPPED_SMOL: 1},
            "owners": {"Dana": 5},
            "cohort": (8, 8, 6),
        },
    ),
    "industry": (
        Filters(industries=("fintech",)),  # R3, R7, R9, R11; cohort those and A2
        {
            "overview": (4, 1, 1, 1, 1),
            "reasons": {WCS: 1, "No budget": 1, NO_REASON: 1, UNMAPPED_SMOL: 1},
            "owners": {"Dana": 3, "(not set)": 1},
            "cohort": (5, 5, 4),
        },
    ),
    "size band": (
        Filters(size_bands=("10-49",)),  # R1 20, R2 30, R3 10, R10 15, R11 25; cohort those and A2 (40)
        {
            "overview": (5, 0, 2, 1, 1),
            "reasons": {WCS: 3, UNMAPPED_SMOL: 2},
            "owners": {"Alex": 3, "Dana": 2},
            "cohort": (6, 6, 5),
        },
    ),
    "source and owner": (
        Filters(sources=("paid_search",), owners=("Alex",)),  # R1, R2, R6, R10, X2; cohort R1, R2, R6, R10, A1
        {
            "overview": (5, 0, 1, 1, 0),
            "reasons": {WCS: 2, "Duplicate": 1, UNMAPPED_SMOL: 1, "Bad timing": 1},
            "owners": {"Alex": 5},
            "cohort": (5, 5, 4),
        },
    ),
}


@pytest.mark.parametrize("case", list(FILTERED))
def test_filters_narrow_every_count(explorer: Engine, case: str) -> None:
    filters, expected = FILTERED[case]
    query = RejectionQuery(FIRST, LAST, filters)
    summary = overview(explorer, query)
    assert (summary.rejected, summary.no_reason, summary.unmapped, summary.premature, summary.attempts_unknown) == (
        expected["overview"]
    )
    assert reason_counts(by_reason(explorer, query)) == expected["reasons"]
    owners = by_owner(explorer, query)
    assert dict(zip(owners["owner"], owners["rejected"], strict=True)) == expected["owners"]
    assert owners["no_reason"].sum() == summary.no_reason and owners["premature"].sum() == summary.premature
    assert weekly(explorer, query)["rejections"].sum() == summary.rejected
    for by in ("source", "campaign"):
        assert heatmap(explorer, query, by)["rejections"].sum() == summary.rejected
    assert drill_leads(explorer, query, Drill())[1] == summary.rejected
    assert drill_leads(explorer, query, Drill(only="no_reason"))[1] == summary.no_reason
    assert drill_leads(explorer, query, Drill(only="premature"))[1] == summary.premature
    kpis = cohort_row(explorer, filters)
    assert (summary.mqls, summary.dispositioned, summary.cohort_rejected) == expected["cohort"]
    assert (kpis["mqls"], kpis["dispositioned"], kpis["rejected"]) == expected["cohort"]
    _, dispositioned, rejected = expected["cohort"]
    assert summary.unqualified_share == pytest.approx(rejected / dispositioned)
    assert kpis["rejection_share"] == pytest.approx(summary.unqualified_share)
    assert kpis["rejected_no_reason"] == summary.no_reason  # here every no-reason rejection is of a cohort MQL


COHORT_FIELDS = ("mqls", "disposition_known", "rejection_dates_known", "dispositioned", "cohort_rejected")


def assert_the_kept_cohort_is_the_rows_cohort(
    engine: Engine, first: dt.date, last: dt.date, sources: tuple[str, ...]
) -> None:
    """The overview's MQL cohort from the kept day counts equals the rows' count: the same filter with every owner
    picked (which leaves nothing out) sends the overview to the rows."""
    with engine.connect() as connection:
        owners = [*connection.scalars(select(Lead.owner).where(Lead.owner.is_not(None)).distinct()), NOT_SET]
    for filters in (Filters(), Filters(sources=sources), Filters(segments=("smb", "unknown"))):
        with engine.connect() as connection:
            assert rollups.mql_cohort(connection, first, last, filters) is not None  # the kept path serves it
        kept = overview(engine, RejectionQuery(first, last, filters))
        rows = overview(engine, RejectionQuery(first, last, dataclasses.replace(filters, owners=tuple(owners))))
        assert [getattr(kept, name) for name in COHORT_FIELDS] == [getattr(rows, name) for name in COHORT_FIELDS]
        assert kept.mqls > 0


def test_the_overview_cohort_from_the_kept_counts(explorer: Engine) -> None:
    assert_the_kept_cohort_is_the_rows_cohort(explorer, FIRST, LAST, ("paid_search",))


def test_the_overview_cohort_from_the_kept_counts_of_a_real_export(engine: Engine, realdata: Path) -> None:
    """Olist's MQL file carries no rejection dates: the cohort counts what is known, on both paths."""
    folder = realdata / "olist_marketing_funnel"
    import_csv(engine, "leads", folder / "olist_marketing_qualified_leads_dataset.csv",
               mapping=load_preset("olist_mqls"), actor=TESTER)  # fmt: skip
    import_csv(engine, "opportunities", folder / "olist_closed_deals_dataset.csv",
               mapping=load_preset("olist_closed_deals"), actor=TESTER)  # fmt: skip
    assert_the_kept_cohort_is_the_rows_cohort(engine, dt.date(2017, 6, 1), dt.date(2018, 5, 31), ("paid_search",))
    summary = overview(engine, RejectionQuery(dt.date(2017, 6, 1), dt.date(2018, 5, 31)))
    assert summary.mqls > 0 and summary.rejection_dates_known == 0


def test_size_bands_cover_the_sizes() -> None:
    bands = {name: (low, high) for name, low, high in SIZE_BANDS}
    assert bands["10-49"] == (10, 49) and bands["50-199"] == (50, 199)


def test_size_band_edges(explorer: Engine) -> None:
    # R3 has exactly 10 employees (in 10-49), R8 60 and R9 70 (50-199), R6 100, R7 200 (200-999), R4 2000.
    def rejected(band: str) -> int:
        return overview(explorer, RejectionQuery(FIRST, LAST, Filters(size_bands=(band,)))).rejected

    assert [rejected(name) for name, _, _ in SIZE_BANDS] == [0, 5, 3, 2, 1, 0]
    assert rejected("unknown") == 1  # R5


TZ_LEADS = [
    # Sunday 12 Jan 23:30 UTC is Monday 13 Jan 00:30 in Berlin (CET, UTC+1); both have an explicit offset.
    _rejected("T1", "wrong size", "01-12", 6, 20, "saas", "ic", "events", "ev-1", "Alex"),
    _rejected("T2", "No budget", "01-13", 6, 20, "saas", "ic", "events", "ev-1", "Alex"),
]
TZ_LEADS[0]["rejected_at"] = "2025-01-12 23:30:00+00:00"
TZ_LEADS[1]["rejected_at"] = "2025-01-13 12:00:00+00:00"


def days_and_weeks(engine: Engine) -> tuple[dict[str, dt.date], dict[dt.date, int]]:
    with engine.connect() as connection:
        days: dict[str, Any] = dict(connection.execute(text("SELECT lead_id, rejected_day FROM leads")).all())
    week_frame = weekly(engine, RejectionQuery(dt.date(2025, 1, 1), dt.date(2025, 1, 31)))
    per_week = week_frame.groupby("week")["rejections"].sum()
    return (
        {lead: pd.Timestamp(day).date() for lead, day in days.items()},
        {week: int(n) for week, n in per_week.items()},
    )


def test_rejections_count_on_the_local_day(engine: Engine) -> None:
    org_settings.update(engine, {"timezone": "Europe/Berlin"}, actor=TESTER)
    import_leads(engine, TZ_LEADS)
    days, weeks = days_and_weeks(engine)
    assert days == {"T1": dt.date(2025, 1, 13), "T2": dt.date(2025, 1, 13)}
    assert weeks == {dt.date(2025, 1, 13): 2}
    sunday, monday = dt.date(2025, 1, 12), dt.date(2025, 1, 13)
    assert overview(engine, RejectionQuery(sunday, sunday)).rejected == 0
    assert reason_counts(by_reason(engine, RejectionQuery(monday, monday))) == {WCS: 1, "No budget": 1}
    assert drill_leads(engine, RejectionQuery(FIRST, LAST), Drill(week=dt.date(2025, 1, 13)))[1] == 2


def test_changing_the_timezone_moves_stored_rejections(engine: Engine) -> None:
    import_leads(engine, TZ_LEADS)  # under UTC
    days, weeks = days_and_weeks(engine)
    assert days == {"T1": dt.date(2025, 1, 12), "T2": dt.date(2025, 1, 13)}
    assert weeks == {dt.date(2025, 1, 6): 1, dt.date(2025, 1, 13): 1}
    sunday = dt.date(2025, 1, 12)
    assert reason_counts(by_reason(engine, RejectionQuery(sunday, sunday))) == {WCS: 1}
    # A week's drill-down runs Monday to Sunday: T1 on Sunday 12 Jan, T2 on Monday 13 Jan.
    january = RejectionQuery(dt.date(2025, 1, 1), dt.date(2025, 1, 31))
    assert drill_leads(engine, january, Drill(week=W1))[0]["lead_id"].tolist() == ["T1"]
    assert drill_leads(engine, january, Drill(week=W2))[0]["lead_id"].tolist() == ["T2"]

    org_settings.update(engine, {"timezone": "Europe/Berlin"}, actor=TESTER)
    days, weeks = days_and_weeks(engine)
    assert days == {"T1": dt.date(2025, 1, 13), "T2": dt.date(2025, 1, 13)}
    assert weeks == {dt.date(2025, 1, 13): 2}
    assert overview(engine, RejectionQuery(sunday, sunday)).rejected == 0
    assert drill_leads(engine, january, Drill(week=W1))[1] == 0
    assert drill_leads(engine, january, Drill(week=W2))[1] == 2

    # And back west: New York (UTC-5) puts T1 on Sunday 12 Jan at 18:30 again.
    org_settings.update(engine, {"timezone": "America/New_York"}, actor=TESTER)
    assert days_and_weeks(engine)[0] == {"T1": dt.date(2025, 1, 12), "T2": dt.date(2025, 1, 13)}


# --- 5. what the top reasons' leads have in common --------------------------------------------------------------

MARCH = RejectionQuery(dt.date(2025, 3, 3), dt.date(2025, 3, 30))
ICP = IcpRules(company_size_min=50)
SENIOR = MqlRules(seniorities=["director", "vp", "cxo"])


def _march(lead_id: str, size: int | None, seniority: str, campaign: str | None, **extra: Any) -> dict[str, Any]:
    return {
        "lead_id": lead_id,
        "created_at": "2025-03-03 08:00:00",
        "mql_at": "2025-03-03 10:00:00",
        "company_size": size,
        "seniority": seniority,
        "source": "paid_search",
        "campaign": campaign,
        **extra,
    }


def _march_rejected(
    lead_id: str, reason: str | None, size: int | None, seniority: str, campaign: str | None
) -> dict[str, Any]:
    return _march(lead_id, size, seniority, campaign, rejected_at="2025-03-12 12:00:00", rejection_reason=reason)


PROFILE_LEADS = [
    # Seven "wrong size": 5 of the 6 with a size under 50 (P7 has none); 6 of 7 below director.
    _march_rejected("P1", "wrong size", 10, "ic", "c1"),
    _march_rejected("P2", "Wrong size", 20, "ic", "c1"),
    _march_rejected("P3", "wrong size", 30, "ic", "c1"),
    _march_rejected("P4", "company too small", 40, "ic", "c1"),
    _march_rejected("P5", "wrong size", 45, "ic", "c2"),
    _march_rejected("P6", "wrong size", 200, "manager", "c2"),
    _march_rejected("P7", "wrong size", None, "vp", None),
    # Three "Not a decision maker": 1 of 3 under 50; 2 of 3 below director.
    _march_rejected("N1", "too junior", 100, "ic", "c3"),
    _march_rejected("N2", "no authority", 30, "manager", "c3"),
    _march_rejected("N3", "not a decision maker", 500, "director", "c2"),
    # Two "No budget": both under 50, both vps.
    _march_rejected("B1", "No budget", 20, "vp", "c2"),
    _march_rejected("B2", "no budget", 30, "vp", "c2"),
    # Four without a reason: more than "Not a decision maker", but a blank is not a reason to profile.
    *(_march_rejected(f"Z{n}", None, 10, "ic", "c1") for n in range(4)),
    # Accepted in March: 1 of 4 with a size under 50 (A3); 2 of 5 below director (A3, A5).
    _march("A1", 100, "vp", "c1", sql_at="2025-03-10 10:00:00"),
    _march("A2", 200, "director", "c1", sql_at="2025-03-10 10:00:00"),
    _march("A3", 30, "ic", "c1", sql_at="2025-03-10 10:00:00"),
    _march("A4", 300, "cxo", "c1", sql_at="2025-03-10 10:00:00"),
    _march("A5", None, "manager", "c1", sql_at="2025-03-10 10:00:00"),
    # Not "accepted in the period": an MQL of February accepted in March, and a March MQL not accepted.
    {**_march("A6", 10, "ic", "c1", sql_at="2025-03-10 10:00:00"), "mql_at": "2025-02-20 10:00:00"},
    _march("A7", 5, "ic", "c1"),
]


@pytest.fixture
def profiled(engine: Engine) -> Engine:
    import_leads(engine, PROFILE_LEADS)
    return engine


def test_reason_profiles_against_the_icp(profiled: Engine) -> None:
    profiles = reason_profiles(profiled, MARCH, ICP, SENIOR)
    assert [(p.reason, p.rejections) for p in profiles] == [(WCS, 7), ("Not a decision maker", 3), ("No budget", 2)]
    size, seniority = profiles[0].findings
    assert size == Finding(WCS, 7, "under 50 employees", "the ICP starts at 50", 5, 6, 1 / 4)
    assert size.share == pytest.approx(5 / 6) and size.stands_out
    # The seniority test fails even more often (6/7), but a size reason leads with the size.
    assert (seniority.test, seniority.matching, seniority.known) == ("a seniority the MQL rule leaves out", 6, 7)
    assert seniority.accepted_share == pytest.approx(2 / 5) and seniority.share > size.share
    assert profiles[0].headline == size
    assert size.sentence() == (
        "83% of “Wrong company size” rejections have under 50 employees; the ICP starts at 50, "
        "against 25% of the leads sales accepted. (1 with the field blank are left out)"
    )
    assert (profiles[0].top_campaign, profiles[0].top_campaign_share) == ("c1", pytest.approx(4 / 7))

    decision = profiles[1]
    assert decision.headline is not None and decision.headline.test == "a seniority the MQL rule leaves out"
    assert (decision.headline.matching, decision.headline.known) == (2, 3)
    assert not decision.headline.stands_out  # 67% is not twice the accepted leads' 40%
    assert [(f.test, f.matching, f.known) for f in decision.findings[1:]] == [("under 50 employees", 1, 3)]
    assert (decision.top_campaign, decision.top_campaign_share) == ("c3", pytest.approx(2 / 3))

    budget = profiles[2]  # no lead field of its own; no vp fails the seniority test, so no finding for it
    assert [(f.test, f.matching, f.known) for f in budget.findings] == [("under 50 employees", 2, 2)]
    assert budget.findings[0].sentence() == (
        "100% of “No budget” rejections have under 50 employees; the ICP starts at 50, "
        "against 25% of the leads sales accepted."
    )
    assert (budget.top_campaign, budget.top_campaign_share) == ("c2", 1.0)


def test_reason_profiles_without_rules_have_no_findings(profiled: Engine) -> None:
    for icp, mql in ((None, None), (IcpRules(), MqlRules(seniorities=[])), (IcpRules(), None)):
        profiles = reason_profiles(profiled, MARCH, icp, mql)
        assert [p.reason for p in profiles] == [WCS, "Not a decision maker", "No budget"]
        assert all(p.findings == () and p.headline is None for p in profiles)
        assert profiles[0].top_campaign == "c1"
    only_icp = reason_profiles(profiled, MARCH, ICP, None, top=1)
    assert [(f.test, f.matching, f.known) for f in only_icp[0].findings] == [("under 50 employees", 5, 6)]


def test_a_finding_without_accepted_leads_says_so(profiled: Engine) -> None:
    # Only campaign c3 (N1, N2); no lead of c3 was accepted, so there is no comparison.
    query = RejectionQuery(MARCH.first_day, MARCH.last_day, Filters(campaigns=("c3",)))
    (profile,) = reason_profiles(profiled, query, ICP, SENIOR)
    assert profile.headline is not None
    assert profile.headline.accepted_share != profile.headline.accepted_share  # NaN
    assert profile.headline.stands_out
    assert profile.headline.sentence() == (
        "100% of “Not a decision maker” rejections have a seniority the MQL rule leaves out; "
        "the MQL rule asks for director, vp, cxo."
    )


# --- 6. drill-down ----------------------------------------------------------------------------------------------

LABEL_SQL = (
    "CASE WHEN l.reason_key IS NULL THEN '(no reason)' "
    "WHEN r.name IS NULL THEN 'Unmapped: ' || l.reason_key ELSE r.name END"
)
FROM_SQL = (
    "FROM leads l LEFT JOIN reason_synonyms s ON s.key = l.reason_key "
    "LEFT JOIN rejection_reasons r ON r.id = s.reason_id "
    "WHERE l.rejected_day >= :first AND l.rejected_day <= :last"
)


def sql(engine: Engine, statement: str, **params: Any) -> list[Any]:
    """A hand-written query over the period's rejections (dates bound as dates on both backends)."""
    dates = {name: value for name, value in params.items() if isinstance(value, dt.date)}
    clause = text(statement).bindparams(*(bindparam(name, type_=Date) for name in dates))
    with engine.connect() as connection:
        return list(connection.execute(clause, {"first": FIRST, "last": LAST, **params}).all())


def sql_count(engine: Engine, where: str = "", **params: Any) -> int:
    statement = f"SELECT count(*) {FROM_SQL} {where}"
    return int(sql(engine, statement, first=FIRST, last=LAST, **params)[0][0])


def test_drill_totals_equal_direct_sql_counts(explorer: Engine) -> None:
    premature = "AND l.touch_attempts < 6 AND (r.attempts_required = :yes OR r.id IS NULL)"
    week_two = {"wk": W2, "wk_end": W2 + dt.timedelta(days=6)}
    cases: list[tuple[Drill, str, dict[str, Any], int]] = [
        (Drill(reason=WCS), "AND r.name = :name", {"name": WCS}, 5),
        (Drill(reason=UNMAPPED_SMOL), "AND r.id IS NULL AND l.reason_key = :key", {"key": "too smol"}, 2),
        (Drill(reason=NO_REASON), "AND l.reason_key IS NULL", {}, 2),
        (
            Drill(reason=WCS, source="paid_search"),
            "AND r.name = :name AND l.source = :s",
            {"name": WCS, "s": "paid_search"},
            2,
        ),
        (Drill(reason=WCS, campaign="wb-1"), "AND r.name = :name AND l.campaign = :c", {"name": WCS, "c": "wb-1"}, 2),
        (Drill(campaign="(not set)"), "AND l.campaign IS NULL", {}, 1),
        (Drill(week=W2), "AND l.rejected_day >= :wk AND l.rejected_day <= :wk_end", week_two, 3),
        (Drill(owner="Alex", only="no_reason"), "AND l.owner = :o AND l.reason_key IS NULL", {"o": "Alex"}, 1),
        (Drill(owner="Alex", only="premature"), f"AND l.owner = :o {premature}", {"o": "Alex", "yes": True}, 2),
        (Drill(owner="Dana", only="premature"), f"AND l.owner = :o {premature}", {"o": "Dana", "yes": True}, 1),
        (Drill(owner="(not set)"), "AND l.owner IS NULL", {}, 1),
        (Drill(only="premature"), premature, {"yes": True}, 3),
    ]
    for drill, where, params, expected in cases:
        page, total = drill_leads(explorer, PERIOD, drill)
        assert total == sql_count(explorer, where, **params) == expected, drill.describe()
        assert len(page) == expected and list(page.columns) == list(rj.DRILL_COLUMNS)
    page, _ = drill_leads(explorer, PERIOD, Drill(reason=UNMAPPED_SMOL), sort="lead_id", descending=False)
    assert list(page["lead_id"]) == ["R10", "R11"]
    assert list(page["typed_reason"]) == ["Too smol!!", "too smol"]
    assert set(page["reason"]) == {UNMAPPED_SMOL}


def test_drill_pages_are_disjoint_and_complete(explorer: Engine) -> None:
    pages = [drill_leads(explorer, PERIOD, Drill(), offset=offset, limit=5) for offset in (0, 5, 10, 15)]
    ids = [list(page["lead_id"]) for page, _ in pages]
    assert [len(chunk) for chunk in ids] == [5, 5, 2, 0]
    assert {total for _, total in pages} == {12}
    flat = [lead for chunk in ids for lead in chunk]
    assert len(flat) == len(set(flat)) == 12
    assert set(flat) == {f"R{n}" for n in range(1, 12)} | {"X2"}
    # Newest rejection first by default: R11 (29 Jan), R10 (28 Jan), R6 (22 Jan) …
    assert ids[0][:3] == ["R11", "R10", "R6"]


def test_drill_sorts_by_company_size(explorer: Engine) -> None:
    alex = Drill(owner="Alex")  # R10 15, R1 20, R2 30, R8 60, R6 100, X2 300
    ascending, _ = drill_leads(explorer, PERIOD, alex, sort="company_size", descending=False)
    assert list(ascending["lead_id"]) == ["R10", "R1", "R2", "R8", "R6", "X2"]
    assert list(ascending["company_size"]) == [15, 20, 30, 60, 100, 300]
    descending, _ = drill_leads(explorer, PERIOD, alex, sort="company_size", descending=True)
    assert list(descending["lead_id"]) == ["X2", "R6", "R8", "R2", "R1", "R10"]
    second, total = drill_leads(explorer, PERIOD, alex, sort="company_size", descending=True, offset=2, limit=2)
    assert (list(second["lead_id"]), total) == (["R8", "R2"], 6)


def test_drill_refuses_an_unknown_sort_column(explorer: Engine) -> None:
    with pytest.raises(ValueError, match="cannot sort by 'email'"):
        drill_leads(explorer, PERIOD, Drill(), sort="email")
    with pytest.raises(ValueError, match="cannot sort by"):
        drill_leads(explorer, PERIOD, Drill(), sort="company_size; DROP TABLE leads")


# --- 7. heat map ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("by", "group_sql", "expected"),
    [
        (
            "source",
            "l.source",
            {
                ("paid_search", WCS): 2,
                ("paid_search", "Duplicate"): 1,
                ("paid_search", "No budget"): 1,
                ("paid_search", UNMAPPED_SMOL): 1,
                ("paid_search", "Bad timing"): 1,
                ("webinar", WCS): 2,
                ("webinar", NO_REASON): 1,
                ("events", WCS): 1,
                ("events", NO_REASON): 1,
                ("events", UNMAPPED_SMOL): 1,
            },
        ),
        (
            "campaign",
            "COALESCE(l.campaign, '(not set)')",
            {
                ("ps-a", WCS): 2,
                ("ps-a", "No budget"): 1,
                ("ps-a", "Bad timing"): 1,
                ("ps-b", "Duplicate"): 1,
                ("ps-b", UNMAPPED_SMOL): 1,
                ("wb-1", WCS): 2,
                ("wb-1", NO_REASON): 1,
                ("ev-1", WCS): 1,
                ("ev-1", NO_REASON): 1,
                ("(not set)", UNMAPPED_SMOL): 1,
            },
        ),
    ],
)
def test_heatmap_counts_equal_direct_sql(
    explorer: Engine, by: str, group_sql: str, expected: dict[tuple[str, str], int]
) -> None:
    table = heatmap(explorer, PERIOD, by)  # type: ignore[arg-type]
    cells = {(row.group, row.reason): row.rejections for row in table.itertuples()}
    direct = sql(
        explorer, f"SELECT {group_sql}, {LABEL_SQL}, count(*) {FROM_SQL} GROUP BY 1, 2", first=FIRST, last=LAST
    )
    assert cells == {(group, reason): n for group, reason, n in direct} == expected
    sums = table.groupby("group")["share_of_group"].sum()
    assert list(sums) == pytest.approx([1.0] * len(sums))
    share = table.set_index(["group", "reason"])["share_of_group"]
    first_group = "paid_search" if by == "source" else "ps-a"
    assert share[(first_group, WCS)] == pytest.approx(2 / (6 if by == "source" else 4))


# --- 8. the migration's backfill --------------------------------------------------------------------------------


def test_migration_backfills_rejection_day_and_reason_key(tmp_path: Any) -> None:
    engine = get_engine(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        command.upgrade(alembic_config(engine), "0003")
        with engine.begin() as connection:
            assert "rejected_day" not in {row[1] for row in connection.execute(text("PRAGMA table_info(leads)")).all()}
            connection.execute(
                text(
                    "INSERT INTO settings (key, value, updated_at, updated_by) "
                    "VALUES ('organisation', :value, '2025-01-01 00:00:00', 'test')"
                ),
                {"value": '{"timezone": "Europe/Berlin"}'},
            )
            connection.execute(
                text(
                    "INSERT INTO leads (lead_id, created_at, source, created_day, mql_at, mql_day, rejected_at, "
                    "rejection_reason) VALUES (:id, '2025-01-06 08:00:00', 'events', '2025-01-06', "
                    "'2025-01-06 09:00:00', '2025-01-06', :at, :reason)"
                ),
                [
                    {"id": "L1", "at": "2025-01-12 23:30:00", "reason": "Too small co."},
                    {"id": "L2", "at": "2025-01-14 10:00:00", "reason": "  "},
                    {"id": "L3", "at": "2025-01-15 10:00:00", "reason": "-"},
                    {"id": "L4", "at": "2025-01-16 10:00:00", "reason": "Too smol!!"},
                    {"id": "L5", "at": None, "reason": None},
                ],
            )
        command.upgrade(alembic_config(engine), "head")
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT lead_id, rejected_day, reason_key, rejection_reason FROM leads ORDER BY lead_id")
            ).all()
        assert [tuple(row) for row in rows] == [
            ("L1", "2025-01-13", "too small co", "Too small co."),  # 00:30 on Monday in Berlin
            ("L2", "2025-01-14", None, "  "),
            ("L3", "2025-01-15", None, "-"),
            ("L4", "2025-01-16", "too smol", "Too smol!!"),
            ("L5", None, None, None),
        ]
        reasons = catalogue(engine)
        assert len(reasons) == 12 and WCS in {reason.name for reason in reasons}
        week = RejectionQuery(dt.date(2025, 1, 13), dt.date(2025, 1, 19))
        assert reason_counts(by_reason(engine, week)) == {NO_REASON: 2, WCS: 1, UNMAPPED_SMOL: 1}
        assert unknown_reasons(engine)["key"].tolist() == ["too smol"]
    finally:
        engine.dispose()


def test_the_lead_list_names_its_picks_as_the_page_does() -> None:
    drill = Drill(reason="No budget", source="paid_search", week=dt.date(2026, 10, 12), only="no_reason")
    assert drill.describe({"paid_search": "Google Ads"}) == (
        "reason “No budget”, source Google Ads, week of 12 Oct 2026, no reason given"
    )
    assert drill.describe() == "reason “No budget”, source Paid search, week of 12 Oct 2026, no reason given"
    assert Drill().describe() == "all rejections"
