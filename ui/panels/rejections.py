"""The Rejections page's panels that are more than a chart: the numbers at a glance, the signals, what the top
reasons' leads have in common, the lead list behind a click, and the reason catalogue with its editor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from core.definitions.versions import VersionInfo
from core.exports import inert
from core.formatting import MISSING, count, percent
from core.permissions import Actor, may
from core.rejections.catalogue import (
    CATEGORIES,
    LEAD_FIELDS,
    CatalogueError,
    Reason,
    add_reason,
    map_spelling,
    update_reason,
)
from core.rejections.explorer import DRILL_COLUMNS, Drill, Overview
from core.rejections.profiles import ReasonProfile
from core.rejections.scope import RejectionQuery
from core.rejections.streaks import RUN_LENGTH, Found, streak_summaries
from core.vocabulary import LEAD_FIELD_LABELS, category_label, value_name
from ui import cache, feedback
from ui.tables import show_table

ALL = "(all)"
PAGE_SIZE = 50
CSV_LIMIT = 100_000
PICKERS = ("reason", "source", "campaign", "week", "owner", "only")
ONLY = {ALL: ALL, "no_reason": "no reason given", "premature": "before the minimum attempts"}


def at_a_glance(summary: Overview) -> None:
    """Five numbers; one the imports cannot support is MISSING with its reason, never a 0 that reads as a result."""
    gone = summary.rejections_unavailable
    no_reason = gone or summary.no_reason_unavailable
    share_of_known = summary.no_reason / summary.reasons_known if summary.reasons_known else float("nan")
    attempts = (
        "rejected after fewer touch attempts than the SLA asks, under a reason that needs them (the SLA's minimum "
        "days are not checked)"
        + (f"; {count(summary.attempts_unknown)} without a count" if summary.attempts_unknown else "")
    )
    share = MISSING if summary.share_unavailable else percent(summary.unqualified_share)
    cohort = f"{count(summary.cohort_rejected)} of {count(summary.dispositioned)} dispositioned MQLs rejected"
    shown = (  # label, value, why it is not available (or None), what it counts
        ("Unqualified share", share, summary.share_unavailable, f"{cohort}; gate {percent(summary.rejection_gate)}"),
        ("Rejections logged", MISSING if gone else count(summary.rejected), gone, "in the period, with the filters"),
        (
            "No reason given",
            MISSING if no_reason else count(summary.no_reason),
            no_reason,
            f"{percent(share_of_known)} of rejections; the SLA asks for a reason every time",
        ),
        (
            f"Before {summary.min_touch_attempts} attempts",
            MISSING if gone else count(summary.premature),
            gone,
            attempts,
        ),
        ("Unmapped reasons", count(summary.unmapped), None, "typed reasons the catalogue does not know yet"),
    )
    for column, (label, value, unavailable, caption) in zip(st.columns(len(shown)), shown, strict=True):
        column.metric(label, value)
        column.caption(f"Not available: {unavailable}" if unavailable else caption)


def signals(summary: Overview, found: Found, profiles: list[ReasonProfile]) -> None:
    """Over the gate in red; each reason that topped three complete weeks running, with what its leads share."""
    if summary.over_gate:
        st.error(
            f"The unqualified share is {percent(summary.unqualified_share)}, above the "
            f"{percent(summary.rejection_gate)} gate: the scoring model needs adjustment. See which reasons drive "
            "it and what those leads have in common.",
            icon=":material/flag:",
        )
    profile_of = {profile.reason: profile for profile in profiles}
    for reason, sentence in streak_summaries(list(found.streaks)):
        profile = profile_of.get(reason)
        finding = next((f for f in profile.findings if f.stands_out), None) if profile else None
        common = f"  \n**What these leads have in common:** {inert(finding.sentence())}" if finding else ""
        st.warning(inert(sentence) + common, icon=":material/repeat:")
    if summary.unqualified_share == summary.unqualified_share and not summary.over_gate and not found.streaks:
        st.success(
            f"The unqualified share is within the gate and no reason topped {RUN_LENGTH} complete weeks in a row.",
            icon=":material/check_circle:",
        )


def reasons_table(ranked: pd.DataFrame) -> None:
    shown = ranked.assign(
        category=ranked["category"].map(category_label),
        share=ranked["share"].map(percent),
        cumulative_share=ranked["cumulative_share"].map(percent),
    )
    labels = {
        "reason": "Reason",
        "category": "Kind of fix",
        "rejections": "Rejections",
        "share": "Share",
        "cumulative_share": "Cumulative",
    }
    show_table(shown, column_config=labels)


def common_ground(profiles: list[ReasonProfile], icp: VersionInfo | None, mql: VersionInfo | None) -> None:
    """What the top reasons' leads have in common against the ICP in force; red marks what stands out."""
    st.subheader("What the top reasons' leads have in common")
    if icp is None:
        st.info(
            "No ICP is in force, so there is nothing to compare the rejected leads with. Propose one on the "
            "Definitions page; once both leads sign it, this section compares against it.",
            icon=":material/info:",
        )
    else:
        seniorities = f" and the seniorities of {mql.label}" if mql and mql.rules.get("seniorities") else ""
        st.caption(
            f"Against {icp.label}{seniorities}. The accepted leads are the period's MQLs that became SQLs, with "
            "the same filters."
        )
    for profile in profiles:
        with st.container(border=True):
            st.markdown(f"**{inert(profile.reason)}**: {count(profile.rejections)} rejections")
            strong = [finding for finding in profile.findings if finding.stands_out]
            for finding in strong:
                st.markdown(f":red[**{inert(finding.sentence())}**]")
            for finding in [finding for finding in profile.findings if not finding.stands_out][:2]:
                st.caption(inert(finding.sentence()))
            if icp is not None and not strong:
                st.caption("Nothing in the ICP sets these leads apart from the ones sales accepted.")
            if profile.top_campaign is not None:
                line = f"Top campaign: {profile.top_campaign}, {percent(profile.top_campaign_share)} of them."
                if profile.top_campaign_share >= 0.4:
                    st.markdown(f":red[**{inert(line)}**]")
                else:
                    st.caption(inert(line))


