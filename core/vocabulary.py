"""Display names: what a person reads for a machine key. Owned here, once, for every page, the CLI's tables
and the Markdown exports; CSV and JSON keep the machine keys.

KPI columns, attribution models, rule keys, reason categories and filters have fixed names. Imported values
(sources, channels, campaigns) stay stored as imported; ops may give a source a display name
(`core.imports.display_names`), and any value without one is humanised ("content_syndication" reads
"Content syndication") rather than shown raw.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import Connection, Engine, select

from core.models import Setting, User
from core.sql import connection_of

DISPLAY_NAMES_KEY = "display_names"  # the settings row: {"sources": {stored value: display name}}

KPI_LABELS: dict[str, str] = {
    "period_start": "Period start",
    "period_end": "Period end",
    "group": "Group",
    "leads_created": "Leads created",
    "mqls": "MQLs",
    "mql_target": "MQL target",
    "mql_attainment": "MQL attainment",
    "sqls": "SQLs",
    "mql_to_sql": "MQL → SQL",
    "conversion_gate": "Conversion gate",
    "opportunity_mqls": "MQLs with an opportunity",
    "won_mqls": "MQLs won",
    "mql_to_won": "MQL → won",
    "dispositioned": "Dispositioned MQLs",
    "rejected": "Rejected",
    "rejection_share": "Rejection share",
    "rejection_gate": "Rejection gate",
    "rejected_no_reason": "Rejected without a reason",
    "sla_hours": "SLA hours",
    "sla_business_hours": "SLA in business hours",
    "sla_met": "SLA met",
    "sla_breached": "SLA breached",
    "sla_pending": "SLA pending",
    "sla_compliance": "SLA compliance",
    "responded": "Responded",
    "median_response_hours": "Median response",
    "complete_mqls": "Complete MQLs",
    "data_completeness": "Data completeness",
    "opportunities_created": "Opportunities created",
    "pipeline_created": "Pipeline created",
    "pipeline_marketing": "Marketing pipeline",
    "pipeline_sales": "Sales pipeline",
    "opportunities_without_amount": "Opportunities without an amount",
    "pipeline_target": "Pipeline target",
    "pipeline_attainment": "Pipeline attainment",
    "closed": "Closed",
    "won": "Won",
    "win_rate": "Win rate",
    "won_amount": "Won revenue",
    "median_cycle_days": "Median cycle",
    "mean_cycle_days": "Mean cycle",
    "pipeline_velocity_per_day": "Pipeline velocity per day",
}

# How each KPI column reads as a number; anything not listed is a count.
KPI_KINDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "mql_attainment",
            "mql_to_sql",
            "conversion_gate",
            "mql_to_won",
            "rejection_share",
            "rejection_gate",
            "sla_compliance",
            "data_completeness",
            "pipeline_attainment",
            "win_rate",
        ),
        "percent",
    ),
    **dict.fromkeys(
        (
            "pipeline_created",
            "pipeline_marketing",
            "pipeline_sales",
            "pipeline_target",
            "won_amount",
            "pipeline_velocity_per_day",
        ),
        "money",
    ),
    **dict.fromkeys(("median_response_hours", "sla_hours"), "hours"),
    **dict.fromkeys(("median_cycle_days", "mean_cycle_days"), "days"),
    **dict.fromkeys(("period_start", "period_end", "group", "sla_business_hours"), "text"),
}

MODEL_NAMES: dict[str, str] = {
    "first_touch": "First touch",
    "last_touch": "Last touch",
    "linear": "Linear",
    "u_shaped": "U-shaped",
    "time_decay": "Time decay",
}

FILTER_LABELS: dict[str, str] = {
    "sources": "Source",
    "segments": "Segment",
    "owners": "Owner",
    "campaigns": "Campaign",
    "industries": "Industry",
    "size_bands": "Company size",
}

RULE_LABELS: dict[str, str] = {
    "company_size_min": "Smallest company (employees)",
    "company_size_max": "Largest company (employees)",
    "industries": "Industries",
    "countries": "Countries",
    "icp_fit_required": "Must fit the ICP",
    "seniorities": "Seniorities",
    "departments": "Departments",
    "score_threshold": "Score threshold",
    "intent_signals": "Intent signals",
    "criteria": "Criteria",
    "stages": "Stages",
    "response_hours": "Response time (hours)",
    "business_hours": "Counted in business hours",
    "min_touch_attempts": "Touch attempts before rejecting",
    "min_touch_days": "Days of attempts before rejecting",
    "monthly_mql_target": "Monthly MQL target",
    "conversion_gate": "MQL → SQL gate",
    "rejection_gate": "Rejection share gate",
    "review_interval_days": "Review every (days)",
}

CATEGORY_LABELS: dict[str, str] = {
    "targeting": "Targeting",
    "qualification": "Qualification",
    "timing": "Timing",
    "follow_up": "Follow-up",
    "data": "Data quality",
    "none": "No reason given",
}

# A lead's fields as a person reads them: the rejected leads' list, the catalogue's "lead field it is about".
LEAD_FIELD_LABELS: dict[str, str] = {
    "lead_id": "Lead",
    "rejected_at": "Rejected at",
    "reason": "Reason",
    "typed_reason": "Reason as typed",
    "source": "Source",
    "campaign": "Campaign",
    "owner": "Owner",
    "company": "Company",
    "company_size": "Company size",
    "industry": "Industry",
    "country": "Country",
    "seniority": "Seniority",
    "score": "Score",
    "touch_attempts": "Touch attempts",
    "mql_at": "MQL at",
}

_SEPARATORS = re.compile(r"[_\s]+")
_PLUS = re.compile(r"(\d)plus\b")


def humanise(value: str) -> str:
    """A stored key as words: "content_syndication" -> "Content syndication"; a value that already reads
    as words ("LinkedIn Ads", "Webinar") is left as typed."""
    if "_" not in value and value != value.lower():
        return value
    words = _PLUS.sub(r"\1+", _SEPARATORS.sub(" ", value).strip())  # CRM keys spell "3+" as 3plus
    return words[:1].upper() + words[1:] if words else value


def kpi_label(key: str) -> str:
    return KPI_LABELS.get(key) or humanise(key)


def rule_label(key: str) -> str:
    return RULE_LABELS.get(key) or humanise(key)


def model_name(key: str) -> str:
    return MODEL_NAMES.get(key) or humanise(key)


def category_label(key: str) -> str:
    return CATEGORY_LABELS.get(key) or humanise(key)


# The seniorities a lead may carry (core.formats.SENIORITIES), as people say them.
SENIORITY_NAMES: dict[str, str] = {
    "ic": "Individual contributor",
    "manager": "Manager",
    "director": "Director",
    "vp": "VP",
    "cxo": "C-level",
}


def seniority_name(key: str) -> str:
    return SENIORITY_NAMES.get(key) or humanise(key)


def value_name(value: object, names: Mapping[str, str] | None = None) -> str:
    """An imported value (a source, a channel, a campaign) as people read it: ops' display name when they set
    one, else the value humanised when it is a machine key, else as imported."""
    if value is None:
        return "—"
    text = str(value)
    if names and text in names:
        return names[text]
    return humanise(text)


def display_names(target: Engine | Connection, field: str = "sources") -> dict[str, str]:
    """The display names ops set for one field's stored values (today: sources), stored value -> name."""
    with connection_of(target) as connection:
        stored = connection.execute(select(Setting.value).where(Setting.key == DISPLAY_NAMES_KEY)).scalar()
    if not isinstance(stored, dict):
        return {}
    names = stored.get(field)
    return {str(key): str(value) for key, value in names.items()} if isinstance(names, dict) else {}


