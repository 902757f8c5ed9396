"""`python -m core …`: everything the app does with data, without Streamlit.

Exit codes: 0 success, 2 bad input (with the report on stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import getpass
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from core.admin.seed import SAMPLE_DIR, seed_sample_data
from core.admin.users import FAILURE_WINDOW, UserError, create_user, unlock
from core.alignment import sync
from core.alignment.diagnostic import (
    LEVELS,
    TEAMS,
    ResultsView,
    as_dict,
    close_round,
    closed_rounds,
    diagnose,
    import_round,
    open_round,
    open_round_on,
    rounds,
    summary_markdown,
)
from core.db import open_database, read_scope
from core.formats import KINDS
from core.funnel import scoreboard
from core.funnel.kpis import GROUP_BYS, SIZE_BANDS, Filters, KpiQuery, kpi_records, kpi_table
from core.imports.importer import ImportRefused, import_csv
from core.imports.mapping import Mapping, MappingError, find_mapping, load_mapping_file, preset_names
from core.periods import GRAINS
from core.permissions import ROLES, Actor, PermissionDenied
from core.rejections.catalogue import catalogue, map_spelling, unknown_reasons
from core.rejections.explorer import RejectionQuery, explorer_anchor, explorer_range, report
from core.sandbox.trials import (
    Knobs,
    active_knobs,
    curve,
    delete_trial,
    evidence,
    evidence_rows,
    get_trial,
    outcome,
    propose_from_trial,
    stored_trial,
    trials,
    upload_trial,
)
from core.settings import current

BAD_INPUT = 2


def _actor(args: argparse.Namespace) -> Actor:
    # A shell on the server can reach the database anyway: the command line acts as an admin.
    return Actor(getattr(args, "actor", None) or f"cli:{getpass.getuser()}", "admin")


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date; expected YYYY-MM-DD") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="OneFunnel data spine")
    parser.add_argument("--database-url", help="default: DATABASE_URL or the SQLite file under data/")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("init-db", help="create or upgrade the database schema")
    commands.add_parser(
        "migrate", help="upgrade the schema to the newest revision (run once per deploy before starting replicas)"
    )

    importer = commands.add_parser("import", help="import a CSV file (all or nothing)")
    importer.add_argument("kind", choices=sorted(KINDS))
    importer.add_argument("file", type=Path)
    source = importer.add_mutually_exclusive_group()
    source.add_argument("--mapping", type=Path, help="a mapping file (YAML or JSON)")
    source.add_argument("--preset", help=f"a saved mapping (Data page) or a preset: {', '.join(preset_names())}")
    importer.add_argument("--sheet", help="the sheet of an Excel workbook to import (default: its first)")
    importer.add_argument("--dry-run", action="store_true", help="validate and report without writing")
    importer.add_argument("--actor", help="who is importing (recorded in the import history)")

    seed = commands.add_parser("seed", help="load the sample data and put its signed definitions in force (idempotent)")
    seed.add_argument(
        "--dir",
        type=Path,
        default=SAMPLE_DIR,
        help="folder with the five canonical CSVs and, optionally, definitions.yaml",
    )
    seed.add_argument("--actor")
    seed.add_argument(
        "--no-definitions",
        action="store_true",
        help="only the data: do not put the folder's definitions.yaml in force",
    )
    seed.add_argument(
        "--no-survey", action="store_true", help="do not load the folder's survey.csv or open a survey round"
    )

    kpis = commands.add_parser("kpis", help="print the KPI table")
    kpis.add_argument(
        "--from", dest="first_day", type=_date, help="first day (default: start of the last complete month)"
    )
    kpis.add_argument("--to", dest="last_day", type=_date, help="last day (default: end of the last complete month)")
    kpis.add_argument(
        "--grain",
        choices=[*GRAINS, "range"],
        default="month",
        help='"range": the whole range as one period, as the scoreboard counts a custom range',
    )
    kpis.add_argument("--by", choices=GROUP_BYS)
    _view_arguments(kpis)
    kpis.add_argument("--json", action="store_true", help="one JSON object per period and group")

    board = commands.add_parser(
        "scoreboard", help="the scoreboard's headlines, flags and funnel, as the page shows them"
    )
    board.add_argument("--period", choices=list(scoreboard.PERIOD_PRESETS), default="last_month")
    board.add_argument("--from", dest="first_day", type=_date, help="with --period custom")
    board.add_argument("--to", dest="last_day", type=_date, help="with --period custom")
    _view_arguments(board)
    board.add_argument("--json", action="store_true", help="as JSON (default: the page's Markdown summary)")

    rejections = commands.add_parser("rejections", help="why sales rejected leads: reasons, streaks, owners")
    rejections.add_argument("--from", dest="first_day", type=_date, help="default: the last 13 complete weeks")
    rejections.add_argument("--to", dest="last_day", type=_date)
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

    reasons = commands.add_parser("reasons", help="the rejection-reason catalogue")
    reason_commands = reasons.add_subparsers(dest="reasons_command", required=True)
    reason_commands.add_parser("list", help="canonical reasons and their spellings")
    reason_commands.add_parser("unmapped", help="typed reasons the catalogue does not know, with counts")
    mapper = reason_commands.add_parser("map", help="make a typed spelling mean a canonical reason")
    mapper.add_argument("spelling")
    mapper.add_argument("reason", help="the canonical reason's name")
    mapper.add_argument("--actor")

    survey = commands.add_parser("survey", help="the misalignment self-diagnostic")
    survey_commands = survey.add_subparsers(dest="survey_command", required=True)
    survey_commands.add_parser("rounds", help="every round, with its dates, status and number of answers")
    opener = survey_commands.add_parser("open", help="open a round for everyone to answer")
    opener.add_argument("name")
    opener.add_argument("--opens", type=_date, help="first day (default: today)")
    opener.add_argument("--closes", type=_date, required=True, help="last day, included")
    opener.add_argument("--actor")
    closer = survey_commands.add_parser("close", help="close the open round now")
    closer.add_argument("--actor")
    survey_import = survey_commands.add_parser(
        "import", help="a past round from a CSV: respondent, team, level and one column per statement"
    )
    survey_import.add_argument("file", type=Path)
    survey_import.add_argument("--name", required=True)
    survey_import.add_argument("--opens", type=_date, required=True)
    survey_import.add_argument("--closes", type=_date, required=True)
    survey_import.add_argument("--actor")
    survey_results = survey_commands.add_parser("results", help="a closed round's results, signs and action plan")
    survey_results.add_argument("--round", help="the round's name (default: the latest closed round)")
    who = survey_results.add_mutually_exclusive_group()
    who.add_argument("--team", choices=list(TEAMS))
    who.add_argument("--level", choices=list(LEVELS))
    survey_format = survey_results.add_mutually_exclusive_group()
    survey_format.add_argument("--json", action="store_true")
    survey_format.add_argument("--markdown", action="store_true", help="the one-page summary (the default)")

    sandbox = commands.add_parser("sandbox", help="try thresholds on a private copy of leads, then propose them")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    sandbox_commands.add_parser("list", help="your trials")
    uploaded = sandbox_commands.add_parser("upload", help="a new trial from a leads CSV (validated like an import)")
    uploaded.add_argument("file", type=Path)
    uploaded.add_argument("--name", required=True)
    uploaded_mapping = uploaded.add_mutually_exclusive_group()
    uploaded_mapping.add_argument("--mapping", type=Path, help="a mapping file (YAML or JSON)")
    uploaded_mapping.add_argument("--preset", help="a saved mapping (Data page) or a preset")
    uploaded.add_argument("--sheet", help="the sheet of an Excel workbook (default: its first)")
    stored = sandbox_commands.add_parser("stored", help="a new trial from the stored leads created in a period")
    stored.add_argument("--name", required=True)
    stored.add_argument("--from", dest="first_day", type=_date, required=True)
    stored.add_argument("--to", dest="last_day", type=_date, required=True)
    for verb, text in (
        ("outcome", "the knobs' outcome beside the definition in force"),
        ("propose", "propose the knobs"),
    ):
        knobbed = sandbox_commands.add_parser(verb, help=text)
        knobbed.add_argument("trial", type=int)
        knobbed.add_argument("--threshold", type=int, help="MQL score threshold (default: the definition in force)")
        knobbed.add_argument("--sla-hours", type=float)
        knobbed.add_argument("--calendar-hours", action="store_true", help="count the SLA in calendar hours")
        knobbed.add_argument("--icp-fit", choices=["yes", "no"])
        knobbed.add_argument("--size-min", type=int)
        knobbed.add_argument("--size-max", type=int)
        if verb == "outcome":
            knobbed.add_argument("--json", action="store_true")
        else:
            knobbed.add_argument("--kinds", nargs="+", choices=["icp", "mql", "sla"], required=True)
            knobbed.add_argument("--why", default="")
    deleted = sandbox_commands.add_parser("delete", help="delete a trial and its copied leads")
    deleted.add_argument("trial", type=int)
    for sub in sandbox_commands.choices.values():
        sub.add_argument("--actor", help="whose trials (default: cli:<your login>)")

    weekly = commands.add_parser("sync", help="the weekly sync: its agenda, the meeting record, the actions")
    weekly_commands = weekly.add_subparsers(dest="sync_command", required=True)
    for verb, text in (
        ("agenda", "the week's agenda with its numbers (and the meeting's record, if opened) as Markdown"),
        ("open", "open the week's meeting"),
        ("close", "close the week's meeting: its record becomes read-only"),
    ):
        sub = weekly_commands.add_parser(verb, help=text)
        sub.add_argument("--week", type=_date, help="any day of the ISO week (default: this week)")
        sub.add_argument("--actor")
    adder = weekly_commands.add_parser("add-action", help="an action for a team in the week's open meeting")
    adder.add_argument("--week", type=_date)
    adder.add_argument("--team", required=True, choices=["marketing", "sales", "ops"])
    adder.add_argument("--text", required=True)
    adder.add_argument("--owner", required=True)
    adder.add_argument("--due", type=_date, required=True)
    adder.add_argument("--actor")
    reviewer = weekly_commands.add_parser("review", help="mark an earlier week's open action in this week's meeting")
    reviewer.add_argument("action", type=int)
    reviewer.add_argument("decision", choices=["done", "carried over", "dropped"])
    reviewer.add_argument("--week", type=_date)
    reviewer.add_argument("--actor")
    weekly_commands.add_parser("actions", help="every action across meetings, as a formula-safe CSV")

    commands.add_parser("presets", help="list the shipped mapping presets")

    create_user = commands.add_parser(
        "create-user", help="create a user (the first admin of a deployment); the password is read without echo"
    )
    create_user.add_argument("--username", required=True)
    create_user.add_argument("--name", required=True)
    create_user.add_argument("--email", required=True)
    create_user.add_argument("--role", required=True, choices=ROLES)
    create_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input (for scripts)"
    )
    unlock_user = commands.add_parser(
        "unlock-user",
        help=f"lift a sign-in lockout: clears the user's wrong passwords of the last "
        f"{FAILURE_WINDOW.seconds // 60} minutes (audited)",
    )
    unlock_user.add_argument("--username", required=True)
    unlock_user.add_argument("--actor")
    return parser


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != first:
        raise UserError("the two passwords differ")
    return first


def _create_user(engine: Engine, args: argparse.Namespace) -> int:
    user = create_user(
        engine,
        _actor(args),
        username=args.username,
        name=args.name,
        email=args.email,
        role=args.role,
        password=_read_password(args.password_stdin),
    )
    print(f"created {user.username} ({user.role})")
    return 0


def _unlock_user(engine: Engine, args: argparse.Namespace) -> int:
    cleared = unlock(engine, _actor(args), args.username)
    print(f"unlocked {args.username.strip().lower()}: {cleared} wrong passwords cleared")
    return 0


def _view_arguments(parser: argparse.ArgumentParser) -> None:
    """The filters and as-of moment that the KPI table and the scoreboard share."""
    parser.add_argument("--source", action="append", default=[], help="filter; repeat for several")
    parser.add_argument("--segment", action="append", default=[])
    parser.add_argument("--owner", action="append", default=[])
    parser.add_argument("--campaign", action="append", default=[])
    parser.add_argument("--as-of", type=dt.datetime.fromisoformat, help="UTC moment for pending SLAs (default now)")


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    engine = open_database(args.database_url)
    try:
        if args.command in ("init-db", "migrate"):
            print(f"database ready at {engine.url.render_as_string(hide_password=True)}")
            return 0
        if args.command == "presets":
            for name in preset_names():
                print(name)
            return 0
        if args.command == "import":
            return _import(engine, args)
        if args.command == "seed":
            seeded = seed_sample_data(
                engine,
                args.dir,
                actor=_actor(args),
                with_definitions=not args.no_definitions,
                with_survey=not args.no_survey,
            )
            for line in seeded.summaries():
                print(line)
            return 0
        handlers = {
            "kpis": _kpis,
            "scoreboard": _scoreboard,
            "create-user": _create_user,
            "unlock-user": _unlock_user,
            "rejections": _rejections,
            "reasons": _reasons,
            "survey": _survey,
            "sandbox": _sandbox,
            "sync": _sync,
        }
        return handlers[args.command](engine, args)
    except ImportRefused as refused:
        print(refused.report(), file=sys.stderr)
        return BAD_INPUT
    except (MappingError, ValueError, PermissionDenied) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    finally:
        engine.dispose()
    return 0


def _missing(path: Path) -> bool:
    """True, with the error said, when a file named on the command line is not there."""
    if path.is_file():
        return False
    print(f"error: no such file {path}", file=sys.stderr)
    return True


def _chosen_mapping(engine: Engine, args: argparse.Namespace) -> Mapping | None:
    """The mapping named on the command line: a file, or a mapping saved on the Data page, or a preset."""
    if args.mapping:
        return load_mapping_file(args.mapping)
    if args.preset:
        with read_scope(engine) as session:
            return find_mapping(session, args.preset)
    return None


def _import(engine: Engine, args: argparse.Namespace) -> int:
    if _missing(args.file):
        return BAD_INPUT
    result = import_csv(
        engine,
        args.kind,
        args.file,
        actor=_actor(args),
        mapping=_chosen_mapping(engine, args),
        dry_run=args.dry_run,
        sheet=args.sheet,
    )
    print(result.summary())
    return 0


def _kpis(engine: Engine, args: argparse.Namespace) -> int:
    # The latest complete month with MQLs, as the Scoreboard opens on.
    default_first, default_last = scoreboard.view_range(engine, scoreboard.View(), current(engine).today())
    query = KpiQuery(
        first_day=args.first_day or default_first,
        last_day=args.last_day or default_last,
        grain=args.grain,
        by=args.by,
        filters=Filters(tuple(args.source), tuple(args.segment), tuple(args.owner), tuple(args.campaign)),
        as_of=args.as_of,
    )
    table = kpi_table(engine, query)
    if args.json:
        print(json.dumps(kpi_records(table), indent=2))
    else:
        shown = table[
            [
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
            ]
        ]
        print(shown.to_string(index=False, float_format=lambda value: f"{value:,.3f}"))
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
    view = scoreboard.View(
        preset=args.period,
        custom=custom,
        filters=Filters(tuple(args.source), tuple(args.segment), tuple(args.owner), tuple(args.campaign)),
    )
    board = scoreboard.read_board(engine, view, current(engine).today(), args.as_of)
    if args.json:
        print(json.dumps(board.as_dict(), indent=2))
        return 0
    compared = f"{board.compared_first:%d %b %Y} – {board.compared_last:%d %b %Y}"
    fresh = scoreboard.freshness(engine)
    print(scoreboard.summary_markdown(board.shown_period, compared, *board.parts(), fresh, view.filters))
    return 0


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


def _reasons(engine: Engine, args: argparse.Namespace) -> int:
    if args.reasons_command == "list":
        for reason in catalogue(engine):
            print(f"{reason.name} [{reason.category}]: {', '.join(reason.synonyms)}")
        return 0
    if args.reasons_command == "unmapped":
        for row in unknown_reasons(engine).itertuples(index=False):
            print(f"{row.leads:>7,}  {row.example}")
        return 0
    by_name = {reason.name.casefold(): reason for reason in catalogue(engine)}
    target = by_name.get(args.reason.casefold())
    if target is None:
        print(f"error: no reason named {args.reason!r}; see `python -m core reasons list`", file=sys.stderr)
        return BAD_INPUT
    key, was = map_spelling(engine, _actor(args), args.spelling, target.id)
    print(f"{key!r} now means {target.name!r}" + (f" (it meant {was!r} before)" if was and was != target.name else ""))
    return 0


def _survey(engine: Engine, args: argparse.Namespace) -> int:
    today = current(engine).today()
    if args.survey_command == "rounds":
        for info in rounds(engine):
            print(f"{info.describe()}: {info.status(today)}, {info.respondents} answers")
        return 0
    if args.survey_command == "open":
        info = open_round(engine, _actor(args), args.name, args.opens or today, args.closes, today=today)
        print(f"opened {info.describe()}")
        return 0
    if args.survey_command == "close":
        current_round = open_round_on(engine, today)
        if current_round is None:
            print("error: no round is open", file=sys.stderr)
            return BAD_INPUT
        print(f"closed {close_round(engine, _actor(args), current_round.id, today=today).describe()}")
        return 0
    if args.survey_command == "import":
        if _missing(args.file):
            return BAD_INPUT
        answers = pd.read_csv(args.file, dtype=str, keep_default_na=False)
        info = import_round(engine, _actor(args), args.name, args.opens, args.closes, answers, today=today)
        print(f"imported {info.respondents} answers as {info.describe()}")
        return 0
    closed = closed_rounds(engine, today)
    chosen = next((r for r in closed if r.name == args.round), None) if args.round else (closed[0] if closed else None)
    if chosen is None:
        print(f"error: no closed round {args.round or ''}; see `python -m core survey rounds`", file=sys.stderr)
        return BAD_INPUT
    outcome, readings, actions, window = diagnose(
        engine, chosen.id, ResultsView(team=args.team, level=args.level), today=today
    )
    if args.json:
        print(json.dumps(as_dict(outcome, readings, actions), indent=2))
    else:
        print(summary_markdown(outcome, readings, actions, window), end="")
    return 0


def _knobs(engine: Engine, args: argparse.Namespace) -> Knobs:
    knobs = active_knobs(engine)
    changes: dict[str, object] = {}
    if args.threshold is not None:
        changes["score_threshold"] = args.threshold
    if args.sla_hours is not None:
        changes["sla_hours"] = args.sla_hours
    if args.calendar_hours:
        changes["sla_business_hours"] = False
    if args.icp_fit is not None:
        changes["icp_fit_required"] = args.icp_fit == "yes"
    if args.size_min is not None:
        changes["company_size_min"] = args.size_min
    if args.size_max is not None:
        changes["company_size_max"] = args.size_max
    return dataclasses.replace(knobs, **changes)  # type: ignore[arg-type]


def _sandbox(engine: Engine, args: argparse.Namespace) -> int:
    actor = _actor(args)
    if args.sandbox_command == "list":
        for trial in trials(engine, actor):
            print(f"{trial.id:>5}  {trial.describe()}  [{trial.source}]")
        return 0
    if args.sandbox_command == "upload":
        if _missing(args.file):
            return BAD_INPUT
        with args.file.open("rb") as handle:
            made = upload_trial(
                engine,
                actor,
                args.name,
                handle,
                mapping=_chosen_mapping(engine, args),
                file_name=args.file.name,
                sheet=args.sheet,
            )
        print(f"trial {made.id}: {made.describe()}")
        return 0
    if args.sandbox_command == "stored":
        made = stored_trial(engine, actor, args.name, args.first_day, args.last_day)
        print(f"trial {made.id}: {made.describe()}")
        return 0
    if args.sandbox_command == "delete":
        delete_trial(engine, actor, args.trial)
        print(f"deleted trial {args.trial}")
        return 0
    knobs = _knobs(engine, args)
    if args.sandbox_command == "propose":
        versions = propose_from_trial(engine, actor, args.trial, knobs, tuple(args.kinds), args.why)
        print("proposed " + ", ".join(version.label for version in versions) + " with the trial's figures as evidence")
        return 0
    before = outcome(engine, actor, args.trial, active_knobs(engine), "Definition in force")
    after = outcome(engine, actor, args.trial, knobs)
    found = curve(engine, actor, args.trial, knobs)
    trial = get_trial(engine, actor, args.trial)
    report = evidence(trial, knobs, before, after) | {"recommended_threshold": found.recommended}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(trial.describe())
    for label, active, proposed in evidence_rows(report):
        print(f"  {label:<46} {active:>12} {proposed:>12}")
    print(f"recommended threshold at the {knobs.conversion_gate:.0%} gate: {found.recommended}")
    return 0


def _sync(engine: Engine, args: argparse.Namespace) -> int:
    if args.sync_command == "actions":
        sys.stdout.write(sync.actions_csv(engine).decode("utf-8"))
        return 0
    week = args.week or current(engine).today()
    actor = _actor(args)
    if args.sync_command == "agenda":
        meeting = sync.meeting_for(engine, week)
        plan = sync.agenda(engine, week)
        if meeting is None:
            print(f"# Weekly sync: {plan.label} (not opened)")
            for section in sync.SECTIONS:
                print(f"\n## {section.title} ({section.minutes} min)\n")
                for line in plan.section_lines(section.key):
                    print(f"- {line}")
        else:
            print(sync.meeting_markdown(meeting, plan), end="")
        for action in sync.open_from_before(engine, week):
            print(f"open from the week of {action.week}: [{action.id}] {action.team}: {action.text} ({action.owner})")
        return 0
    if args.sync_command == "open":
        print(f"meeting of the week of {sync.open_meeting(engine, actor, week).week} is open")
        return 0
    meeting = sync.meeting_for(engine, week)
    if meeting is None:
        print("error: that week's meeting is not open; `python -m core sync open` first", file=sys.stderr)
        return BAD_INPUT
    if args.sync_command == "close":
        sync.close_meeting(engine, actor, meeting.id)
        print(f"closed the meeting of the week of {meeting.week}")
    elif args.sync_command == "add-action":
        action = sync.add_action(engine, actor, meeting.id, args.team, args.text, args.owner, args.due)
        print(f"action {action.id} added for {action.team}")
    else:
        sync.review_action(engine, actor, meeting.id, args.action, args.decision)
        print(f"action {args.action} marked {args.decision}")
    return 0