def owners_table(owners: pd.DataFrame, minimum: int) -> None:
    shown = owners.assign(
        no_reason_share=owners["no_reason_share"].map(percent), premature_share=owners["premature_share"].map(percent)
    )
    labels = {
        "owner": "Owner",
        "rejected": "Rejections",
        "no_reason": "No reason",
        "premature": f"Before {minimum} attempts",
        "attempts_unknown": "Attempts not recorded",
        "no_reason_share": "No reason, share",
        "premature_share": "Too early, share",
    }
    show_table(shown, column_config=labels)


def picked(event: Any, name: str) -> dict[str, Any] | None:
    """The first point a chart click selected, as {field: value}, or None."""
    try:
        points = event.selection[name]
    except (AttributeError, KeyError, TypeError):
        return None
    if isinstance(points, list) and points and isinstance(points[0], dict):
        return points[0]
    return None


def drill_to(chart: str, point: dict[str, Any] | None) -> None:
    """Point the lead list at what a click on `chart` selected (its fields are the pickers'); the other pickers go
    back to all. A chart keeps its selection across reruns, so only a new click counts: otherwise a second
    chart's old selection, or the first one's, would undo every later pick, sort or page."""
    marker_key = f"rj_click_{chart}"
    marker = None if point is None else repr(sorted(point.items()))
    if st.session_state.get(marker_key) == marker:
        return
    st.session_state[marker_key] = marker
    if point is None:
        return  # the selection was cleared: leave the pickers as they are
    values = {**point, "week": dt.date.fromisoformat(point["week"])} if "week" in point else point
    for name in PICKERS:
        st.session_state[f"rj_drill_{name}"] = values.get(name, ALL)
    st.session_state["rj_page"] = 1


