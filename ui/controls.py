"""The view controls every page with a period and filters shares: a period preset, a custom range, the filters
in one "Filters" popover, and the view linked to the URL's query string.

The URL gives the widgets their first values once per session; afterwards the widgets drive it, and the view
is kept for when the page is opened again (Streamlit forgets a page's widgets when another page is opened).
The codec is `core.funnel.view.ViewLink`; a page passes its link, its session-key prefix, its presets and a
function giving the days a preset means:

    linked = controls.linked("sb", scoreboard.LINK)
    chosen = controls.view_controls("sb", linked, PERIOD_PRESETS, scoreboard.FILTERS, days, span, today)
    view = View(chosen.preset, chosen.custom, grain, chosen.filters, model)
    controls.keep("sb", scoreboard.LINK, view)

On a phone the row stacks: the period, then one "Filters" button, then the page's numbers, not six boxes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st

from core.funnel.segments import Filters
from core.funnel.view import PageView, ViewLink
from core.periods import clamp_range
from core.vocabulary import FILTER_LABELS, value_name
from ui import cache

V = TypeVar("V", bound=PageView)
NO_DATA = "No data yet: ops import a CRM export on the Data page."
Days = Callable[[str, "tuple[dt.date, dt.date] | None"], "tuple[dt.date, dt.date]"]
# Filters field -> the key of its values in `cache.options()`.
OPTION_KEYS = {
    "sources": "source",
    "segments": "segment",
    "owners": "owner",
    "campaigns": "campaign",
    "industries": "industry",
    "size_bands": "size_band",
}
# Owners are people's names as the CRM spells them: shown as typed, not humanised.
AS_TYPED = {"owners"}


@dataclass(frozen=True)
class Chosen:
    """What the controls chose: the preset, its custom range, the filters, and the days they mean."""

    preset: str
    custom: tuple[dt.date, dt.date] | None
    filters: Filters
    first_day: dt.date
    last_day: dt.date
    summary: str  # the filters in force in words, for the page's caption ("" when none)


def linked(prefix: str, link: ViewLink[V]) -> V:
    """The view this page opens on: the URL's, read once per session; afterwards the one it showed last."""
    key = f"{prefix}_linked"
    if key not in st.session_state:
        st.session_state[key] = link.read({name: st.query_params.get_all(name) for name in st.query_params})
    view: V = st.session_state[key]
    return view


def keep(prefix: str, link: ViewLink[V], view: V) -> None:
    """Write the view to the URL (defaults left out) and keep it for when the page is opened again."""
    st.query_params.from_dict(link.write(view))
    st.session_state[f"{prefix}_linked"] = view


def shown_value(field: str, names: Mapping[str, str]) -> Callable[[Any], str]:
    """How a filter's stored value reads in its box: ops' display name for a source, words for a machine key."""
    if field in AS_TYPED:
        return str
    return lambda value: value_name(value, names if field == "sources" else None)


def filter_summary(filters: Filters, names: Mapping[str, str]) -> str:
    """The filters in force in one line, e.g. "Source: Paid search, Webinar · Segment: Enterprise"."""
    parts = []
    for field, label in FILTER_LABELS.items():
        if values := getattr(filters, field):
            shown = shown_value(field, names)
            parts.append(f"{label}: {', '.join(shown(value) for value in values)}")
    return " · ".join(parts)


def view_controls(
    prefix: str,
    linked_view: PageView,
    presets: Mapping[str, str],
    fields: Sequence[str],
    days: Days,
    span: tuple[dt.date, dt.date] | None,
    today: dt.date,
) -> Chosen:
    """Period, custom range and a "Filters" popover in one row; the days the choice means.

    `presets` maps preset -> label ("custom" among them for a range); `fields` are the Filters fields offered,
    in order; `days(preset, custom)` is the page's range function. Widget keys: `{prefix}_period`,
    `{prefix}_range`, `{prefix}_{field}`.
    """
    names = cache.display_names()
    row = st.columns([1.3, 1.3, 1.0, 1.4], vertical_alignment="bottom")
    keys = list(presets)
    start = keys.index(linked_view.preset) if linked_view.preset in keys else 0
    preset = row[0].selectbox("Period", keys, index=start, format_func=lambda key: presets[key], key=f"{prefix}_period")
    custom = None
    if preset == "custom":
        default = linked_view.custom or days(keys[0], None)
        picked = row[1].date_input("From – to", default, key=f"{prefix}_range")
        if not (isinstance(picked, tuple) and len(picked) == 2):
            st.info("Pick the last day of the range too.")
            st.stop()
        # A link may carry any dates (0001-01-01 to 9999-12-31): the work is kept to the data's years.
        custom = clamp_range(picked[0], picked[1], span, today)
    options = cache.options()
    chosen: dict[str, tuple[str, ...]] = {}
    in_force = sum(
        len(st.session_state.get(f"{prefix}_{field}", getattr(linked_view.filters, field))) for field in fields
    )
    with (row[1] if preset != "custom" else row[2]).popover(
        f"Filters ({in_force})" if in_force else "Filters", icon=":material/filter_list:", width="stretch"
    ):
        for field in fields:
            offered = options.get(OPTION_KEYS[field], [])
            # A linked value the data no longer has is dropped rather than failing the widget.
            default_values = [value for value in getattr(linked_view.filters, field) if value in offered]
            picked_values = st.multiselect(
                FILTER_LABELS[field],
                offered,
                default=default_values,
                format_func=shown_value(field, names),
                key=f"{prefix}_{field}",
                placeholder="All",
            )
            chosen[field] = tuple(picked_values)
    filters = Filters(**chosen)
    first_day, last_day = days(preset, custom)
    return Chosen(preset, custom, filters, first_day, last_day, filter_summary(filters, names))


def data_span() -> tuple[dt.date, dt.date]:
    """The first and last day the data covers; on an empty database the page says so and stops."""
    span = cache.date_span()
    if span is None:
        st.info(NO_DATA)
        st.stop()
    assert span is not None
    return span
