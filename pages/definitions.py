"""Definitions (everyone reads; proposers propose; the two leads sign): the ICP, MQL, SQL, stages and SLA
both teams count by, their open proposals with sign-offs and replay, and every version ever made."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import streamlit as st

from core.definitions import versions
from core.definitions.versions import KINDS, SIDES, DefinitionError, VersionInfo
from core.exports import inert
from core.formats import SENIORITIES
from core.funnel.scoreboard import period_range
from core.permissions import may
from core.sandbox.trials import evidence_rows
from ui import auth, cache, feedback

KIND_NAMES = {"icp": "ICP", "mql": "MQL", "sql": "SQL", "stages": "Pipeline stages", "sla": "SLA"}

user = auth.guard("read")
st.title("Definitions")
st.caption(
    "What both teams count by. A change is proposed, then signed by the marketing lead and the sales lead "
    "before it is in force; nothing is ever deleted, and the audit log keeps every step."
)
feedback.show_notice("definitions")


def done(message: str) -> None:
    feedback.after_write("definitions", message)


def lines(version: VersionInfo) -> str:
    return "\n".join(f"- {line}" for line in versions.describe(version.kind, version.rules))


def signed(version: VersionInfo) -> str:
    sides = version.approved_by()
    return " · ".join(f"{side} lead: {'approved' if side in sides else 'not yet'}" for side in ("marketing", "sales"))


def rules_form(kind: str, start: dict[str, Any], prefix: str) -> dict[str, object]:
    """The widgets for one kind's rules, filled from `start`; call inside a form."""
    rules: dict[str, object] = {}
    if kind == "icp":
        left, right = st.columns(2)
        low = left.number_input("Company size from", 0, value=start["company_size_min"], step=10, key=f"{prefix}_min")
        high = right.number_input("Company size to", 0, value=start["company_size_max"], step=10, key=f"{prefix}_max")
        rules = {
            "company_size_min": low,
            "company_size_max": high,
            "industries": st.text_area(
                "Industries (one per line)", "\n".join(start["industries"]), key=f"{prefix}_industries"
            ).splitlines(),
            "countries": st.text_area(
                "Countries (one per line)", "\n".join(start["countries"]), key=f"{prefix}_countries"
            ).splitlines(),
        }
    elif kind == "mql":
        rules = {
            "score_threshold": st.slider(
                "Score threshold", 0, 100, int(start["score_threshold"]), key=f"{prefix}_threshold"
            ),
            "intent_signals": st.text_area(
                "Intent signals that qualify on their own (one per line)",
                "\n".join(start["intent_signals"]),
                key=f"{prefix}_signals",
            ).splitlines(),
            "icp_fit_required": st.checkbox("Must fit the ICP", bool(start["icp_fit_required"]), key=f"{prefix}_fit"),
            "seniorities": st.multiselect(
                "Seniorities (none: any)", SENIORITIES, default=start["seniorities"], key=f"{prefix}_seniorities"
            ),
            "departments": st.text_area(
                "Departments (one per line; none: any)", "\n".join(start["departments"]), key=f"{prefix}_departments"
            ).splitlines(),
        }
    elif kind == "sql":
        rules = {
            "criteria": st.text_area(
                "What sales confirms before accepting (one per line)",
                "\n".join(start["criteria"]),
                key=f"{prefix}_criteria",
            ).splitlines()
        }
    elif kind == "stages":
        stages = st.data_editor(
            pd.DataFrame(start["stages"] or [{"name": "", "entry": "", "exit": ""}]),
            num_rows="dynamic",
            hide_index=True,
            width="stretch",
            key=f"{prefix}_stages",
        )
        rules = {"stages": [row for row in stages.fillna("").to_dict(orient="records") if row.get("name")]}
    else:
        left, right = st.columns(2)
        rules = {
            "response_hours": left.number_input(
                "Response within (hours)", 0.25, value=float(start["response_hours"]), step=0.25, key=f"{prefix}_hours"
            ),
            "business_hours": right.checkbox(
                "Business hours (not calendar hours)", bool(start["business_hours"]), key=f"{prefix}_business"
            ),
            "min_touch_attempts": left.number_input(
                "Touch attempts before a rejection", 0, value=int(start["min_touch_attempts"]), key=f"{prefix}_touches"
            ),
            "min_touch_days": right.number_input(
                "…over at least (days)", 0, value=int(start["min_touch_days"]), key=f"{prefix}_days"
            ),
            "conversion_gate": left.number_input(
                "MQL→SQL gate (%)", 0, 100, round(start["conversion_gate"] * 100), key=f"{prefix}_gate"
            )
            / 100,
            "rejection_gate": right.number_input(
                "Rejection-share gate (%)", 0, 100, round(start["rejection_gate"] * 100), key=f"{prefix}_rejection"
            )
            / 100,
            "review_interval_days": left.number_input(
                "Review every (days)", 1, value=int(start["review_interval_days"]), key=f"{prefix}_review"
            ),
        }
    return rules


