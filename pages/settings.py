"""Settings (admin): the organisation's timezone, business hours and holiday calendar.

They decide which day a lead belongs to and how response times are counted against the SLA, so a
change re-computes those figures for every stored lead and opportunity.
"""

from __future__ import annotations

import zoneinfo

import streamlit as st

from core.admin.settings import update
from core.settings import SettingsError, current, holiday_countries, holiday_subdivisions
from ui import auth, cache, feedback

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NO_CALENDAR = ""

user = auth.guard("manage")
st.title("Settings")
st.caption(
    "Times without an offset in imported files are read in this timezone, periods are cut in it, and "
    "response times count only business hours on working days. Saving re-computes every stored lead."
)
feedback.show_notice("settings")

settings = current(cache.engine())
countries = holiday_countries()
zones = sorted(zoneinfo.available_timezones())

# No st.form: the region list follows the chosen country, and a form would drop other edits on that rerun.
zone_column, country_column, region_column = st.columns(3)
timezone = zone_column.selectbox("Timezone", zones, index=zones.index(settings.timezone), key="settings_timezone")
country = country_column.selectbox(
    "Holiday calendar",
    [NO_CALENDAR, *countries],
    index=[NO_CALENDAR, *countries].index(settings.holiday_country if settings.holiday_country in countries else ""),
    format_func=lambda code: f"{countries[code]} ({code})" if code else "No holiday calendar",
    key="settings_country",
)
regions = holiday_subdivisions(country) if country else []
region = region_column.selectbox(
    "Region with its own holidays",
    ["", *regions],
    index=(["", *regions].index(settings.holiday_subdivision) if settings.holiday_subdivision in regions else 0),
    format_func=lambda code: code or "The whole country",
    disabled=not regions,
    key="settings_region",
)
days = st.multiselect(
    "Business days",
    range(7),
    default=list(settings.business_days),
    format_func=lambda day: WEEKDAYS[day],
    key="settings_days",
)
start_column, end_column = st.columns(2)
start = start_column.time_input("Business hours start", settings.business_start, step=900, key="settings_start")
end = end_column.time_input("Business hours end", settings.business_end, step=900, key="settings_end")
saved = st.button("Save settings", type="primary", key="settings_save")

if saved:
    changes = {
        "timezone": timezone,
        "business_days": days,
        "business_start": start,
        "business_end": end,
        "holiday_country": country or None,
        "holiday_subdivision": region or None,
    }
    try:
        with st.spinner("Saving and re-computing response times for every lead…"):
            update(cache.engine(), changes, actor=user.actor)
    except SettingsError as problem:
        st.error(f"Not saved: {problem}.")
    else:
        feedback.after_write("settings", "Settings saved; every KPI now uses them.")

st.subheader("SLA and gates in force")
st.caption(
    f"Response within {settings.sla_hours:g} {'business' if settings.sla_business_hours else 'calendar'} hours; "
    f"MQL→SQL conversion gate {settings.conversion_gate:.0%}; rejection-share gate {settings.rejection_gate:.0%}; "
    f"at least {settings.min_touch_attempts} touch attempts over {settings.min_touch_days} days before a rejection. "
    "These belong to the SLA definition that the marketing and sales leads sign off."
)
