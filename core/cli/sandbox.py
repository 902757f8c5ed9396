"""The sandbox: trials of thresholds on a private copy of leads, their outcome, and proposing them."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from sqlalchemy import Engine

from core.cli.common import BAD_INPUT, Commands, actor, chosen_mapping, date, missing
from core.sandbox.outcome import Knobs, active_knobs, curve, outcome
from core.sandbox.proposals import evidence, evidence_rows, propose_from_trial
from core.sandbox.trials import delete_trial, get_trial, stored_trial, trials, upload_trial


def register(commands: Commands) -> None:
    sandbox = commands.add_parser("sandbox", help="try thresholds on a private copy of leads, then propose them")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    sandbox_commands.add_parser("list", help="your trials").set_defaults(run=_list)
    uploaded = sandbox_commands.add_parser("upload", help="a new trial from a leads CSV (validated like an import)")
    uploaded.add_argument("file", type=Path)
    uploaded.add_argument("--name", required=True)
    uploaded_mapping = uploaded.add_mutually_exclusive_group()
    uploaded_mapping.add_argument("--mapping", type=Path, help="a mapping file (YAML or JSON)")
    uploaded_mapping.add_argument("--preset", help="a saved mapping (Data page) or a preset")
    uploaded.add_argument("--sheet", help="the sheet of an Excel workbook (default: its first)")
    uploaded.set_defaults(run=_upload)
    stored = sandbox_commands.add_parser("stored", help="a new trial from the stored leads created in a period")
    stored.add_argument("--name", required=True)
    stored.add_argument("--from", dest="first_day", type=date, required=True)
    stored.add_argument("--to", dest="last_day", type=date, required=True)
    stored.set_defaults(run=_stored)
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
            knobbed.set_defaults(run=_outcome)
        else:
            knobbed.add_argument("--kinds", nargs="+", choices=["icp", "mql", "sla"], required=True)
            knobbed.add_argument("--why", default="")
            knobbed.set_defaults(run=_propose)
    deleted = sandbox_commands.add_parser("delete", help="delete a trial and its copied leads")
    deleted.add_argument("trial", type=int)
    deleted.set_defaults(run=_delete)
    for sub in sandbox_commands.choices.values():
        sub.add_argument("--actor", help="whose trials (default: cli:<your login>)")


def _list(engine: Engine, args: argparse.Namespace) -> int:
    for trial in trials(engine, actor(args)):
        print(f"{trial.id:>5}  {trial.describe()}  [{trial.source}]")
    return 0


def _upload(engine: Engine, args: argparse.Namespace) -> int:
    if missing(args.file):
        return BAD_INPUT
    with args.file.open("rb") as handle:
        made = upload_trial(
            engine,
            actor(args),
            args.name,
            handle,
            mapping=chosen_mapping(engine, args),
            file_name=args.file.name,
            sheet=args.sheet,
        )
    print(f"trial {made.id}: {made.describe()}")
    return 0


def _stored(engine: Engine, args: argparse.Namespace) -> int:
    made = stored_trial(engine, actor(args), args.name, args.first_day, args.last_day)
    print(f"trial {made.id}: {made.describe()}")
    return 0


def _delete(engine: Engine, args: argparse.Namespace) -> int:
    delete_trial(engine, actor(args), args.trial)
    print(f"deleted trial {args.trial}")
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


def _propose(engine: Engine, args: argparse.Namespace) -> int:
    versions = propose_from_trial(engine, actor(args), args.trial, _knobs(engine, args), tuple(args.kinds), args.why)
    print("proposed " + ", ".join(version.label for version in versions) + " with the trial's figures as evidence")
    return 0


def _outcome(engine: Engine, args: argparse.Namespace) -> int:
    who = actor(args)
    knobs = _knobs(engine, args)
    before = outcome(engine, who, args.trial, active_knobs(engine), "Definition in force")
    after = outcome(engine, who, args.trial, knobs)
    found = curve(engine, who, args.trial, knobs)
    trial = get_trial(engine, who, args.trial)
    report = evidence(trial, knobs, before, after) | {"recommended_threshold": found.recommended}
    if args.json:
        print(json.dumps(report, indent=2, default=str))
        return 0
    print(trial.describe())
    for label, active, proposed in evidence_rows(report):
        print(f"  {label:<46} {active:>12} {proposed:>12}")
    print(f"recommended threshold at the {knobs.conversion_gate:.0%} gate: {found.recommended}")
    return 0
