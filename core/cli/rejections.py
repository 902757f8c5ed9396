"""Why sales rejected leads, and the catalogue of reasons the rejections are read with."""

from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy import Engine

from core.cli.common import BAD_INPUT, Commands, actor, date
from core.funnel.segments import SIZE_BANDS, Filters
from core.rejections.catalogue import catalogue, map_spelling, unknown_reasons
from core.rejections.explorer import explorer_anchor, explorer_range, report
from core.rejections.scope import RejectionQuery
from core.settings import current


def register(commands: Commands) -> None:
    rejections = commands.add_parser("rejections", help="why sales rejected leads: reasons, streaks, owners")
    rejections.add_argument("--from", dest="first_day", type=date, help="default: the last 13 complete weeks")
    rejections.add_argument("--to", dest="last_day", type=date)
    for flag, help_text in (
        ("--source", "filter; repeat for several"),
        ("--campaign", None),
        ("--segment", None),
        ("--owner", None),
        ("--industry", None),
        ("--size", f"company-size band: {', '.join(name for name, _, _ in SIZE_BANDS)}, unknown"),
    ):
        rejections.add_argument(flag, action="append", default=[], help=help_text)
    rejections.add_argument("--json", action="store_true", help="the whole report as JSON")
    rejections.set_defaults(run=_rejections)

    reasons = commands.add_parser("reasons", help="the rejection-reason catalogue")
    reason_commands = reasons.add_subparsers(dest="reasons_command", required=True)
    reason_commands.add_parser("list", help="canonical reasons and their spellings").set_defaults(run=_list)
    reason_commands.add_parser("unmapped", help="typed reasons the catalogue does not know, with counts").set_defaults(
        run=_unmapped
    )
    mapper = reason_commands.add_parser("map", help="make a typed spelling mean a canonical reason")
    mapper.add_argument("spelling")
    mapper.add_argument("reason", help="the canonical reason's name")
    mapper.add_argument("--actor")
    mapper.set_defaults(run=_map)


def _rejections(engine: Engine, args: argparse.Namespace) -> int:
    today = current(engine).today()
    first, last = explorer_range("last_13_weeks", explorer_anchor(engine, "last_13_weeks", today))
    filters = Filters(
        sources=tuple(args.source),
        segments=tuple(args.segment),
        owners=tuple(args.owner),
        campaigns=tuple(args.campaign),
        industries=tuple(args.industry),
        size_bands=tuple(args.size),
    )
    result = report(engine, RejectionQuery(args.first_day or first, args.last_day or last, filters), today)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    summary = result["overview"]
    share = summary["unqualified_share"]
    print(f"{result['first_day']} to {result['last_day']}")
    print(
        f"unqualified share {'no data' if share is None else f'{share:.1%}'} (gate {summary['rejection_gate']:.0%}); "
        f"{summary['rejected']} rejections logged, {summary['no_reason']} without a reason, "
        f"{summary['premature']} before {summary['min_touch_attempts']} attempts, {summary['unmapped']} unmapped"
    )
    for row in result["reasons"]:
        print(f"  {row['rejections']:>7,}  {row['share']:6.1%}  {row['reason']}")
    for streak in result["streaks"]:
        print(f"streak: {streak['reason']} topped {len(streak['weeks'])} weeks from {streak['weeks'][0]}")
    for profile in result["top_reasons"]:
        for sentence in profile["stands_out"]:
            print(f"in common: {sentence}")
    return 0


def _list(engine: Engine, args: argparse.Namespace) -> int:
    for reason in catalogue(engine):
        print(f"{reason.name} [{reason.category}]: {', '.join(reason.synonyms)}")
    return 0


def _unmapped(engine: Engine, args: argparse.Namespace) -> int:
    for row in unknown_reasons(engine).itertuples(index=False):
        print(f"{row.leads:>7,}  {row.example}")
    return 0


def _map(engine: Engine, args: argparse.Namespace) -> int:
    by_name = {reason.name.casefold(): reason for reason in catalogue(engine)}
    target = by_name.get(args.reason.casefold())
    if target is None:
        print(f"error: no reason named {args.reason!r}; see `python -m core reasons list`", file=sys.stderr)
        return BAD_INPUT
    key, was = map_spelling(engine, actor(args), args.spelling, target.id)
    print(f"{key!r} now means {target.name!r}" + (f" (it meant {was!r} before)" if was and was != target.name else ""))
    return 0
