"""Organisation settings, the read side: timezone, business days and hours, holidays, gates and segment bands.

Stored as validated JSON in the settings table and read by every KPI. An admin changes them through
core.admin.settings; the SLA's hours and gates arrive only with a signed SLA version (core.definitions.versions); both
store through core.funnel.derived.store_settings, which recomputes what the settings feed.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Any

import holidays as holidays_lib
from holidays.registry import COUNTRIES
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Connection, Engine, select
from sqlalchemy.orm import Session

from core.business_hours import BusinessCalendar
from core.models import Setting, utcnow

ORGANISATION_KEY = "organisation"
# Set by the SLA definition both leads sign (core.definitions.versions), never directly.
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

# What each setting moves beyond itself: the local day and the segment place a row in its cells; the business
# clock times every response and due time (core.funnel.derived, core.funnel.rollups).
PLACEMENT_KEYS = frozenset({"timezone", "mid_market_from", "enterprise_from"})
CLOCK_KEYS = frozenset(
    {
        "timezone",
        "business_days",
        "business_start",
        "business_end",
        "holiday_country",
        "holiday_subdivision",
        "sla_business_hours",
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


@functools.cache
def _timezones() -> frozenset[str]:
    """The IANA names this machine knows: read from disk once, not at every load of the settings."""
    return frozenset(zoneinfo.available_timezones())


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
        if value not in _timezones():
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

    def differences(self, other: OrgSettings) -> set[str]:
        """The names of the settings whose values differ between these and `other`."""
        return {name for name in type(self).model_fields if getattr(self, name) != getattr(other, name)}


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


def write_row(session: Session, key: str, value: dict[str, Any], by: str) -> None:
    """Stores one row of the settings table (the organisation's settings, ops' display names), stamped with who
    and when. The caller checked the right, locked the row and audits the change."""
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value, updated_at=utcnow(), updated_by=by))
    else:
        row.value = value
        row.updated_at = utcnow()
        row.updated_by = by
