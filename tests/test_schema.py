"""Migrations build exactly the schema the models describe, on each backend; settings validate."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import Engine, event, func, inspect, select, text

from core.admin.settings import save, update
from core.db import SQLITE_BUSY_SECONDS, session_scope, upgrade, writing
from core.models import AuditEntry, Base, CalendarDay
from core.permissions import Actor, PermissionDenied
from core.settings import (
    OrgSettings,
    SettingsError,
    current,
    holiday_countries,
    holiday_subdivisions,
    load,
)


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_upgrade_is_idempotent_and_fills_the_calendar(engine: Engine) -> None:
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(CalendarDay)).scalar() == 21_915
        week = connection.execute(text("SELECT week_start FROM calendar_days WHERE day = '2025-01-01'")).scalar()
    assert str(week).startswith("2024-12-30")  # ISO week: Monday


def test_kpi_indexes_exist(engine: Engine) -> None:
    indexes = {index["name"] for index in inspect(engine).get_indexes("leads")}
    assert "ix_leads_mql_day_source_response" in indexes


def test_sqlite_pragmas(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == SQLITE_BUSY_SECONDS * 1000 > 0
    # Reads begin deferred (they never wait for a writer); writes begin IMMEDIATE (see test_concurrency).
    statements: list[str] = []

    def seen(_connection: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        with writing(engine).begin() as connection:
            connection.execute(text("SELECT 1"))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements == ["BEGIN", "SELECT 1", "BEGIN IMMEDIATE", "SELECT 1"]


def test_settings_are_validated_and_audited(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="unknown timezone"):
        OrgSettings(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="end after they start"):
        OrgSettings.model_validate({"business_start": "18:00", "business_end": "09:00"})
    with pytest.raises(ValidationError, match="no holiday calendar"):
        OrgSettings(holiday_country="XX")
    with pytest.raises(ValidationError):
        OrgSettings(sla_hours=0)
    with session_scope(engine) as session:
        save(session, {"sla_hours": 2, "holiday_country": "DE"}, actor=Actor("ada", "admin"))
    with engine.connect() as connection:
        assert load(connection).sla_hours == 2
        entry = connection.execute(select(AuditEntry).where(AuditEntry.entity == "settings")).one()
    assert entry.actor == "ada"
    assert entry.detail["before"]["sla_hours"] == 4 and entry.detail["after"]["sla_hours"] == 2


def test_only_an_admin_changes_settings(engine: Engine) -> None:
    with pytest.raises(PermissionDenied), session_scope(engine) as session:
        save(session, {"sla_hours": 8}, actor=Actor("olu", "ops"))
    with engine.connect() as connection:
        assert load(connection).sla_hours == 4
        assert connection.execute(select(AuditEntry)).first() is None


def test_settings_update_explains_every_problem_and_changes_nothing(engine: Engine) -> None:
    admin = Actor("ada", "admin")
    with pytest.raises(SettingsError, match=r"timezone: unknown timezone 'Mars/Olympus'.*; business_days: business"):
        update(engine, {"timezone": "Mars/Olympus", "business_days": [9]}, actor=admin)
    with pytest.raises(SettingsError, match=r"^business hours must end after they start$"):
        update(engine, {"business_start": "18:00", "business_end": "09:00"}, actor=admin)
    with pytest.raises(SettingsError, match="'XX' is not a region of US"):
        update(engine, {"holiday_country": "US", "holiday_subdivision": "XX"}, actor=admin)
    assert current(engine) == OrgSettings()
    updated = update(
        engine, {"holiday_country": "US", "holiday_subdivision": "CA", "business_days": [4, 0]}, actor=admin
    )
    assert (updated.holiday_subdivision, updated.business_days) == ("CA", (0, 4))
    assert current(engine) == updated
    assert holiday_countries()["DE"] == "Germany" and "BY" in holiday_subdivisions("DE")
    # Aliases are stored as the two-letter code the page lists; the library's region aliases stay valid.
    assert (
        update(engine, {"holiday_country": "gbr", "holiday_subdivision": "England"}, actor=admin).holiday_country
        == "GB"
    )
