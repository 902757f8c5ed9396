"""The audit log in words: each detail shape core records, read as a person reads it; the page shows no JSON and
no snake_case keys, while its CSV keeps what is stored."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import Engine, insert

from core.admin import users
from core.audit import AuditPage, AuditQuery, actor_in_words, detail_in_words, entries, key_in_words
from core.models import AuditEntry
from core.permissions import Actor
from tests.conftest import PASSWORD, ROOT, run, signed_in_as

PEOPLE = {"sales_lead": "Sasha Sales Lead", "mia": "Mia Marketing", "olu": "Olu Ops"}
SNAKE = re.compile(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b")


@pytest.mark.parametrize(
    ("detail", "words"),
    [
        # A user created: booleans yes/no, a name as typed, a role in words.
        (
            {"demo": True, "name": "Sasha Sales Lead", "role": "sales_lead"},
            "Demo: yes · Name: Sasha Sales Lead · Role: Sales lead",
        ),
        ({"from": "exec", "to": "marketing"}, "From: Executive · To: Marketing"),
        # Counts with thousands separators; a file name and a digest as typed.
        (
            {"file": "leads_2026.csv", "inserted": 20000, "sha256": "ab12", "unchanged": 0},
            "File: leads_2026.csv · Inserted: 20,000 · SHA-256: ab12 · Unchanged: 0",
        ),
        ({"replaces": None, "revision": 1, "state": "active"}, "Replaces version: — · Revision: 1 · State: active"),
        # A machine key is humanised, a name that only looks like one is kept, free text is as typed.
        (
            {"by": "sign_in", "name": "q4_pulse", "text": "Ask Bob_Smith"},
            "By: Sign in · Name: q4_pulse · Text: Ask Bob_Smith",
        ),
        (
            {"industries": [], "intent_signals": ["demo_request", "pricing_page_3plus"]},
            "Industries: — · Intent signals: Demo request, Pricing page 3+",
        ),
        (
            {"rules": {"score_threshold": 60, "icp_fit_required": False}, "version_id": 2},
            "Rules › Score threshold: 60 · Rules › Must fit the ICP: no · Version: 2",
        ),
        (
            {"rules": {"stages": [{"name": "Discovery", "exit": "call booked"}]}},
            "Rules › Stages: (Name: Discovery; Exit: call booked)",
        ),
        # A before and an after read in that order, whatever order the stored JSON has.
        ({"after": 120.0, "before": 100.0}, "Before: 100 · After: 120"),
        ({"after": 1234.5, "before": None}, "Before: — · After: 1,234.5"),
        ({"after": None, "before": "Google Ads"}, "Before: Google Ads · After: —"),
        # Two dicts: only what changed; gates as percentages.
        (
            {
                "after": {"conversion_gate": 0.25, "sla_hours": 6.0, "timezone": "UTC"},
                "before": {"conversion_gate": 0.3, "sla_hours": 4.0, "timezone": "UTC"},
            },
            "Conversion gate: 30% → 25% · SLA hours: 4 → 6",
        ),
        (
            {"after": {"business_days": [0, 1, 2, 3]}, "before": {"business_days": [0, 1, 2, 3, 4]}},
            "Business days: Monday, Tuesday, Wednesday, Thursday, Friday → Monday, Tuesday, Wednesday, Thursday",
        ),
        ({"after": {"timezone": "UTC"}, "before": {"timezone": "UTC"}}, "No change"),
        (
            {"action_id": 3, "after": {"notes": {"sla": "Two breaches"}}, "before": {"notes": {}}},
            "Action: 3 · Notes › SLA: — → Two breaches",
        ),
        # Created: what it is; removed: what it was.
        ({"after": {"kind": "leads", "name": "my_map"}, "before": None}, "Kind: leads · Name: my_map"),
        ({"after": None, "before": {"kind": "leads"}}, "Kind: leads"),
        # Moments in UTC, to the minute; a day stays as it is.
        ({"until": "2026-11-01T09:15:30.5"}, "Until: 2026-11-01 09:15 UTC"),
        ({"locked_until": "2026-11-01T10:15:00+01:00"}, "Locked until: 2026-11-01 09:15 UTC"),
        ({"closes_on": "2026-12-20", "opens_on": "2026-12-07"}, "Closes: 2026-12-20 · Opens: 2026-12-07"),
        # A sandbox trial's owner is a user name; a sync action's owner is a name as typed.
        ({"owner": "mia", "rows": 1200}, "Owner: Mia Marketing · Rows: 1,200"),
        ({"owner": "Sam from sales"}, "Owner: Sam from sales"),
        ({"category": "follow_up", "lead_field": "company_size"}, "Category: Follow-up · Lead field: Company size"),
        ({"description": "  two\nlines  "}, "Description: two lines"),
    ],
)
def test_a_detail_reads_in_words(detail: dict[str, Any], words: str) -> None:
    assert detail_in_words(detail, PEOPLE) == words


def test_no_detail_reads_as_missing() -> None:
    assert detail_in_words(None) == detail_in_words({}) == "—"


def test_keys_and_actors_in_words() -> None:
    assert key_in_words("user", "sales_lead", PEOPLE) == "Sasha Sales Lead"
    assert key_in_words("user", "gone", PEOPLE) == "gone"  # no longer an account: as recorded
    assert key_in_words("target", "2026-01 won_revenue", PEOPLE) == "2026-01 Won revenue"
    assert key_in_words("target", "2026-01 mqls", PEOPLE) == "2026-01 MQLs"
    assert key_in_words("spend", "2026-01 paid_search", PEOPLE) == "2026-01 Paid search"
    assert key_in_words("source", "content_syndication", PEOPLE) == "Content syndication"
    assert key_in_words("mapping", "my_map", PEOPLE) == "my_map"  # a name someone typed
    assert key_in_words("leads", "12", PEOPLE) == "12"
    assert key_in_words("unknown_user", None, PEOPLE) == key_in_words("leads", "", PEOPLE) == "—"
    assert actor_in_words("sales_lead", PEOPLE) == "Sasha Sales Lead"
    assert actor_in_words("sales_lead (signed sla v1)", PEOPLE) == "Sasha Sales Lead (signed sla v1)"
    assert actor_in_words("seed", PEOPLE) == "Sample data"


def stored(*rows: tuple[str, str, str, str | None, dict[str, Any]]) -> AuditPage:
    """A page as `entries` returns it: detail as sorted JSON text."""
    frame = pd.DataFrame(
        [
            (
                number,
                dt.datetime(2026, 11, 1, 9, number),
                actor,
                action,
                entity,
                key,
                json.dumps(detail, sort_keys=True) if detail else "",
            )
            for number, (actor, action, entity, key, detail) in enumerate(rows, start=1)
        ],
        columns=["id", "at", "actor", "action", "entity", "entity_key", "detail"],
    )
    return AuditPage(frame, len(frame))


def test_the_page_frame_in_words_keeps_the_stored_rows() -> None:
    page = stored(
        (
            "demo-setup",
            "create",
            "user",
            "sales_lead",
            {"demo": True, "name": "Sasha Sales Lead", "role": "sales_lead"},
        ),
        (
            "olu",
            "update",
            "rejection_reason",
            "Too early",
            {"category": ["timing", "follow_up"], "name": ["Too early", "Later"]},
        ),
        ("(a name that is no account)", "lock", "unknown_user", None, {"until": "2026-11-01T09:15:00"}),
        ("olu", "sign_out", "user", "olu", {}),
    )
    shown = page.in_words(PEOPLE)
    assert list(shown.columns) == list(page.rows.columns)
    assert shown.drop(columns=["id", "at"]).to_dict("records") == [
        {
            "actor": "Demo setup",
            "action": "Create",
            "entity": "User",
            "entity_key": "Sasha Sales Lead",
            "detail": "Demo: yes · Name: Sasha Sales Lead · Role: Sales lead",
        },
        {
            "actor": "Olu Ops",
            "action": "Update",
            "entity": "Rejection reason",
            "entity_key": "Too early",
            "detail": "Category: Timing → Follow-up · Name: Too early → Later",
        },
        {
            "actor": "(a name that is no account)",
            "action": "Locked",
            "entity": "A name that is no account",
            "entity_key": "—",
            "detail": "Until: 2026-11-01 09:15 UTC",
        },
        {"actor": "Olu Ops", "action": "Sign out", "entity": "User", "entity_key": "Olu Ops", "detail": "—"},
    ]
    assert page.rows.loc[0, "detail"] == '{"demo": true, "name": "Sasha Sales Lead", "role": "sales_lead"}'
    assert page.rows.loc[0, "entity_key"] == "sales_lead"


# One entry of each shape the app writes, as core records them.
LOG: list[tuple[str, str, str, str | None, dict[str, Any]]] = [
    ("demo-setup", "create", "user", "sales_lead", {"demo": True, "name": "Sasha Sales Lead", "role": "sales_lead"}),
    ("olu", "change_role", "user", "sales_lead", {"from": "sales", "to": "sales_lead"}),
    ("olu", "unlock", "user", "sales_lead", {"locked_until": "2026-11-01T09:15:00", "failures_cleared": 5}),
    ("sales_lead", "clear_failures", "user", "sales_lead", {"failures": 2, "by": "sign_in"}),
    ("cli:root", "import", "touches", "3", {"file": "touches.csv", "sha256": "e7f8", "inserted": 100819}),
    ("olu", "update", "target", "2026-01 won_revenue", {"before": 496000.0, "after": 123456.0}),
    ("olu", "create", "spend", "2026-01 content_syndication", {"before": None, "after": 999.0}),
    ("olu", "set_display_name", "source", "paid_search", {"before": None, "after": "Google Ads"}),
    (
        "sales_lead (signed sla v1)",
        "update",
        "settings",
        "organisation",
        {"before": {"sla_hours": 4.0, "holiday_country": None}, "after": {"sla_hours": 6.0, "holiday_country": "GB"}},
    ),
    (
        "olu",
        "propose",
        "definition",
        "mql v1",
        {
            "version_id": 2,
            "revision": 1,
            "state": "proposed",
            "rules": {"icp_fit_required": False, "score_threshold": 60, "intent_signals": ["demo_request"]},
            "prose": "A lead becomes an MQL at 60.",
        },
    ),
    (
        "olu",
        "create",
        "rejection_reason",
        "Too early",
        {"category": "timing", "lead_field": None, "attempts_required": True},
    ),
    ("olu", "update", "rejection_reason", "Too early", {"lead_field": ["company_size", None]}),
    ("olu", "remap", "reason_synonym", "too erly", {"reason": "Too early", "was": "Bad timing"}),
    (
        "olu",
        "edit action",
        "sync_meeting",
        "2026-11-02",
        {"action_id": 1, "before": {"team": "sales"}, "after": {"team": "ops"}},
    ),
    ("mia", "delete", "sandbox_trial", "4", {"name": "Q4 trial", "owner": "mia", "rows": 2937}),
    ("seed", "import", "survey_round", "1", {"name": "Q2 2026 pulse", "opens_on": "2026-06-08", "respondents": 38}),
]


@pytest.fixture
def logged(database: Engine) -> Engine:
    for username, name, role in (
        ("sales_lead", "Sasha Sales Lead", "sales_lead"),
        ("mia", "Mia Marketing", "marketing"),
    ):
        users.create_user(
            database,
            Actor("setup", "admin"),
            username=username,
            name=name,
            email=f"{role}@x.io",
            role=role,
            password=PASSWORD,
        )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with database.begin() as connection:
        for actor, action, entity, key, detail in LOG:
            connection.execute(
                insert(AuditEntry).values(
                    at=now, actor=actor, action=action, entity=entity, entity_key=key, detail=detail
                )
            )
    return database


def test_the_audit_page_shows_words_not_json_or_keys(logged: Engine) -> None:
    app = run(signed_in_as(logged, "olu", "ops", str(ROOT / "pages" / "audit_log.py")))
    table = app.dataframe[0].value
    assert len(table) >= len(LOG)
    for column in ("actor", "action", "entity", "entity_key", "detail"):
        for cell in table[column]:
            assert "{" not in cell and "None" not in cell, (column, cell)
            assert not SNAKE.search(cell), (column, cell)
    assert "Demo: yes · Name: Sasha Sales Lead · Role: Sales lead" in list(table["detail"])
    assert "From: Sales · To: Sales lead" in list(table["detail"])
    assert "Holiday calendar: — → GB · SLA hours: 4 → 6" in list(table["detail"])  # keys in stored (sorted) order
    assert "Sasha Sales Lead (signed sla v1)" in list(table["actor"])
    # The download keeps what is stored.
    stored_rows = entries(logged, Actor("olu", "ops"), AuditQuery()).rows
    assert "sales_lead" in list(stored_rows["entity_key"])
    assert '{"by": "sign_in", "failures": 2}' in list(stored_rows["detail"])