all_versions = versions.versions(cache.engine())
active_by_kind = {v.kind: v for v in all_versions if v.state == "active"}
in_force, proposals, propose_tab, history = st.tabs(["In force", "Open proposals", "Propose a change", "History"])

with in_force:
    for kind in KINDS:
        current = active_by_kind.get(kind)
        st.subheader(KIND_NAMES[kind])
        if current is None:
            st.caption("Nothing signed yet: the product defaults apply until both leads sign a version.")
            continue
        approvers = ", ".join(
            f"{s.signer} ({s.side})"
            for s in current.signoffs
            if s.decision == "approve" and s.revision == current.revision
        )
        st.markdown(
            f"**{current.label}**, in force since {current.activated_at:%d %b %Y} · proposed by {current.author}"
            f" · signed by {approvers}"
        )
        if current.prose:
            st.markdown(current.prose)
        st.markdown(lines(current))

with proposals:
    # Replays run on the last complete quarter of the data (a demo database may end in the past).
    span, today = cache.date_span(), cache.org_settings().today()
    quarter = period_range("last_quarter", min(today, span[1] + dt.timedelta(days=1)) if span else today)
    open_versions = [v for v in all_versions if v.state in ("proposed", "draft")]
    if not open_versions:
        st.info("No open proposals.", icon=":material/inbox:")
    my_side = SIDES.get(user.role)
    for version in open_versions:
        with st.container(border=True):
            st.markdown(
                f"**{version.label}** ({version.state}, revision {version.revision}) by {inert(version.author)}"
            )
            st.caption(signed(version))
            current = active_by_kind.get(version.kind)
            if current is not None and version.based_on is not None and version.based_on != current.id:
                st.warning(
                    f"Written against an older version; {current.label} has come into force since. Approving this "
                    "replaces the version in force, including what changed in it.",
                    icon=":material/history:",
                )
            base_rules = current.rules if current else versions.validate_rules(version.kind, {})
            st.dataframe(
                pd.DataFrame(
                    versions.diff(version.kind, base_rules, version.rules),
                    columns=["rule", "in force" if current else "default", "proposed", "changed"],
                ),
                hide_index=True,
                width="stretch",
                key=f"diff_{version.id}",
            )
            if version.prose:
                st.markdown(version.prose)
            if version.evidence and version.evidence.get("source") == "sandbox":
                st.markdown(
                    f"**Evidence from the sandbox:** tried on {inert(version.evidence.get('trial', 'a trial'))}"
                )
                st.dataframe(
                    pd.DataFrame(evidence_rows(version.evidence), columns=["figure", "active definition", "proposed"]),
                    hide_index=True,
                    width="stretch",
                    key=f"evidence_{version.id}",
                )
            if version.kind == "mql":
                result = cache.replayed(version.id, version.revision, *quarter)
                st.markdown(f"**Replayed on {quarter[0]:%d %b} – {quarter[1]:%d %b %Y}:** {result.summary()}")
            if may(user.role, "propose_definition"):
                with (
                    st.expander("Edit this proposal (both leads then sign again)"),
                    st.form(f"edit_{version.id}"),
                ):
                    # The revision is in the keys: a keyed widget ignores a new default, so without it the form
                    # would keep showing (and save back) the text of a revision someone has since replaced.
                    prefix = f"edit_{version.id}_r{version.revision}"
                    edited_rules = rules_form(version.kind, version.rules, prefix)
                    edited_prose = st.text_area("Why", version.prose, key=f"{prefix}_prose")
                    if st.form_submit_button("Save the edit"):
                        try:
                            after = versions.edit(
                                cache.engine(),
                                user.actor,
                                version.id,
                                edited_rules,
                                edited_prose,
                                revision=version.revision,
                            )
                        except DefinitionError as problem:
                            st.error(f"Not saved: {problem}.")
                        else:
                            done(f"Saved revision {after.revision} of {after.label}; both leads sign it again.")
            if my_side is not None and version.state == "proposed":
                if my_side in version.approved_by():
                    st.caption(f"You have signed revision {version.revision} for {my_side}.")
                else:
                    approve_column, reject_column = st.columns([1, 3], vertical_alignment="bottom")
                    comment = reject_column.text_input(
                        "Comment (needed to reject)", key=f"comment_{version.id}", placeholder="why not"
                    )
                    if approve_column.button("Approve", key=f"approve_{version.id}", type="primary"):
                        try:
                            after = versions.approve(cache.engine(), user.actor, version.id, revision=version.revision)
                        except DefinitionError as problem:
                            st.error(str(problem))
                        else:
                            done(
                                f"{after.label} is now in force."
                                if after.state == "active"
                                else f"Approved {after.label} for {my_side}; the other lead signs next."
                            )
                    if reject_column.button("Reject", key=f"reject_{version.id}"):
                        try:
                            versions.reject(cache.engine(), user.actor, version.id, comment, revision=version.revision)
                        except DefinitionError as problem:
                            st.error(str(problem))
                        else:
                            done(f"Rejected {version.label}.")

