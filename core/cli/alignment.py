"""Alignment: the misalignment self-diagnostic (survey rounds, results) and the weekly sync."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from core.alignment import agenda, sync
from core.alignment.diagnostic.questions import LEVELS, TEAMS
from core.alignment.diagnostic.report import as_dict, diagnose, summary_markdown
from core.alignment.diagnostic.results import ResultsView
from core.alignment.diagnostic.survey import close_round, closed_rounds, import_round, open_round, open_round_on, rounds
from core.cli.common import BAD_INPUT, Commands, actor, date, missing
from core.settings import current


def register(commands: Commands) -> None:
    _register_survey(commands)
    _register_sync(commands)


def _register_survey(commands: Commands) -> None:
    survey = commands.add_parser("survey", help="the misalignment self-diagnostic")
    survey_commands = survey.add_subparsers(dest="survey_command", required=True)
    survey_commands.add_parser("rounds", help="every round, with its dates, status and number of answers").set_defaults(
        run=_rounds
    )
    opener = survey_commands.add_parser("open", help="open a round for everyone to answer")
    opener.add_argument("name")
    opener.add_argument("--opens", type=date, help="first day (default: today)")
    opener.add_argument("--closes", type=date, required=True, help="last day, included")
    opener.add_argument("--actor")
    opener.set_defaults(run=_open_round)
    closer = survey_commands.add_parser("close", help="close the open round now")
    closer.add_argument("--actor")
    closer.set_defaults(run=_close_round)
    importer = survey_commands.add_parser(
        "import", help="a past round from a CSV: respondent, team, level and one column per statement"
    )
    importer.add_argument("file", type=Path)
    importer.add_argument("--name", required=True)
    importer.add_argument("--opens", type=date, required=True)
    importer.add_argument("--closes", type=date, required=True)
    importer.add_argument("--actor")
    importer.set_defaults(run=_import_round)
    results = survey_commands.add_parser("results", help="a closed round's results, signs and action plan")
    results.add_argument("--round", help="the round's name (default: the latest closed round)")
    who = results.add_mutually_exclusive_group()
    who.add_argument("--team", choices=list(TEAMS))
    who.add_argument("--level", choices=list(LEVELS))
    shown_as = results.add_mutually_exclusive_group()
    shown_as.add_argument("--json", action="store_true")
    shown_as.add_argument("--markdown", action="store_true", help="the one-page summary (the default)")
    results.set_defaults(run=_results)


def _register_sync(commands: Commands) -> None:
    weekly = commands.add_parser("sync", help="the weekly sync: its agenda, the meeting record, the actions")
    weekly_commands = weekly.add_subparsers(dest="sync_command", required=True)
    for verb, text, run in (
        ("agenda", "the week's agenda with its numbers (and the meeting's record, if opened) as Markdown", _agenda),
        ("open", "open the week's meeting", _open_meeting),
        ("close", "close the week's meeting: its record becomes read-only", _close_meeting),
    ):
        sub = weekly_commands.add_parser(verb, help=text)
        sub.add_argument("--week", type=date, help="any day of the ISO week (default: this week)")
        sub.add_argument("--actor")
        sub.set_defaults(run=run)
    adder = weekly_commands.add_parser("add-action", help="an action for a team in the week's open meeting")
    adder.add_argument("--week", type=date)
    adder.add_argument("--team", required=True, choices=["marketing", "sales", "ops"])
    adder.add_argument("--text", required=True)
    adder.add_argument("--owner", required=True)
    adder.add_argument("--due", type=date, required=True)
    adder.add_argument("--actor")
    adder.set_defaults(run=_add_action)
    reviewer = weekly_commands.add_parser("review", help="mark an earlier week's open action in this week's meeting")
    reviewer.add_argument("action", type=int)
    reviewer.add_argument("decision", choices=["done", "carried over", "dropped"])
    reviewer.add_argument("--week", type=date)
    reviewer.add_argument("--actor")
    reviewer.set_defaults(run=_review_action)
    weekly_commands.add_parser("actions", help="every action across meetings, as a formula-safe CSV").set_defaults(
        run=_actions
    )


def _rounds(engine: Engine, args: argparse.Namespace) -> int:
    today = current(engine).today()
    for info in rounds(engine):
        print(f"{info.describe()}: {info.status(today)}, {info.respondents} answers")
    return 0


def _open_round(engine: Engine, args: argparse.Namespace) -> int:
    today = current(engine).today()
    info = open_round(engine, actor(args), args.name, args.opens or today, args.closes, today=today)
    print(f"opened {info.describe()}")
    return 0


def _close_round(engine: Engine, args: argparse.Namespace) -> int:
    today = current(engine).today()
    current_round = open_round_on(engine, today)
    if current_round is None:
        print("error: no round is open", file=sys.stderr)
        return BAD_INPUT
    print(f"closed {close_round(engine, actor(args), current_round.id, today=today).describe()}")
    return 0


def _import_round(engine: Engine, args: argparse.Namespace) -> int:
    if missing(args.file):
        return BAD_INPUT
    answers = pd.read_csv(args.file, dtype=str, keep_default_na=False)
    info = import_round(engine, actor(args), args.name, args.opens, args.closes, answers, today=current(engine).today())
    print(f"imported {info.respondents} answers as {info.describe()}")
    return 0


def _results(engine: Engine, args: argparse.Namespace) -> int:
    today = current(engine).today()
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


def _week(engine: Engine, args: argparse.Namespace) -> dt.date:
    return args.week or current(engine).today()


def _agenda(engine: Engine, args: argparse.Namespace) -> int:
    week = _week(engine, args)
    meeting = sync.meeting_for(engine, week)
    plan = agenda.agenda(engine, week)
    if meeting is None:
        print(f"# Weekly sync: {plan.label} (not opened)")
        for section in agenda.SECTIONS:
            print(f"\n## {section.title} ({section.minutes} min)\n")
            for line in section.lines(plan):
                print(f"- {line}")
    else:
        print(sync.meeting_markdown(meeting, plan), end="")
    for action in sync.open_from_before(engine, week):
        print(f"open from the week of {action.week}: [{action.id}] {action.team}: {action.text} ({action.owner})")
    return 0


def _open_meeting(engine: Engine, args: argparse.Namespace) -> int:
    print(f"meeting of the week of {sync.open_meeting(engine, actor(args), _week(engine, args)).week} is open")
    return 0


def _opened(engine: Engine, args: argparse.Namespace) -> sync.MeetingInfo | None:
    """The week's meeting, or None with the error said: closing it and its actions need it opened."""
    meeting = sync.meeting_for(engine, _week(engine, args))
    if meeting is None:
        print("error: that week's meeting is not open; `python -m core sync open` first", file=sys.stderr)
    return meeting


def _close_meeting(engine: Engine, args: argparse.Namespace) -> int:
    if (meeting := _opened(engine, args)) is None:
        return BAD_INPUT
    sync.close_meeting(engine, actor(args), meeting.id)
    print(f"closed the meeting of the week of {meeting.week}")
    return 0


def _add_action(engine: Engine, args: argparse.Namespace) -> int:
    if (meeting := _opened(engine, args)) is None:
        return BAD_INPUT
    action = sync.add_action(engine, actor(args), meeting.id, args.team, args.text, args.owner, args.due)
    print(f"action {action.id} added for {action.team}")
    return 0


def _review_action(engine: Engine, args: argparse.Namespace) -> int:
    if (meeting := _opened(engine, args)) is None:
        return BAD_INPUT
    sync.review_action(engine, actor(args), meeting.id, args.action, args.decision)
    print(f"action {args.action} marked {args.decision}")
    return 0


def _actions(engine: Engine, args: argparse.Namespace) -> int:
    sys.stdout.write(sync.actions_csv(engine).decode("utf-8"))
    return 0
