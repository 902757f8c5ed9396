"""The canonical CSV formats of PRODUCT.md: fields, types, keys and required columns.

An import maps any file onto one of these kinds; validation and the upsert are
driven entirely by this table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Table

from core.models import Lead, Opportunity, Spend, Target, Touch

FieldType = Literal["text", "int", "float", "datetime", "month", "bool", "choice"]
Kind = Literal["leads", "opportunities", "touches", "spend", "targets"]

KIND_LABELS: dict[str, str] = {
    "leads": "Leads",
    "opportunities": "Opportunities (deals)",
    "touches": "Touches",
    "spend": "Spend",
    "targets": "Targets",
}

SENIORITIES = ("ic", "manager", "director", "vp", "cxo")
ORIGINS = ("marketing", "sales")
TARGET_METRICS = ("mqls", "sqls", "pipeline", "opportunities", "won_revenue")


FIELD_LABELS = {
    "lead_id": "Lead ID",
    "opportunity_id": "Opportunity ID",
    "created_at": "Created",
    "email": "E-mail",
    "company_size": "Company size (employees)",
    "mql_at": "MQL date",
    "sql_at": "SQL date",
    "rejected_at": "Rejection date",
    "rejection_reason": "Rejection reason",
    "first_response_at": "First response",
    "touch_attempts": "Touch attempts",
    "intent_signal": "Intent signal",
    "closed_at": "Closed",
    "is_won": "Won or lost",
    "touched_at": "Touched",
    "touch_type": "Touch type",
}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType = "text"
    required: bool = False  # the column must be in the file (or mapped)
    nonblank: bool = False  # every row needs a value
    blank_default: str | None = None  # stored instead of a blank
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    max_length: int = 255

    @property
    def label(self) -> str:
        """The field as people call it on screen ("MQL date", not mql_at)."""
        return FIELD_LABELS.get(self.name, self.name.replace("_", " ").capitalize())

    def expected(self) -> str:
        """What a valid value looks like, in words, for error reports."""
        if self.type == "datetime":
            return "a date or date-time (e.g. 2025-03-31 or 2025-03-31T14:05:00Z)"
        if self.type == "month":
            return "a month (e.g. 2025-03 or 2025-03-01)"
        if self.type == "bool":
            return "true or false (also yes/no, 1/0, won/lost)"
        if self.type == "choice":
            return "one of " + ", ".join(self.choices)
        if self.type in ("int", "float"):
            noun = "a whole number" if self.type == "int" else "a number"
            if self.minimum is not None and self.maximum is not None:
                return f"{noun} from {self.minimum:g} to {self.maximum:g}"
            if self.minimum is not None:
                return f"{noun} of at least {self.minimum:g}"
            return noun
        return f"text of at most {self.max_length} characters"


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    table: Table
    key: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    # Columns computed from the fields when rows are written (core.funnel.derived).
    derived: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """The kind of file as people call it on screen."""
        return KIND_LABELS[self.kind]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields)

    def field(self, name: str) -> FieldSpec:
        return next(spec for spec in self.fields if spec.name == name)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.fields if spec.required)


KINDS: dict[str, KindSpec] = {
    "leads": KindSpec(
        kind="leads",
        table=Lead.__table__,  # type: ignore[arg-type]
        key=("lead_id",),
        fields=(
            FieldSpec("lead_id", required=True, nonblank=True, max_length=128),
            FieldSpec("created_at", "datetime", required=True, nonblank=True),
            FieldSpec("email", max_length=320),
            FieldSpec("company"),
            FieldSpec("company_size", "int", minimum=0),
            FieldSpec("industry", max_length=128),
            FieldSpec("country", max_length=128),
            FieldSpec("title"),
            FieldSpec("seniority", "choice", choices=SENIORITIES),
            FieldSpec("department", max_length=128),
            FieldSpec("source", required=True, blank_default="unknown", max_length=64),
            FieldSpec("campaign"),
            FieldSpec("score", "int", minimum=0, maximum=100),
            FieldSpec("intent_signal", max_length=128),
            FieldSpec("mql_at", "datetime"),
            FieldSpec("sql_at", "datetime"),
            FieldSpec("rejected_at", "datetime"),
            FieldSpec("rejection_reason"),
            FieldSpec("first_response_at", "datetime"),
            FieldSpec("owner", max_length=128),
            FieldSpec("touch_attempts", "int", minimum=0),
        ),
        derived=("created_day", "mql_day", "response_minutes", "sla_due_at"),
    ),
    "opportunities": KindSpec(
        kind="opportunities",
        table=Opportunity.__table__,  # type: ignore[arg-type]
        key=("opportunity_id",),
        fields=(
            FieldSpec("opportunity_id", required=True, nonblank=True, max_length=128),
            FieldSpec("lead_id", max_length=128),
            FieldSpec("account"),
            FieldSpec("created_at", "datetime", required=True, nonblank=True),
            FieldSpec("stage", max_length=128),
            FieldSpec("amount", "float", required=True, minimum=0),
            FieldSpec("closed_at", "datetime"),
            FieldSpec("is_won", "bool"),
            FieldSpec("origin", "choice", choices=ORIGINS),
            FieldSpec("owner", max_length=128),
        ),
        derived=("created_day", "closed_day", "cycle_days"),
    ),
    "touches": KindSpec(
        kind="touches",
        table=Touch.__table__,  # type: ignore[arg-type]
        key=("lead_id", "opportunity_id", "touched_at", "channel"),
        fields=(
            FieldSpec("lead_id", max_length=128),
            FieldSpec("opportunity_id", max_length=128),
            FieldSpec("touched_at", "datetime", required=True, nonblank=True),
            FieldSpec("channel", required=True, nonblank=True, max_length=64),
            FieldSpec("campaign"),
            FieldSpec("touch_type", max_length=64),
        ),
    ),
    "spend": KindSpec(
        kind="spend",
        table=Spend.__table__,  # type: ignore[arg-type]
        key=("month", "channel"),
        fields=(
            FieldSpec("month", "month", required=True, nonblank=True),
            FieldSpec("channel", required=True, nonblank=True, max_length=64),
            FieldSpec("amount", "float", required=True, nonblank=True, minimum=0),
        ),
    ),
    "targets": KindSpec(
        kind="targets",
        table=Target.__table__,  # type: ignore[arg-type]
        key=("month", "metric"),
        fields=(
            FieldSpec("month", "month", required=True, nonblank=True),
            FieldSpec("metric", "choice", required=True, nonblank=True, choices=TARGET_METRICS),
            FieldSpec("value", "float", required=True, nonblank=True, minimum=0),
        ),
    ),
}


def kind_spec(kind: str) -> KindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown import kind {kind!r}; expected one of {', '.join(KINDS)}") from None
