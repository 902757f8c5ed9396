"""Definitions (everyone reads; proposers propose; the two leads sign): the ICP, MQL, SQL, stages and SLA
both teams count by, their open proposals with sign-offs and replay, and every version ever made."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from core.definitions import versions, wording
from core.definitions.rules import KIND_NAMES, KINDS, DefinitionError, validate_rules
from core.definitions.versions import SIDES, VersionInfo
from core.exports import inert
from core.periods import period_range
from core.permissions import may
from core.sandbox.proposals import evidence_rows
from core.vocabulary import person
from ui import auth, cache, feedback
from ui.panels.definitions import RULE_FORMS
from ui.tables import show_table

TABS = ["In force", "Open proposals", "Propose a change", "History"]

user = auth.guard("read")
st.title("Definitions")
st.caption(
    "What both teams count by. A change is proposed, then signed by the marketing lead and the sales lead "
    "before it is in force; nothing is ever deleted, and the audit log keeps every step."
)
feedback.show_notice("definitions")


def done(message: str) -> None:
    feedback.after_write("definitions", message)


def rules_list(version: VersionInfo) -> str:
    marker = "1." if version.kind == "stages" else "-"  # stages are an order; the other kinds a set of rules
    return "\n".join(f"{marker} {inert(line)}" for line in wording.describe(version.kind, version.rules))


def rules_table(kind: str, left: dict, right: dict, columns: list[str]) -> None:
    rows = [(rule, a, b, "yes" if changed else "no") for rule, a, b, changed in wording.diff(kind, left, right)]
    # A static table: a stage list or a rejection comment wraps instead of being cut off at the cell's edge.
    st.table(pd.DataFrame(rows, columns=["Rule", *columns, "Changed"]), hide_index=True, border="horizontal")


def edit_form(version: VersionInfo) -> None:
    with st.expander("Edit this proposal (both leads then sign again)"), st.form(f"edit_{version.id}"):
        # The revision is in the keys: a keyed widget ignores a new default, so without it the form would keep
        # showing (and save back) the text of a revision someone has since replaced.
        prefix = f"edit_{version.id}_r{version.revision}"
        rules = RULE_FORMS[version.kind](version.rules, prefix)
        prose = st.text_area("Why", version.prose, key=f"{prefix}_prose")
        if st.form_submit_button("Save the edit"):
            try:
                after = versions.edit(cache.engine(), user.actor, version.id, rules, prose, revision=version.revision)
            except DefinitionError as problem:
                st.error(f"Not saved: {problem}.")
            else:
                done(f"Saved revision {after.revision} of {after.label}; both leads sign it again.")


def sign_buttons(version: VersionInfo, side: str) -> None:
    if side in version.approved_by():
        st.caption(f"You have signed revision {version.revision} for {side}.")
        return
    approve_column, reject_column = st.columns([1, 3], vertical_alignment="bottom")
    comment = reject_column.text_input("Comment (needed to reject)", key=f"comment_{version.id}", placeholder="why not")
    if approve_column.button("Approve", key=f"approve_{version.id}", type="primary"):
        try:
            after = versions.approve(cache.engine(), user.actor, version.id, revision=version.revision)
        except DefinitionError as problem:
            st.error(str(problem))
        else:
            done(
                f"{after.label} is now in force."
                if after.state == "active"
                else f"Approved {after.label} for {side}; the other lead signs next."
            )
    if reject_column.button("Reject", key=f"reject_{version.id}"):
        try:
            versions.reject(cache.engine(), user.actor, version.id, comment, revision=version.revision)
        except DefinitionError as problem:
            st.error(str(problem))
        else:
            done(f"Rejected {version.label}.")


names = cache.people()
all_versions = versions.versions(cache.engine())
active_by_kind: dict[str, VersionInfo] = {v.kind: v for v in all_versions if v.state == "active"}
# Keyed and tracking the open tab, so that the rerun after a proposal or a sign-off keeps the person where they were.
in_force, proposals, propose_tab, history = st.tabs(TABS, key="definitions_tab", on_change="rerun")

with in_force:
    for kind in KINDS:
        current = active_by_kind.get(kind)
        st.subheader(KIND_NAMES[kind])
        if current is None:
            st.caption("Nothing signed yet: the product defaults apply until both leads sign a version.")
            continue
        st.markdown(
            f"**{current.label}**, in force since {current.activated_at:%d %b %Y} · proposed by "
            f"{inert(person(current.author, names))} · signed by {inert(wording.approvers(current, names))}"
        )
        if current.prose:
            st.markdown(current.prose)
        st.markdown(rules_list(current))

with proposals:
    # Replays run on the last complete quarter of the data (a demo database may end in the past).
    span, today = cache.date_span(), cache.org_settings().today()
    quarter = period_range("last_quarter", min(today, span[1] + dt.timedelta(days=1)) if span else today)
    open_versions = [v for v in all_versions if v.state in versions.OPEN_STATES]
    if not open_versions:
        st.info("No open proposals.", icon=":material/inbox:")
    my_side = SIDES.get(user.role)
    for version in open_versions:
        with st.container(border=True):
            st.markdown(
                f"**{version.label}** ({wording.STATE_NAMES[version.state]}, revision {version.revision}) "
                f"by {inert(person(version.author, names))}"
            )
            st.caption(wording.sign_status(version))
            current = active_by_kind.get(version.kind)
            if current is not None and version.based_on is not None and version.based_on != current.id:
                st.warning(
                    f"Written against an older version; {current.label} has come into force since. Approving this "
                    "replaces the version in force, including what changed in it.",
                    icon=":material/history:",
                )
            base = current.rules if current else validate_rules(version.kind, {})
            columns = [current.label if current else "Product default", "Proposed"]
            rules_table(version.kind, base, version.rules, columns)
            if version.prose:
                st.markdown(version.prose)
            if version.evidence and version.evidence.get("source") == "sandbox":
                st.markdown(
                    f"**Evidence from the sandbox:** tried on {inert(version.evidence.get('trial', 'a trial'))}"
                )
                show_table(
                    pd.DataFrame(
                        evidence_rows(version.evidence), columns=["Figure", "Definition in force", "Proposed"]
                    ),
                    key=f"evidence_{version.id}",
                )
            if version.kind == "mql":
                result = cache.replayed(version.id, version.revision, *quarter)
                st.markdown(f"**Replayed on {quarter[0]:%d %b} – {quarter[1]:%d %b %Y}:** {result.summary()}")
            if may(user.role, "propose_definition"):
                edit_form(version)
            if my_side is not None and version.state == "proposed":
                sign_buttons(version, my_side)

with propose_tab:
    if not may(user.role, "propose_definition"):
        st.info("Your role reads the definitions; marketing, sales, their leads and ops propose changes.")
    else:
        proposed_kind: str = st.selectbox("Definition", KINDS, format_func=KIND_NAMES.__getitem__, key="propose_kind")
        current = active_by_kind.get(proposed_kind)
        start = current.rules if current else validate_rules(proposed_kind, {})
        st.caption(f"Starting from {current.label}." if current else "Starting from the product defaults.")
        with st.form(f"propose_{proposed_kind}"):
            rules = RULE_FORMS[proposed_kind](start, f"propose_{proposed_kind}_{current.id if current else 0}")
            prose = st.text_area("Why, in words both teams will read", key=f"prose_{proposed_kind}")
            submitted = st.form_submit_button("Propose for sign-off", type="primary")
        if submitted:
            try:
                created = versions.propose(
                    cache.engine(), user.actor, proposed_kind, rules, prose, based_on=current.id if current else None
                )
            except DefinitionError as problem:
                st.error(f"Not proposed: {problem}.")
            else:
                done(f"Proposed {created.label}; it is in force once both leads approve it.")

with history:
    if not all_versions:
        st.info("No versions yet.")
    else:
        st.markdown("\n".join(f"- **{label}** · {inert(line)}" for label, line in wording.history(all_versions, names)))
        compared: str = st.selectbox(
            "Compare two versions of", KINDS, format_func=KIND_NAMES.__getitem__, key="diff_kind"
        )
        of_kind = {v.label: v for v in all_versions if v.kind == compared}
        if len(of_kind) < 2:
            st.caption(f"{KIND_NAMES[compared]} has fewer than two versions to compare.")
        else:
            labels = list(of_kind)
            left, right = st.columns(2)
            a = left.selectbox("From", labels, index=min(1, len(labels) - 1), key="diff_left")
            b = right.selectbox("To", labels, index=0, key="diff_right")
            if a == b:
                st.caption("Pick two different versions to compare.")
            else:
                rules_table(compared, of_kind[a].rules, of_kind[b].rules, [a, b])
