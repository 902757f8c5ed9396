"""The definitions as people read them: a version's rules in sentences, two versions side by side, who
signed what, and the history of every version. Rule keys read as their labels (core.vocabulary), gates as percentages,
yes or no for a switch, people's names for user names, and a missing value as MISSING.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from core.definitions.rules import RULES, IcpRules, MqlRules, SlaRules, SqlRules, Stage, StagesRules
from core.definitions.versions import Signoff, VersionInfo
from core.formatting import MISSING, percent
from core.vocabulary import person, rule_label, seniority_name, value_name

STATE_NAMES: dict[str, str] = {
    "draft": "draft",
    "proposed": "proposed",
    "active": "in force",
    "superseded": "superseded",
    "rejected": "rejected",
}


def _listed(values: list[str], empty: str = "any") -> str:
    return ", ".join(values) if values else empty


def _signals(values: list[str]) -> str:
    """Intent signals are the CRM's keys ("demo_request"): read as words."""
    return _listed([value_name(value) for value in values], "none")


def _size(icp: IcpRules) -> str:
    low, high = icp.company_size_min, icp.company_size_max
    if low is not None and high is not None:
        return f"{low:,}–{high:,} employees"
    if low is not None:
        return f"at least {low:,} employees"
    return f"at most {high:,} employees" if high is not None else "any size"


def _stage(stage: Stage) -> str:
    return (
        stage.name
        + (f" — enters when {stage.entry}" if stage.entry else "")
        + (f"; leaves when {stage.exit}" if stage.exit else "")
    )


def describe(kind: str, rules: dict[str, Any]) -> list[str]:
    """A version's rules as the sentences a person reads on the one-pager. A stage's line does not carry its
    number: a page shows the stages as the numbered list they are."""
    if kind == "icp":
        icp = IcpRules.model_validate(rules)
        return [
            f"Company size: {_size(icp)}",
            f"Industries: {_listed(icp.industries)}",
            f"Countries: {_listed(icp.countries)}",
        ]
    if kind == "mql":
        mql = MqlRules.model_validate(rules)
        signal = f"Score of {mql.score_threshold} or more"
        if mql.intent_signals:
            signal += f", or an intent signal: {_signals(mql.intent_signals)}"
        return [
            signal,
            "Must fit the ICP" if mql.icp_fit_required else "ICP fit not required",
            f"Seniority: {_listed([seniority_name(item) for item in mql.seniorities])}",
            f"Department: {_listed(mql.departments)}",
        ]
    if kind == "sql":
        return [f"Sales confirms: {criterion}" for criterion in SqlRules.model_validate(rules).criteria]
    if kind == "stages":
        return [_stage(stage) for stage in StagesRules.model_validate(rules).stages]
    sla = SlaRules.model_validate(rules)
    return [
        f"First response within {sla.response_hours:g} {'business' if sla.business_hours else 'calendar'} hours",
        f"At least {sla.min_touch_attempts} touch attempts over {sla.min_touch_days} days before a rejection",
        f"MQL→SQL conversion gate {percent(sla.conversion_gate)}; rejection-share gate {percent(sla.rejection_gate)}",
        "Monthly MQL target: "
        + (f"{sla.monthly_mql_target:,}" if sla.monthly_mql_target is not None else "from the targets table"),
        f"Reviewed every {sla.review_interval_days} days",
    ]


def _anything(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return _listed([str(item) for item in value])
    return MISSING if value is None else str(value)


def _size_bound(value: int | None) -> str:
    return "any" if value is None else f"{value:,}"


# How a rule's stored value reads beside another version's, where it differs from `_anything`.
SHOWN: dict[str, Callable[[Any], str]] = {
    "company_size_min": _size_bound,
    "company_size_max": _size_bound,
    "seniorities": lambda values: _listed([seniority_name(item) for item in values]),
    "intent_signals": _signals,
    "criteria": lambda values: _listed(values, MISSING),
    "stages": lambda stages: " → ".join(_stage(Stage.model_validate(stage)) for stage in stages) or MISSING,
    "response_hours": lambda value: f"{value:g}",
    "monthly_mql_target": lambda value: "from the targets table" if value is None else f"{value:,}",
    "conversion_gate": percent,
    "rejection_gate": percent,
}


def diff(kind: str, left: dict[str, Any], right: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(rule, left value, right value, changed) for every rule of two versions of one kind, as people read
    them; "changed" compares the stored values."""
    model = RULES[kind]
    a, b = model.model_validate(left).model_dump(mode="json"), model.model_validate(right).model_dump(mode="json")
    return [
        (rule_label(name), SHOWN.get(name, _anything)(a[name]), SHOWN.get(name, _anything)(b[name]), a[name] != b[name])
        for name in model.model_fields
    ]


def _day(moment: dt.datetime) -> str:
    return f"{moment:%d %b %Y}"


def signoff_text(signoff: Signoff, names: Mapping[str, str]) -> str:
    """ "Morgan Lee (marketing) approved revision 1", with a rejection's comment."""
    verb = "approved" if signoff.decision == "approve" else "rejected"
    said = f": {signoff.comment}" if signoff.comment else ""
    return f"{person(signoff.signer, names)} ({signoff.side}) {verb} revision {signoff.revision}{said}"


def sign_status(version: VersionInfo) -> str:
    """Where the current revision stands with each lead."""
    sides = version.approved_by()
    return " · ".join(f"{side} lead: {'approved' if side in sides else 'not yet'}" for side in ("marketing", "sales"))


def approvers(version: VersionInfo, names: Mapping[str, str]) -> str:
    """Who signed the revision that came into force."""
    return ", ".join(
        f"{person(s.signer, names)} ({s.side})"
        for s in version.signoffs
        if s.decision == "approve" and s.revision == version.revision
    )


def history(every: list[VersionInfo], names: Mapping[str, str]) -> list[tuple[str, str]]:
    """Every version as (its label, one line of the history: state, who proposed it when, when it was in force
    or closed, each sign-off); a line, not a table row, so that it reads on a phone too."""
    lines = []
    for v in every:
        parts = [STATE_NAMES[v.state], f"proposed by {person(v.author, names)} on {_day(v.created_at)}"]
        if v.activated_at is not None:
            parts.append(f"in force from {_day(v.activated_at)}")
        if v.closed_at is not None:
            parts.append(f"closed {_day(v.closed_at)}")
        if v.signoffs:
            parts.append("; ".join(signoff_text(s, names) for s in v.signoffs))
        lines.append((v.label, " · ".join(parts)))
    return lines
