"""Ops' display names for sources, by hand on a small fixture: set, rename, clear, refused, audited."""

from __future__ import annotations

import getpass

import pandas as pd
import pytest
from sqlalchemy import Engine, select

from core.cli import main
from core.imports.display_names import (
    MAX_NAME_LENGTH,
    DisplayNameError,
    NameChange,
    clear_name,
    edited_names,
    rename,
    set_name,
    source_names,
)
from core.imports.runs import import_csv
from core.models import AuditEntry, Lead
from core.permissions import Actor, PermissionDenied
from core.vocabulary import display_names, value_name
from tests.conftest import (
    TESTER,
    csv_file,
    database_url,
    page_file,
    run,
    signed_in_as,
    signed_in_as_existing,
    snapshot,
)

OPS = Actor("olive", "ops")
LEADS = (
    "lead_id,created_at,source,company\n"
    "L1,2026-03-02,content_syndication,Acme\n"
    "L2,2026-03-03,content_syndication,Birch\n"
    "L3,2026-03-04,webinar,Cedar\n"
)


@pytest.fixture
def leads(engine: Engine) -> Engine:
    import_csv(engine, "leads", csv_file(LEADS), actor=TESTER)
    return engine


def audit_rows(engine: Engine) -> list[tuple[str, str, str | None, dict[str, object]]]:
    with engine.connect() as connection:
        statement = (
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.entity_key, AuditEntry.detail)
            .where(AuditEntry.entity == "source")
            .order_by(AuditEntry.id)
        )
        return [tuple(row) for row in connection.execute(statement)]  # type: ignore[misc]


def test_set_rename_and_clear_a_name_each_audited(leads: Engine) -> None:
    assert set_name(leads, "content_syndication", " Syndication ", actor=OPS) == NameChange(
        "content_syndication", None, "Syndication"
    )
    assert display_names(leads) == {"content_syndication": "Syndication"}
    assert value_name("content_syndication", display_names(leads)) == "Syndication"

    assert set_name(leads, "content_syndication", "Content partners", actor=OPS) == NameChange(
        "content_syndication", "Syndication", "Content partners"
    )
    assert set_name(leads, "content_syndication", "Content partners", actor=OPS) is None  # nothing to change

    assert clear_name(leads, "content_syndication", actor=OPS) == NameChange(
        "content_syndication", "Content partners", None
    )
    assert display_names(leads) == {}
    assert value_name("content_syndication", display_names(leads)) == "Content syndication"
    assert audit_rows(leads) == [
        ("olive", "set_display_name", "content_syndication", {"before": None, "after": "Syndication"}),
        ("olive", "set_display_name", "content_syndication", {"before": "Syndication", "after": "Content partners"}),
        ("olive", "clear_display_name", "content_syndication", {"before": "Content partners", "after": None}),
    ]
    with leads.connect() as connection:  # the stored value stays as imported
        assert sorted(connection.execute(select(Lead.source).distinct()).scalars()) == [
            "content_syndication",
            "webinar",
        ]


def test_a_role_without_the_import_permission_is_refused(leads: Engine) -> None:
    before = snapshot(leads)
    for role in ("exec", "marketing_lead", "sales"):
        with pytest.raises(PermissionDenied):
            set_name(leads, "webinar", "Webinars", actor=Actor("someone", role))  # type: ignore[arg-type]
    assert snapshot(leads) == before


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"webinar": "   "}, "the display name of 'webinar' is blank; clear it to show the stored value instead"),
        (
            {"webinar": "W" * (MAX_NAME_LENGTH + 1)},
            f"the display name of 'webinar' has {MAX_NAME_LENGTH + 1} characters; "
            f"at most {MAX_NAME_LENGTH} fit a chart",
        ),
        ({"webnar": "Webinars"}, "no lead has the source 'webnar'; names are for sources as they are stored"),
        ({"webinar": None}, "'webinar' has no display name to clear"),
        (
            {"webinar": "Events", "content_syndication": "events"},
            "'Events' is already the display name of 'content_syndication'; two sources would read alike",
        ),
    ],
)
def test_a_bad_name_is_refused_whole_with_why(leads: Engine, changes: dict[str, str | None], message: str) -> None:
    before = snapshot(leads)
    with pytest.raises(DisplayNameError) as refused:
        rename(leads, changes, actor=OPS)
    assert message in str(refused.value)
    assert snapshot(leads) == before


