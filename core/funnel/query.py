"""A KPI view: a date range, a grain, a grouping and filters; what core.funnel.kpis and the counts kept per day
(core.funnel.rollups) are asked for."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from core.funnel.segments import Filters
from core.periods import Grain

GroupBy = Literal["source", "owner", "segment", "campaign"]
GROUP_BYS: tuple[GroupBy, ...] = ("source", "owner", "segment", "campaign")


@dataclass(frozen=True)
class KpiQuery:
    first_day: dt.date
    last_day: dt.date
    grain: Grain | Literal["range"] = "month"  # "range": the whole range as one period
    by: GroupBy | None = None
    filters: Filters = field(default_factory=Filters)
    as_of: dt.datetime | None = None  # naive UTC; default now
