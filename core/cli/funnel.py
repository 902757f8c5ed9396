"""The funnel's numbers: the KPI table and the scoreboard as the page shows it."""

from __future__ import annotations

import argparse
import datetime as dt
import json

from sqlalchemy import Engine

from core.cli.common import Commands, date
from core.funnel import scoreboard
from core.funnel.kpis import KpiQuery, kpi_records, kpi_table
from core.funnel.query import GROUP_BYS
from core.funnel.segments import Filters
from core.periods import GRAINS, PERIOD_PRESETS
from core.settings import current

# The columns the plain-text KPI table prints; --json carries every column.
PRINTED_KPIS = (
    "period_start",
    "group",
    "mqls",
    "mql_target",
    "mql_to_sql",
    "rejection_share",
    "sla_compliance",
    "pipeline_created",
    "win_rate",
    "median_cycle_days",
)


def register(commands: Commands) -> None:
    kpis = commands.add_parser("kpis", help="print the KPI table")
    kpis.add_argument(
        "--from", dest="first_day", type=date, help="first day (default: start of the last complete month)"
    )
    kpis.add_argument("--to", dest="last_day", type=date, help="last day (default: end of the last complete month)")
    kpis.add_argument(
        "--grain",
        choices=[*GRAINS, "range"],
        default="month",
        help='"range": the whole range as one period, as the scoreboard counts a custom range',
    )
    kpis.add_argument("--by", choices=GROUP_BYS)
    _view_arguments(kpis)
    kpis.add_argument("--json", action="store_true", help="one JSON object per period and group")
    kpis.set_defaults(run=_kpis)

    board = commands.add_parser(
        "scoreboard", help="the scoreboard's headlines, flags and funnel, as the page shows them"
    )
    board.add_argument("--period", choices=list(PERIOD_PRESETS), default="last_month")
    board.add_argument("--from", dest="first_day", type=date, help="with --period custom")
    board.add_argument("--to", dest="last_day", type=date, help="with --period custom")
    _view_arguments(board)
    board.add_argument("--json", action="store_true", help="as JSON (default: the page's Markdown summary)")
    board.set_defaults(run=_scoreboard)


def _view_arguments(parser: argparse.ArgumentParser) -> None:
    """The filters and as-of moment that the KPI table and the scoreboard share."""
    parser.add_argument("--source", action="append", default=[], help="filter; repeat for several")
    parser.add_argument("--segment", action="append", default=[])
    parser.add_argument("--owner", action="append", default=[])
    parser.add_argument("--campaign", action="append", default=[])
    parser.add_argument("--as-of", type=dt.datetime.fromisoformat, help="UTC moment for pending SLAs (default now)")


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(tuple(args.source), tuple(args.segment), tuple(args.owner), tuple(args.campaign))


def _kpis(engine: Engine, args: argparse.Namespace) -> int:
    # The latest complete month with MQLs, as the Scoreboard opens on.
    default_first, default_last = scoreboard.view_range(engine, scoreboard.View(), current(engine).today())
    query = KpiQuery(
        first_day=args.first_day or default_first,
        last_day=args.last_day or default_last,
        grain=args.grain,
        by=args.by,
        filters=_filters(args),
        as_of=args.as_of,
    )
    table = kpi_table(engine, query)
    if args.json:
        print(json.dumps(kpi_records(table), indent=2))
        return 0
    print(table[list(PRINTED_KPIS)].to_string(index=False, float_format=lambda value: f"{value:,.3f}"))
    # NaN above is "no data" or one of these: a number the imports cannot support, or a young cohort.
    for row in table.itertuples():
        where = f"{row.period_start} {row.group}"
        for kpi, reason in row.unavailable.items():
            print(f"{where}: {kpi} not available: {reason}")
        for kpi in row.maturing:
            print(f"{where}: {kpi} still maturing ({row.maturity_days[kpi]:.0f} days for 9 in 10 conversions)")
    return 0


def _scoreboard(engine: Engine, args: argparse.Namespace) -> int:
    custom = None
    if args.period == "custom":
        if not (args.first_day and args.last_day):
            raise ValueError("--period custom needs --from and --to")
        custom = (args.first_day, args.last_day)
    view = scoreboard.View(preset=args.period, custom=custom, filters=_filters(args))
    board = scoreboard.read_board(engine, view, current(engine).today(), args.as_of)
    if args.json:
        print(json.dumps(board.as_dict(), indent=2))
        return 0
    compared = f"{board.compared_first:%d %b %Y} – {board.compared_last:%d %b %Y}"
    fresh = scoreboard.freshness(engine)
    print(scoreboard.summary_markdown(board.shown_period, compared, *board.parts(), fresh, view.filters))
    return 0