def test_several_names_in_one_save(leads: Engine) -> None:
    set_name(leads, "webinar", "Webinars", actor=OPS)
    done = rename(leads, {"webinar": None, "content_syndication": "Syndication"}, actor=OPS)
    assert {(change.source, change.after) for change in done} == {
        ("webinar", None),
        ("content_syndication", "Syndication"),
    }
    assert display_names(leads) == {"content_syndication": "Syndication"}
    assert [row[1] for row in audit_rows(leads)] == ["set_display_name", "clear_display_name", "set_display_name"]


def test_sources_with_their_lead_counts_and_names(leads: Engine) -> None:
    set_name(leads, "webinar", "Webinars", actor=OPS)
    table = source_names(leads)
    assert table.to_dict("records") == [
        {"source": "content_syndication", "leads": 2, "display_name": ""},
        {"source": "webinar", "leads": 1, "display_name": "Webinars"},
    ]


def test_an_edited_table_becomes_the_changes() -> None:
    before = pd.DataFrame({"source": ["a", "b", "c"], "leads": [3, 2, 1], "display_name": ["Alpha", "", "Gamma"]})
    after = before.assign(display_name=["Alpha", " Beta ", None])
    assert edited_names(before, after) == {"b": "Beta", "c": None}


def test_the_command_line_sets_renames_and_clears(leads: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    url = database_url(leads)
    assert main(["--database-url", url, "display-name", "webinar", "Webinars", "--actor", "olive"]) == 0
    assert capsys.readouterr().out == "webinar: shows as 'Webinars'\n"
    assert main(["--database-url", url, "display-name", "webinar", "Live events"]) == 0
    assert capsys.readouterr().out == "webinar: shows as 'Live events' (was 'Webinars')\n"
    assert main(["--database-url", url, "display-name", "webinar", "--clear"]) == 0
    assert capsys.readouterr().out == "webinar: the display name 'Live events' is cleared; it shows as 'Webinar'\n"
    assert display_names(leads) == {}
    assert [row[:2] for row in audit_rows(leads)] == [
        ("olive", "set_display_name"),
        (f"cli:{getpass.getuser()}", "set_display_name"),
        (f"cli:{getpass.getuser()}", "clear_display_name"),
    ]


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["webinar"], "error: give the source a NAME, or --clear its name; not both"),
        (["webinar", "Webinars", "--clear"], "error: give the source a NAME, or --clear its name; not both"),
        (["webinar", "--clear"], "error: 'webinar' has no display name to clear"),
        (["webnar", "Webinars"], "error: no lead has the source 'webnar'"),
    ],
)
def test_the_command_line_refuses_with_exit_2(
    leads: Engine, capsys: pytest.CaptureFixture[str], argv: list[str], error: str
) -> None:
    assert main(["--database-url", database_url(leads), "display-name", *argv]) == 2
    assert capsys.readouterr().err.startswith(error)
    assert display_names(leads) == {}


def test_the_data_page_lists_sources_with_their_names(database: Engine) -> None:
    import_csv(database, "leads", csv_file(LEADS), actor=TESTER)
    set_name(database, "webinar", "Webinars", actor=OPS)
    app = run(signed_in_as(database, "olu", "ops", page_file("data.py")))
    assert [tab.label for tab in app.tabs][-2:] == ["Import history", "Display names of sources"]
    names = app.dataframe[-1].value
    assert names.to_dict("records") == [
        {"source": "content_syndication", "leads": 2, "display_name": ""},
        {"source": "webinar", "leads": 1, "display_name": "Webinars"},
    ]
    history = app.dataframe[0].value
    assert history.loc[0, "who"] == "test" and history.loc[0, "kind"] == "Leads"
    assert app.button(key="data_save_names").disabled  # nothing edited, nothing to save


def test_only_those_who_import_may_open_the_names(database: Engine) -> None:
    app = run(signed_in_as_existing(database, "erin", page_file("data.py")))
    assert "may not open this page" in app.error[0].value
