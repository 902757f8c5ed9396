"""The rules of each kind of definition (ICP, MQL, SQL, pipeline stages, SLA): what a version may say, and
the ICP and MQL rules as conditions on a lead.

A version stores its rules validated and with every default written out, so a version says everything.
The conditions work on the stored leads and on a sandbox trial's alike (`leads`), and are never NULL, so
NOT of one is the leads it leaves out.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import ColumnElement, and_, func, literal, or_, true

from core.formats import SENIORITIES
from core.models import Lead

Kind = Literal["icp", "mql", "sql", "stages", "sla"]
KINDS: tuple[Kind, ...] = ("icp", "mql", "sql", "stages", "sla")
KIND_NAMES: dict[str, str] = {"icp": "ICP", "mql": "MQL", "sql": "SQL", "stages": "Pipeline stages", "sla": "SLA"}


class DefinitionError(ValueError):
    """A definition or a step that cannot be taken, with the reason; nothing was changed."""


def _names(values: list[str]) -> list[str]:
    cleaned = [value.strip() for value in values if value and value.strip()]
    return list(dict.fromkeys(cleaned))


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IcpRules(_Rules):
    company_size_min: int | None = Field(default=None, ge=0)
    company_size_max: int | None = Field(default=None, ge=0)
    industries: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list)

    @field_validator("industries", "countries")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        return _names(value)

    @model_validator(mode="after")
    def _range(self) -> IcpRules:
        low, high = self.company_size_min, self.company_size_max
        if low is not None and high is not None and low > high:
            raise ValueError(f"the company-size range starts ({low}) above where it ends ({high})")
        return self


class MqlRules(_Rules):
    icp_fit_required: bool = True
    seniorities: list[str] = Field(default_factory=list)
    departments: list[str] = Field(default_factory=list)
    score_threshold: int = Field(default=50, ge=0, le=100)
    intent_signals: list[str] = Field(default_factory=list)

    @field_validator("departments", "intent_signals")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        return _names(value)

    @field_validator("seniorities")
    @classmethod
    def _known_seniorities(cls, value: list[str]) -> list[str]:
        cleaned = [item.strip().lower() for item in value]
        unknown = [item for item in cleaned if item not in SENIORITIES]
        if unknown:
            raise ValueError(f"unknown seniorities {', '.join(unknown)}; expected some of {', '.join(SENIORITIES)}")
        return list(dict.fromkeys(cleaned))


class SqlRules(_Rules):
    criteria: list[str] = Field(default_factory=lambda: ["confirmed need", "budget access", "timeline"])

    @field_validator("criteria")
    @classmethod
    def _clean(cls, value: list[str]) -> list[str]:
        return _names(value)


class Stage(_Rules):
    name: str = Field(min_length=1)
    entry: str = ""
    exit: str = ""


class StagesRules(_Rules):
    stages: list[Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> StagesRules:
        names = [stage.name.strip().casefold() for stage in self.stages]
        if len(set(names)) != len(names):
            raise ValueError("each stage name must appear once")
        return self


class SlaRules(_Rules):
    response_hours: float = Field(default=4.0, gt=0)
    business_hours: bool = True
    min_touch_attempts: int = Field(default=6, ge=0)
    min_touch_days: int = Field(default=14, ge=0)
    monthly_mql_target: int | None = Field(default=None, ge=0)
    conversion_gate: float = Field(default=0.30, ge=0, le=1)
    rejection_gate: float = Field(default=0.30, ge=0, le=1)
    review_interval_days: int = Field(default=90, gt=0)


RULES: dict[str, type[_Rules]] = {
    "icp": IcpRules,
    "mql": MqlRules,
    "sql": SqlRules,
    "stages": StagesRules,
    "sla": SlaRules,
}


def validate_rules(kind: str, rules: dict[str, Any]) -> dict[str, Any]:
    """The rules in their stored form, or DefinitionError naming every problem."""
    model = RULES.get(kind)
    if model is None:
        raise DefinitionError(f"unknown definition kind {kind!r}; expected one of {', '.join(KINDS)}")
    try:
        return model.model_validate(rules).model_dump(mode="json")
    except ValidationError as exc:
        reasons = "; ".join(
            (f"{'.'.join(str(part) for part in error['loc'])}: " if error["loc"] else "")
            + str(error["msg"]).removeprefix("Value error, ")
            for error in exc.errors()
        )
        raise DefinitionError(f"the {kind} rules are not valid: {reasons}") from exc


# --- the ICP and MQL rules as conditions on a lead ---------------------------------------------------------


def _folded(column: Any) -> ColumnElement[str]:
    # People type "SaaS" in a definition and CRMs export "saas": lists match whatever the case.
    return func.lower(func.coalesce(column, ""))


def _fold_all(values: list[str]) -> list[str]:
    return [value.lower() for value in values]


def icp_fit(icp: IcpRules, leads: Any = Lead) -> ColumnElement[bool]:
    """The lead's company is of the ICP's size, industry and country."""
    conditions: list[ColumnElement[bool]] = []
    if icp.company_size_min is not None:
        conditions.append(func.coalesce(leads.company_size, -1) >= icp.company_size_min)
    if icp.company_size_max is not None:
        conditions.append(and_(leads.company_size.is_not(None), leads.company_size <= icp.company_size_max))
    if icp.industries:
        conditions.append(_folded(leads.industry).in_(_fold_all(icp.industries)))
    if icp.countries:
        conditions.append(_folded(leads.country).in_(_fold_all(icp.countries)))
    return and_(true(), *conditions)


def intent_hit(rules: MqlRules, leads: Any = Lead) -> ColumnElement[bool]:
    """The lead shows one of the rule's high-intent signals."""
    if not rules.intent_signals:
        return literal(False)
    return _folded(leads.intent_signal).in_(_fold_all(rules.intent_signals))


def fits_besides_score(rules: MqlRules, icp: IcpRules | None, leads: Any = Lead) -> ColumnElement[bool]:
    """Everything the rule asks of a lead but its behaviour: seniority, department and, if required, ICP fit."""
    conditions: list[ColumnElement[bool]] = [true()]
    if rules.seniorities:
        conditions.append(func.coalesce(leads.seniority, "").in_(rules.seniorities))
    if rules.departments:
        conditions.append(_folded(leads.department).in_(_fold_all(rules.departments)))
    if rules.icp_fit_required and icp is not None:
        conditions.append(icp_fit(icp, leads))
    return and_(*conditions)


def qualifies(rules: MqlRules, icp: IcpRules | None, leads: Any = Lead) -> ColumnElement[bool]:
    """The MQL rule as a condition on a lead."""
    signal = or_(func.coalesce(leads.score, -1) >= rules.score_threshold, intent_hit(rules, leads))
    return and_(signal, fits_besides_score(rules, icp, leads))
