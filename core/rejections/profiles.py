"""What the top rejection reasons' leads have in common: each reason's leads against the ICP (and the MQL
rule's seniorities) in force, next to the leads sales accepted in the same period, counted in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, select

from core.definitions.rules import IcpRules, MqlRules
from core.formatting import percent
from core.funnel.segments import NOT_SET
from core.models import Lead, RejectionReason
from core.rejections.scope import RejectionQuery, filtered, reason_label, select_rejections
from core.settings import load
from core.sql import connection_of, count_if, frame

TOP_REASONS_COMPARED = 3


@dataclass(frozen=True)
class Finding:
    reason: str
    rejections: int
    test: str  # what was checked, e.g. "under 50 employees"
    rule: str  # where the line comes from, e.g. "the ICP starts at 50"
    matching: int  # rejections of the reason that match the test
    known: int  # rejections of the reason with the field filled in
    accepted_share: float  # the same test on the leads sales accepted in the period (NaN: none)

    @property
    def share(self) -> float:
        return self.matching / self.known if self.known else float("nan")

    @property
    def stands_out(self) -> bool:
        """Most of the reason's leads fail the test, at least twice as often as the accepted leads do."""
        accepted = self.accepted_share
        return self.share >= 0.5 and (accepted != accepted or self.share >= 2 * accepted)

    def sentence(self) -> str:
        against = (
            f", against {percent(self.accepted_share)} of the leads sales accepted"
            if self.accepted_share == self.accepted_share
            else ""
        )
        missing = self.rejections - self.known
        left_out = f" ({missing:,} with the field blank are left out)" if missing else ""
        return f"{percent(self.share)} of “{self.reason}” rejections have {self.test}; {self.rule}{against}.{left_out}"


@dataclass(frozen=True)
class ReasonProfile:
    reason: str
    rejections: int
    findings: tuple[Finding, ...]  # the strongest first
    top_campaign: str | None
    top_campaign_share: float

    @property
    def headline(self) -> Finding | None:
        return self.findings[0] if self.findings else None


def _lower_all(values: list[str]) -> list[str]:
    return [value.lower() for value in values]


def _tests(icp: IcpRules | None, mql: MqlRules | None) -> list[tuple[str, str, str, ColumnElement[bool], Any]]:
    """(lead field, test, rule, condition, field-is-known) for each ICP or MQL limit in force."""
    tests: list[tuple[str, str, str, ColumnElement[bool], Any]] = []
    size_known = Lead.company_size.is_not(None)
    if icp is not None and icp.company_size_min is not None:
        low = icp.company_size_min
        tests.append(
            (
                "company_size",
                f"under {low:,} employees",
                f"the ICP starts at {low:,}",
                Lead.company_size < low,
                size_known,
            )
        )
    if icp is not None and icp.company_size_max is not None:
        high = icp.company_size_max
        tests.append(
            (
                "company_size",
                f"over {high:,} employees",
                f"the ICP ends at {high:,}",
                Lead.company_size > high,
                size_known,
            )
        )
    for field_name, listed in (("industry", icp.industries if icp else []), ("country", icp.countries if icp else [])):
        if listed:
            column_ = getattr(Lead, field_name)
            outside = func.lower(column_).not_in(_lower_all(listed))
            test_text = f"an {field_name} outside the ICP" if field_name == "industry" else "a country outside the ICP"
            tests.append((field_name, test_text, "the ICP names " + ", ".join(listed), outside, column_.is_not(None)))
    if mql is not None and mql.seniorities:
        outside = Lead.seniority.not_in(mql.seniorities)
        tests.append(
            (
                "seniority",
                "a seniority the MQL rule leaves out",
                "the MQL rule asks for " + ", ".join(mql.seniorities),
                outside,
                Lead.seniority.is_not(None),
            )
        )
    return tests


def reason_profiles(
    target: Engine | Connection,
    query: RejectionQuery,
    icp: IcpRules | None,
    mql: MqlRules | None,
    top: int = TOP_REASONS_COMPARED,
) -> list[ReasonProfile]:
    """For the most frequent reasons: how their leads stand against the ICP (and the MQL rule's seniorities),
    next to the leads sales accepted (MQLs of the period with an SQL date), strongest difference first; a
    reason's own lead field (a "wrong company size" reason: company_size) leads when it shows anything."""
    label = reason_label()
    tests = _tests(icp, mql)
    test_counts = [
        *(count_if(and_(known, test)) for _, _, _, test, known in tests),
        *(count_if(known) for _, _, _, _, known in tests),
    ]
    campaign = func.coalesce(Lead.campaign, NOT_SET)
    # Three passes whatever the number of reasons: every reason's counts, the accepted leads', and every
    # reason's campaigns (a few hundred rows).
    with connection_of(target) as connection:
        settings = load(connection)
        ranked = connection.execute(
            select_rejections(query, settings, label, RejectionReason.lead_field, func.count(), *test_counts)
            .where(Lead.reason_key.is_not(None))
            .group_by(label, RejectionReason.lead_field)
            .order_by(func.count().desc(), label)
        ).all()[:top]
        accepted = (
            connection.execute(
                select(*test_counts).where(
                    Lead.mql_day >= query.first_day,
                    Lead.mql_day <= query.last_day,
                    Lead.sql_at.is_not(None),
                    *filtered(query, settings),
                )
            ).one()
            if tests
            else ()
        )
        campaigns = frame(
            connection,
            select_rejections(
                query, settings, label.label("reason"), campaign.label("campaign"), func.count().label("n")
            )
            .where(Lead.reason_key.is_not(None))
            .group_by(label, campaign),
        )
    top_campaign = (
        campaigns.sort_values(["n", "campaign"], ascending=[False, True]).drop_duplicates("reason").set_index("reason")
    )
    field_of = {test_text: field_name for field_name, test_text, *_ in tests}
    profiles = []
    for reason, lead_field, rejections, *counts in ranked:
        findings: list[Finding] = []
        for position, (_, test_text, rule, _, _) in enumerate(tests):
            matching, known = int(counts[position] or 0), int(counts[position + len(tests)] or 0)
            accepted_match, accepted_known = int(accepted[position] or 0), int(accepted[position + len(tests)] or 0)
            if matching:
                findings.append(
                    Finding(
                        reason=reason,
                        rejections=int(rejections),
                        test=test_text,
                        rule=rule,
                        matching=matching,
                        known=known,
                        accepted_share=accepted_match / accepted_known if accepted_known else float("nan"),
                    )
                )
        findings.sort(
            key=lambda finding: (
                field_of[finding.test] == lead_field and finding.share >= 0.5,
                finding.share,
                finding.matching,
            ),
            reverse=True,
        )
        best = top_campaign.loc[reason] if reason in top_campaign.index else None
        profiles.append(
            ReasonProfile(
                reason=reason,
                rejections=int(rejections),
                findings=tuple(findings),
                top_campaign=None if best is None else str(best["campaign"]),
                top_campaign_share=0.0 if best is None else int(best["n"]) / int(rejections),
            )
        )
    return profiles