with propose_tab:
    if not may(user.role, "propose_definition"):
        st.info("Your role reads the definitions; marketing, sales, their leads and ops propose changes.")
    else:
        kind = st.selectbox("Definition", KINDS, format_func=KIND_NAMES.get, key="propose_kind")
        current = active_by_kind.get(kind)
        start = current.rules if current else versions.validate_rules(kind, {})
        st.caption(f"Starting from {current.label}." if current else "Starting from the product defaults.")
        with st.form(f"propose_{kind}"):
            rules = rules_form(kind, start, f"propose_{kind}_{current.id if current else 0}")
            prose = st.text_area("Why, in words both teams will read", key=f"prose_{kind}")
            submitted = st.form_submit_button("Propose for sign-off", type="primary")
        if submitted:
            try:
                created = versions.propose(
                    cache.engine(), user.actor, kind, rules, prose, based_on=current.id if current else None
                )
            except DefinitionError as problem:
                st.error(f"Not proposed: {problem}.")
            else:
                done(f"Proposed {created.label}; it is in force once both leads approve it.")

with history:
    table = pd.DataFrame(
        [
            {
                "version": v.label,
                "state": v.state,
                "author": v.author,
                "created (UTC)": v.created_at,
                "in force from": v.activated_at,
                "closed": v.closed_at,
                "sign-offs": "; ".join(
                    f"{s.signer} {s.decision}d r{s.revision}" + (f": {s.comment}" if s.comment else "")
                    for s in v.signoffs
                ),
            }
            for v in all_versions
        ]
    )
    if table.empty:
        st.info("No versions yet.")
    else:
        st.dataframe(table, hide_index=True, width="stretch", key="definitions_history")
        kind = st.selectbox("Compare two versions of", KINDS, format_func=KIND_NAMES.get, key="diff_kind")
        of_kind = {v.label: v for v in all_versions if v.kind == kind}
        if len(of_kind) < 2:
            st.caption("Fewer than two versions of this definition.")
        else:
            labels = list(of_kind)
            left, right = st.columns(2)
            a = left.selectbox("Left", labels, index=min(1, len(labels) - 1), key="diff_left")
            b = right.selectbox("Right", labels, index=0, key="diff_right")
            rows = versions.diff(kind, of_kind[a].rules, of_kind[b].rules)
            st.dataframe(
                pd.DataFrame(rows, columns=["rule", a, b, "changed"]),
                hide_index=True,
                width="stretch",
                key="diff_table",
            )
