"""Organisation settings: timezone, business hours and the SLA defaults.

Stored as validated JSON in the settings table. The definitions feature will own
the SLA as signed-off versions; until then these are the values the KPIs use.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

import holidays as holidays_lib
from holidays.registry import COUNTRIES
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from core import audit
from core.business_hours import BusinessCalendar
from core.db import retrying, session_scope
from core.models import Setting, utcnow
from core.permissions import Actor, require

ORGANISATION_KEY = "organisation"
# Set by the SLA definition both leads sign (core.definitions), never directly.
SLA_KEYS = frozenset(
    {
        "sla_hours",
        "sla_business_hours",
        "min_touch_attempts",
        "min_touch_days",
        "conversion_gate",
        "rejection_gate",
        "review_interval_days",
    }
)


# Every spelling the holidays library registers for a country (alpha-2, alpha-3, aliases) -> alpha-2.
_COUNTRY_CODES = {alias.upper(): entry[1] for entry in COUNTRIES.values() for alias in entry[1:]}


def _is_region(country: str | None, region: str) -> bool:
    """As the holidays library decides it, so that its aliases ("England") stay valid."""
    if not country:
        return False
    try:
        holidays_lib.country_holidays(country, subdiv=region)
    except NotImplementedError:
        return False
    return True


class OrgSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str = "UTC"
    business_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    business_start: dt.time = dt.time(9, 0)
    business_end: dt.time = dt.time(17, 0)
    holiday_country: str | None = None
    holiday_subdivision: str | None = None
    sla_hours: float = Field(default=4.0, gt=0)
    sla_business_hours: bool = True
    conversion_gate: float = Field(default=0.30, ge=0, le=1)
    rejection_gate: float = Field(default=0.30, ge=0, le=1)
    min_touch_attempts: int = Field(default=6, ge=0)
    min_touch_days: int = Field(default=14, ge=0)
    review_interval_days: int = Field(default=90, gt=0)
    # Company-size bands for the segment filter: below the first is SMB,
    # from the second up is enterprise, between is mid-market.
    mid_market_from: int = Field(default=100, gt=0)
    enterprise_from: int = Field(default=1000, gt=0)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value not in zoneinfo.available_timezones():
            raise ValueError(f"unknown timezone {value!r}; expected an IANA name such as Europe/Berlin")
        return value

    @field_validator("business_days")
    @classmethod
    def _weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(day not in range(7) for day in value):
            raise ValueError("business days are weekday numbers 0 (Monday) to 6 (Sunday), at least one")
        return tuple(sorted(set(value)))

    @field_validator("holiday_country")
    @classmethod
    def _known_country(cls, value: str | None) -> str | None:
        if not value:
            return None
        # Stored as the two-letter code the Settings page lists, whichever alias (GBR, UK) was given.
        code = _COUNTRY_CODES.get(value.strip().upper())
        if code is None:
            raise ValueError(f"no holiday calendar for country {value!r}; expected an ISO code such as US or DE")
        return code

    @model_validator(mode="after")
    def _ordered(self) -> OrgSettings:
        if self.business_end <= self.business_start:
            raise ValueError("business hours must end after they start")
        if self.holiday_subdivision and not _is_region(self.holiday_country, self.holiday_subdivision):
            raise ValueError(
                f"{self.holiday_subdivision!r} is not a region of {self.holiday_country or 'no country'} "
                "with its own holidays"
            )
        if self.enterprise_from <= self.mid_market_from:
            raise ValueError("the enterprise band must start above the mid-market band")
        return self

    def today(self) -> dt.date:
        """Today in the organisation's timezone: the day its periods are cut by, not the server's."""
        return dt.datetime.now(zoneinfo.ZoneInfo(self.timezone)).date()

    def business_calendar(self) -> BusinessCalendar:
        return BusinessCalendar(
            timezone=self.timezone,
            weekdays=self.business_days,
            start=self.business_start,
            end=self.business_end,
            holiday_country=self.holiday_country,
            holiday_subdivision=self.holiday_subdivision,
        )


class SettingsError(ValueError):
    """Settings that cannot be used, with every reason; nothing was changed."""


def holiday_countries() -> dict[str, str]:
    """ISO code -> English name of every country the holidays library has a calendar for, by name."""
    names = {entry[1]: module.replace("_", " ").title() for module, entry in COUNTRIES.items()}
    return dict(sorted(names.items(), key=lambda item: item[1]))


def holiday_subdivisions(country: str) -> list[str]:
    """The country's regions with their own holidays (US states, German Länder …), by code."""
    return list(holidays_lib.list_supported_countries().get(country, []))


def load(target: Session | Connection) -> OrgSettings:
    row = target.execute(select(Setting.value).where(Setting.key == ORGANISATION_KEY)).scalar_one_or_none()
    return OrgSettings.model_validate(row) if row else OrgSettings()


def current(engine: Engine) -> OrgSettings:
    with engine.connect() as connection:
        return load(connection)


@retrying
def update(engine: Engine, changes: dict[str, Any], *, actor: Actor) -> OrgSettings:
    """`save` in its own transaction, with a validation failure as one readable SettingsError.

    The SLA's hours and gates are not settings an admin types: they come only from a signed SLA version.
    """
    signed_only = sorted(set(changes) & SLA_KEYS)
    if signed_only:
        raise SettingsError(f"{', '.join(signed_only)} come from the signed SLA definition, not from settings")
    try:
        with session_scope(engine) as session:
            return save(session, changes, actor=actor)
    except ValidationError as exc:
        reasons = "; ".join(
            (f"{'.'.join(str(p) for p in error['loc'])}: " if error["loc"] else "")
            + str(error["msg"]).removeprefix("Value error, ")
            for error in exc.errors()
        )
        raise SettingsError(reasons) from exc


def save(session: Session, changes: dict[str, Any], *, actor: Actor) -> OrgSettings:
    """Validate and store changed settings (admins only), then recompute what depends on them."""
    require(actor, "manage")
    return store(session, changes, actor_name=actor.username)


def store(session: Session, changes: dict[str, Any], *, actor_name: str) -> OrgSettings:
    """`save` without the role check, for a change someone else authorised: the two leads' sign-off of an
    SLA version carries its hours and gates into the settings every KPI reads."""
    from core.derived import recompute_lead_derived, recompute_opportunity_derived

    actor = Actor(actor_name, "admin")  # only a name for the records below; the caller checked the right
    # Row-locked on PostgreSQL: an SLA coming into force and an admin's save at once must not undo each other.
    session.get(Setting, ORGANISATION_KEY, with_for_update=True)
    current = load(session)
    updated = OrgSettings.model_validate({**current.model_dump(), **changes})
    payload = updated.model_dump(mode="json")
    existing = session.get(Setting, ORGANISATION_KEY)
    if existing is None:
        session.add(Setting(key=ORGANISATION_KEY, value=payload, updated_at=utcnow(), updated_by=actor.username))
    else:
        existing.value = payload
        existing.updated_at = utcnow()
        existing.updated_by = actor.username
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        action="update",
        entity="settings",
        entity_key=ORGANISATION_KEY,
        detail={"before": current.model_dump(mode="json"), "after": payload},
    )
    connection = session.connection()
    recompute_lead_derived(connection, updated)
    recompute_opportunity_derived(connection, updated)
    return updated