def lead_list(query: RejectionQuery, ranked: pd.DataFrame, weekly: pd.DataFrame, file_name: str) -> None:
    """The rejected leads behind a click or a pick, sorted and paged in the database, and their CSV."""
    st.subheader("The leads behind it")
    st.caption("Click a bar or a cell above, or pick here. Sorted and paged in the database.")
    options, names = cache.options(), cache.display_names()
    choices = {
        "reason": [ALL, *ranked["reason"]],
        "source": [ALL, *options.get("source", [])],
        "campaign": [ALL, *options.get("campaign", [])],
        "week": [ALL, *sorted(weekly["week"].unique())] if not weekly.empty else [ALL],
        "owner": [ALL, *options.get("owner", [])],
        "only": list(ONLY),
    }
    shown: dict[str, Callable[[Any], str]] = {
        "source": lambda value: value if value == ALL else value_name(value, names),
        "week": lambda week: week if week == ALL else f"week of {week:%d %b %Y}",
        "only": lambda only: ONLY[only],
    }
    picks: dict[str, Any] = {}
    for column, (name, offered) in zip(st.columns(len(PICKERS)), choices.items(), strict=True):
        # A value the current options lack (a click from another period, "Other reasons") falls back to all.
        if st.session_state.get(f"rj_drill_{name}", ALL) not in offered:
            st.session_state[f"rj_drill_{name}"] = ALL
        label = LEAD_FIELD_LABELS.get(name, "Week" if name == "week" else "Only")
        chosen = column.selectbox(label, offered, key=f"rj_drill_{name}", format_func=shown.get(name, str))
        picks[name] = None if chosen == ALL else chosen
    drill = Drill(**picks)
    sorting = st.columns([1.5, 1, 1, 3])
    sort = sorting[0].selectbox(
        "Sort by",
        DRILL_COLUMNS,
        index=DRILL_COLUMNS.index("rejected_at"),
        key="rj_sort",
        format_func=lambda column: LEAD_FIELD_LABELS[column],
    )
    descending = sorting[1].toggle("Descending", value=True, key="rj_desc")
    first_page, total = cache.rejected_leads(query, drill, sort, descending, 0, PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    if st.session_state.get("rj_page", 1) > pages:  # the list got shorter since the page was picked
        st.session_state["rj_page"] = 1
    page = int(sorting[2].number_input("Page", 1, pages, key="rj_page")) if pages > 1 else 1
    offset = (page - 1) * PAGE_SIZE
    rows = first_page if page == 1 else cache.rejected_leads(query, drill, sort, descending, offset, PAGE_SIZE)[0]
    plural = "" if total == 1 else "s"
    sorting[3].markdown(
        f"**{count(total)} rejected lead{plural}**: {inert(drill.describe(names))}  \npage {page} of {pages}"
    )
    rows = rows.assign(source=[value_name(source, names) for source in rows["source"]])
    # Numbers stay numbers for the grid's own sorting (whole: sizes, scores, attempts); a blank cell reads as the
    # one missing mark, not "None".
    show_table(rows.style.format(na_rep=MISSING, precision=0), column_config=LEAD_FIELD_LABELS)
    if total and st.button(f"Prepare a CSV of these {count(min(total, CSV_LIMIT))} leads", icon=":material/download:"):
        st.download_button(
            "Download the CSV",
            cache.rejected_leads_csv(query, drill, sort, descending, CSV_LIMIT),
            file_name=file_name,
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
        )
        if total > CSV_LIMIT:
            st.caption(
                f"The first {count(CSV_LIMIT)} of {count(total)} in this order; narrow the filters for the rest."
            )


def reason_fields(reason: Reason | None) -> dict[str, Any]:
    """The inputs of a catalogue entry inside a form, filled from `reason` when editing one."""
    categories, lead_fields = list(CATEGORIES), ["", *LEAD_FIELDS]
    return {
        "name": st.text_input("Name", reason.name if reason else ""),
        "category": st.selectbox(
            "Kind of fix",
            categories,
            index=categories.index(reason.category) if reason else 0,
            format_func=lambda kind: f"{category_label(kind)}: {CATEGORIES[kind]}",
        ),
        "lead_field": st.selectbox(
            "Lead field it is about",
            lead_fields,
            index=lead_fields.index(reason.lead_field or "") if reason else 0,
            format_func=lambda field: LEAD_FIELD_LABELS.get(field, "None of them"),
        )
        or None,
        "attempts_required": st.checkbox(
            "Needs the SLA's touch attempts first", value=reason.attempts_required if reason else True
        ),
        "description": st.text_area("Description", reason.description if reason else "", height=68),
    }


def catalogue(role: str, actor: Actor) -> None:
    """The catalogue as it stands and the spellings it lacks; ops map, add and edit reasons."""
    feedback.show_notice("reasons")
    reasons, unmapped = cache.reason_catalogue(), cache.unmapped_reasons()
    st.markdown(
        "Sales types reasons freely; the catalogue says which canonical reason each spelling means. Case, "
        "spacing and punctuation are ignored (“Too small co.” = “too small co”). The text as typed is kept on "
        "every lead."
    )
    rows = [
        {
            "reason": reason.name,
            "kind of fix": category_label(reason.category),
            "lead field": LEAD_FIELD_LABELS.get(reason.lead_field or "", MISSING),
            "needs the SLA's attempts": reason.attempts_required,
            "spellings": ", ".join(reason.synonyms),
            "description": reason.description,
        }
        for reason in reasons
    ]
    labels = {"reason": "Reason", "kind of fix": "Kind of fix", "lead field": "Lead field", "spellings": "Spellings"}
    labels |= {"needs the SLA's attempts": "Needs the SLA's attempts", "description": "Description"}
    show_table(pd.DataFrame(rows), height=38 + 35 * len(reasons), column_config=labels)
    capped = "+, the most frequent first" if len(unmapped) >= 200 else ""
    st.markdown(f"**Unmapped spellings** ({count(len(unmapped))}{capped}), over every rejection ever logged")
    if unmapped.empty:
        st.caption("Every typed reason is in the catalogue.")
    else:
        hidden: dict[str, str | None] = {"example": "Spelling", "leads": "Rejected leads", "key": None}
        show_table(unmapped, column_config=hidden)
    if not may(role, "edit_reasons"):
        st.caption("Ops keep the catalogue.")
        return
    by_name = {reason.name: reason for reason in reasons}
    left, right = st.columns(2)
    with left.form("rj_map"):
        st.markdown("**Map a spelling to a reason**")
        examples = list(unmapped["example"]) if not unmapped.empty else []
        spelling = st.selectbox(
            "Unmapped spelling", examples, index=None, placeholder="pick one…", key="rj_map_spelling"
        )
        typed = st.text_input(
            "…or type a spelling", help="Any spelling; a mapped one moves to the new reason.", key="rj_map_typed"
        )
        target = st.selectbox("Means", list(by_name), index=None, placeholder="pick a reason…", key="rj_map_to")
        if st.form_submit_button("Map", icon=":material/link:", key="rj_map_submit"):
            text = typed.strip() or spelling
            if not text or target is None:
                st.error("Pick or type a spelling and pick the reason it means.")
            else:
                try:
                    key, was = map_spelling(cache.engine(), actor, text, by_name[target].id)
                except CatalogueError as problem:
                    st.error(str(problem))
                else:
                    moved = f" (it meant “{was}” before)" if was and was != target else ""
                    feedback.after_write("reasons", f"“{key}” now means “{target}”{moved}.")
    with right.form("rj_add"):
        st.markdown("**Add a reason**")
        fields = reason_fields(None)
        if st.form_submit_button("Add", icon=":material/add:"):
            try:
                add_reason(cache.engine(), actor, **fields)
            except CatalogueError as problem:
                st.error(str(problem))
            else:
                feedback.after_write("reasons", f"Added the reason “{fields['name'].strip()}”.")
    with st.expander("Edit a reason"):
        chosen = st.selectbox("Reason", list(by_name), key="rj_edit_pick")
        if chosen:
            reason = by_name[chosen]
            with st.form(f"rj_edit_{reason.id}"):
                fields = reason_fields(reason)
                if st.form_submit_button("Save", icon=":material/save:"):
                    try:
                        update_reason(cache.engine(), actor, reason.id, **fields)
                    except CatalogueError as problem:
                        st.error(str(problem))
                    else:
                        feedback.after_write("reasons", f"Saved “{fields['name'].strip()}”; old spellings still match.")
