"""A page's view in a link: the period preset, a custom range, the filters and any other choices, read from and
written to a URL's query string, so that a link opens the same view for whoever it is sent to.

One codec for every page with a period and filters (the scoreboard, the rejection explorer): a page describes
its view as a frozen dataclass and its link as a `ViewLink` (the presets it offers, the filters it shows under
which query keys, its other choices and their allowed values); the plain URL is the page's default view.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from sqlalchemy import Engine

from core.funnel.segments import Filters, data_range, last_mql_day_before
from core.periods import Grain, anchor_day, bucket_start

# Query key -> Filters field, for every filter a page may show; a page picks the ones it offers.
FILTER_PARAMS: dict[str, str] = {
    "source": "sources",
    "segment": "segments",
    "owner": "owners",
    "campaign": "campaigns",
    "industry": "industries",
    "size": "size_bands",
}


class PageView(Protocol):
    """What every linked view has: a preset, the custom range when the preset is "custom", the filters."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @property
    def preset(self) -> str: ...

    @property
    def custom(self) -> tuple[dt.date, dt.date] | None: ...

    @property
    def filters(self) -> Filters: ...


V = TypeVar("V", bound=PageView)


@dataclass(frozen=True)
class ViewLink(Generic[V]):
    """How one page's view travels in a URL.

    `default` is the view of the plain URL; `presets` the period presets the page offers ("custom" among
    them for a range); `filters` the Filters fields it shows; `choices` its other fields (a view field, also
    its query key) with the values each may take.
    """

    default: V
    presets: Collection[str]
    filters: tuple[str, ...]
    choices: Mapping[str, Collection[str]] = field(default_factory=dict)

    def params_of(self) -> dict[str, str]:
        """Query key -> Filters field, for the filters this page shows."""
        return {key: name for key, name in FILTER_PARAMS.items() if name in self.filters}

    def read(self, params: Mapping[str, list[str]]) -> V:
        """A view from a URL's query string; anything unknown or malformed falls back to the default."""

        def one(key: str) -> str | None:
            values = params.get(key) or []
            return values[-1] if values else None

        preset = one("period")
        custom = None
        if preset == "custom":
            try:
                first, last = dt.date.fromisoformat(one("from") or ""), dt.date.fromisoformat(one("to") or "")
                custom = (first, last) if first <= last else None
            except ValueError:
                custom = None
        if preset not in self.presets or (preset == "custom" and custom is None):
            preset, custom = self.default.preset, self.default.custom
        filters = Filters(
            **{name: tuple(dict.fromkeys(params.get(key) or [])) for key, name in self.params_of().items()}
        )
        chosen = {name: value for name, allowed in self.choices.items() if (value := one(name)) in allowed}
        return dataclasses.replace(self.default, preset=preset, custom=custom, filters=filters, **chosen)

    def write(self, view: V) -> dict[str, list[str]]:
        """The query string of a view; defaults are left out so that the plain URL is the default view."""
        params: dict[str, list[str]] = {}
        if view.preset != self.default.preset:
            params["period"] = [view.preset]
        if view.preset == "custom" and view.custom is not None:
            params["from"], params["to"] = [view.custom[0].isoformat()], [view.custom[1].isoformat()]
        for name in self.choices:
            if getattr(view, name) != getattr(self.default, name):
                params[name] = [str(getattr(view, name))]
        for key, name in self.params_of().items():
            if values := getattr(view.filters, name):
                params[key] = list(values)
        return params


def default_anchor(engine: Engine, today: dt.date, unit: Grain) -> dt.date:
    """The day a page's default period counts from: the day after the latest complete `unit` that has MQLs.

    Data that stops in the past (a demo, an old export) opens on its last complete period, and an import of
    undated leads today (their MQL day the day of the import) cannot move anyone's default to an empty one:
    the current period is not complete. With no MQLs at all, the day after the data ends.
    """
    last_mql = last_mql_day_before(engine, bucket_start(today, unit))
    if last_mql is None:
        span = data_range(engine)
        return anchor_day(today, span[1] if span else None)
    return anchor_day(today, last_mql)
