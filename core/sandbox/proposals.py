"""Turning a trial's knobs into proposed definitions, each carrying the trial's figures as its evidence; the
signers then read that evidence beside the proposal (the Definitions page, the CLI)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine

from core import formatting
from core.definitions import versions
from core.definitions.rules import SlaRules, validate_rules
from core.definitions.versions import VersionInfo
from core.permissions import Actor
from core.sandbox.outcome import Knobs, Outcome, active_knobs, outcome
from core.sandbox.trials import SandboxError, TrialInfo, get_trial, may_use

# What a trial may propose, in the order proposals are made, and the rules each takes from the knobs.
KIND_RULES: dict[str, Callable[[Knobs], Any]] = {"icp": Knobs.icp, "mql": Knobs.mql, "sla": Knobs.sla}
PROPOSABLE = tuple(KIND_RULES)
KIND_LABELS = {"icp": "ICP (company-size range)", "mql": "MQL rule", "sla": "SLA (hours and gates)"}
# The knobs each definition kind owns: proposing a kind takes these from the knobs, the rest from what is in force.
KIND_KNOBS = {
    "icp": ("company_size_min", "company_size_max", "industries", "countries"),
    "mql": ("score_threshold", "icp_fit_required", "seniorities", "intent_signals", "departments"),
    "sla": ("sla_hours", "sla_business_hours", "conversion_gate", "rejection_gate"),
}


def changed_kinds(knobs: Knobs, baseline: Knobs) -> tuple[str, ...]:
    """Which definitions the knobs differ from: what a proposal would change."""
    return tuple(kind for kind, rules in KIND_RULES.items() if rules(knobs) != rules(baseline))


def default_note(trial: TrialInfo, before: Outcome, after: Outcome) -> str:
    """The proposal's text until the proposer writes their own: what the knobs did on the trial."""
    return (
        f"Tried in the sandbox on {trial.describe()}: conversion {formatting.percent(before.conversion)} → "
        f"{formatting.percent(after.conversion)}, {formatting.count(before.mqls_per_month)} → "
        f"{formatting.count(after.mqls_per_month)} MQLs a month."
    )


def _figures(result: Outcome) -> dict[str, Any]:
    def rounded(value: float, digits: int) -> float | None:
        return None if math.isnan(value) else round(value, digits)

    return {
        "mqls": result.mqls,
        "mqls_per_month": rounded(result.mqls_per_month, 1),
        "mql_to_sql": rounded(result.conversion, 4),
        "rejection_share": rounded(result.rejection_share, 4),
        "lost_sqls": result.lost_sqls,
        "saved_rejections": result.saved_rejections,
        "sla_compliance": rounded(result.sla_compliance, 4),
        "reps_needed": rounded(result.reps_needed, 1),
    }


def evidence(trial: TrialInfo, knobs: Knobs, before: Outcome, after: Outcome) -> dict[str, Any]:
    """The trial's figures, attached to a proposal so that the signers see what it was tried on."""
    return {
        "source": "sandbox",
        "trial": trial.describe(),
        "trial_source": trial.source,
        "file": trial.file_name,
        "leads": trial.rows,
        "period": [str(trial.first_day), str(trial.last_day)] if trial.first_day and trial.last_day else None,
        "knobs": {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(knobs).items()},
        "active_definition": _figures(before),
        "proposed": _figures(after),
    }


def propose_from_trial(
    engine: Engine, actor: Actor, trial_id: int, knobs: Knobs, kinds: tuple[str, ...], prose: str = ""
) -> list[VersionInfo]:
    """Turns the knobs into proposed versions of `kinds` (icp, mql, sla), each with the trial's figures as its
    evidence; they then go through sign-off like any proposal."""
    may_use(actor)
    if not kinds:
        raise SandboxError("pick what to propose: the MQL rule, the ICP's size range, the SLA, or several")
    unknown = sorted(set(kinds) - set(PROPOSABLE))
    if unknown:
        raise SandboxError(f"the sandbox proposes {', '.join(PROPOSABLE)}, not {', '.join(unknown)}")
    trial = get_trial(engine, actor, trial_id)
    baseline = active_knobs(engine)
    unchanged = [kind for kind in kinds if kind not in changed_kinds(knobs, baseline)]
    if unchanged:
        raise SandboxError(f"the knobs leave {', '.join(unchanged)} as in force: there is nothing to propose for it")
    # The evidence is for what is proposed: the picked kinds' knobs, everything else as in force.
    proposed_knobs = dataclasses.replace(
        baseline, **{name: getattr(knobs, name) for kind in kinds for name in KIND_KNOBS[kind]}
    )
    before = outcome(engine, actor, trial_id, baseline, "Active definition")
    attached = evidence(trial, proposed_knobs, before, outcome(engine, actor, trial_id, proposed_knobs))
    sla_version = versions.active(engine, "sla")
    rules = {
        "icp": knobs.icp().model_dump(),
        "mql": knobs.mql().model_dump(),
        "sla": knobs.sla(SlaRules.model_validate(sla_version.rules) if sla_version else None).model_dump(),
    }
    for kind in kinds:  # every version is checked before any is proposed
        validate_rules(kind, rules[kind])
    note = prose.strip() or f"Tried in the sandbox on {trial.describe()}."
    proposed = []
    for kind in PROPOSABLE:
        if kind in kinds:
            in_force = versions.active(engine, kind)
            based_on = in_force.id if in_force else None
            proposed.append(
                versions.propose(engine, actor, kind, rules[kind], note, based_on=based_on, evidence=attached)
            )
    return proposed


# The figures of a proposal's evidence as people read them: label and format, by the evidence's machine key.
EVIDENCE_FIGURES: dict[str, tuple[str, Callable[[Any], str]]] = {
    "mqls": ("MQLs", formatting.count),
    "mqls_per_month": ("MQLs per month", formatting.decimal),
    "mql_to_sql": ("MQL→SQL conversion", formatting.percent),
    "rejection_share": ("Rejection share", formatting.percent),
    "lost_sqls": ("SQLs it would have lost", formatting.count),
    "saved_rejections": ("Rejected leads it would have kept from sales", formatting.count),
    "sla_compliance": ("SLA compliance", formatting.percent),
    "reps_needed": ("Reps needed for first responses", formatting.decimal),
}


def evidence_rows(attached: dict[str, Any]) -> list[tuple[str, str, str]]:
    """A proposal's sandbox evidence as (figure, under the active definition, under the proposal) for display."""
    before, after = attached.get("active_definition", {}), attached.get("proposed", {})
    return [(label, shown(before.get(key)), shown(after.get(key))) for key, (label, shown) in EVIDENCE_FIGURES.items()]