def people(target: Engine | Connection) -> dict[str, str]:
    """User name -> the person's name, for every account (deactivated ones too: they signed things)."""
    with connection_of(target) as connection:
        return {username: name for username, name in connection.execute(select(User.username, User.name)).all()}


# Who wrote an entry when no person did: the app itself, under the names its own writes record.
SYSTEM_ACTORS: dict[str, str] = {
    "seed": "Sample data",
    "demo-setup": "Demo setup",
    "onefunnel": "OneFunnel",
}


CLI_ACTOR_PREFIX = "cli:"  # the command line records its runs as cli:<the machine account>


def person(username: str | None, names: Mapping[str, str]) -> str:
    """Who did something, as people read it: the person's name; the app's own writes by what they are ("Sample
    data"); a command-line run as "Command line (root)"; a name that is no account stays as recorded."""
    if not username:
        return "—"
    if username in names:
        return names[username]
    if username in SYSTEM_ACTORS:
        return SYSTEM_ACTORS[username]
    if username.startswith(CLI_ACTOR_PREFIX):
        return f"Command line ({username.removeprefix(CLI_ACTOR_PREFIX)})"
    return username


ROLE_LABELS: dict[str, str] = {
    "exec": "Executive",
    "marketing": "Marketing",
    "sales": "Sales",
    "marketing_lead": "Marketing lead",
    "sales_lead": "Sales lead",
    "ops": "Ops",
    "admin": "Admin",
}


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role) or humanise(role)


# The audit log's actions and entities where the stored key, humanised, would not say what happened.
AUDIT_WORDS: dict[str, str] = {
    "clear_failures": "Cleared wrong passwords",
    "carry_over_failures": "Carried over wrong passwords",
    "lock": "Locked",
    "unknown_user": "A name that is no account",
    "reason_synonym": "Reason spelling",
    "sync_meeting": "Weekly sync meeting",
    "remap": "Map again",
}


def audit_word(key: str) -> str:
    """An audit entry's action or entity as people read it; the log and its CSV keep the stored key."""
    return AUDIT_WORDS.get(key) or humanise(key)
