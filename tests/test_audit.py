"""The audit-log view's reads: filters, newest first, the total behind a limited page, who may look."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, insert

from core.audit import AuditQuery, entries, facets
from core.models import AuditEntry
from core.permissions import Actor, PermissionDenied
from core.vocabulary import person

OPS = Actor("olu", "ops")
LOG = [
    (dt.datetime(2026, 11, 1, 9), "ada", "create", "user", "sam", {"role": "sales"}),
    (dt.datetime(2026, 11, 2, 23, 59), "olu", "import", "leads", "1", {"inserted": 8}),
    (dt.datetime(2026, 11, 3, 0, 0), "olu", "update", "target", "2026-11 mqls", {"before": 100, "after": 120}),
    (dt.datetime(2026, 11, 5, 12), "ada", "update", "settings", "organisation", {}),
    (dt.datetime(2026, 11, 6, 8), "olu", "create", "mapping", "50%_off_list", {}),
]


@pytest.fixture
def logged(engine: Engine) -> Engine:
    with engine.begin() as connection:
        for at, who, action, entity, key, detail in LOG:
            connection.execute(
                insert(AuditEntry).values(at=at, actor=who, action=action, entity=entity, entity_key=key, detail=detail)
            )
    return engine


def keys(logged: Engine, query: AuditQuery, limit: int = 500) -> tuple[list[str], int]:
    page = entries(logged, OPS, query, limit=limit)
    return list(page.rows["entity_key"]), page.total


def test_newest_first_with_the_total_behind_a_limited_page(logged: Engine) -> None:
    assert keys(logged, AuditQuery(), limit=2) == (["50%_off_list", "organisation"], 5)
    page = entries(logged, OPS, AuditQuery(who="olu", action="update"))
    assert page.rows.loc[0, "detail"] == '{"after": 120, "before": 100}'


def test_day_range_includes_both_ends_in_utc(logged: Engine) -> None:
    # 2 Nov 23:59 is in, 3 Nov 00:00 is out when the range ends on 2 Nov.
    assert keys(logged, AuditQuery(first_day=dt.date(2026, 11, 2), last_day=dt.date(2026, 11, 2))) == (["1"], 1)
    assert keys(logged, AuditQuery(first_day=dt.date(2026, 11, 3)))[1] == 3


def test_filters_combine_and_key_search_treats_wildcards_literally(logged: Engine) -> None:
    assert keys(logged, AuditQuery(who="ada", entity="user")) == (["sam"], 1)
    assert keys(logged, AuditQuery(key_contains="50%")) == (["50%_off_list"], 1)
    assert keys(logged, AuditQuery(key_contains="%")) == (["50%_off_list"], 1)
    assert keys(logged, AuditQuery(key_contains="ORGANISATION")) == (["organisation"], 1)  # any case, any database
    assert facets(logged, OPS) == {
        "who": ["ada", "olu"],
        "entity": ["leads", "mapping", "settings", "target", "user"],
        "action": ["create", "import", "update"],
    }


@pytest.mark.parametrize("role", ["exec", "marketing", "sales_lead"])
def test_only_ops_and_admins_read_the_log(logged: Engine, role: str) -> None:
    with pytest.raises(PermissionDenied):
        entries(logged, Actor("x", role), AuditQuery())  # type: ignore[arg-type]
    with pytest.raises(PermissionDenied):
        facets(logged, Actor("x", role))  # type: ignore[arg-type]


def test_the_log_names_people_the_app_and_the_command_line_in_words() -> None:
    names = {"olu": "Olu Ops"}
    assert person("olu", names) == "Olu Ops"
    assert person("seed", names) == "Sample data"
    assert person("cli:root", names) == "Command line (root)"
    assert person("gone", names) == "gone"  # a name that is no account is shown as recorded
    assert person(None, names) == person("", names) == "—"
