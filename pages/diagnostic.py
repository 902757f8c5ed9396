"""Diagnostic (everyone answers; ops run the rounds): the misalignment self-diagnostic. Answer the survey,
read a closed round's anonymous results and perception gaps, hold them against the same signs measured in
the data, and take away three actions. Everything is computed in core.alignment.diagnostic; the forms and
cards are ui.panels.alignment, the charts ui.charts.alignment.
"""

from __future__ import annotations

import streamlit as st

from core.alignment.diagnostic.questions import AREAS, FRAMEWORK, LEVELS, area_name
from core.alignment.diagnostic.report import summary_markdown
from core.alignment.diagnostic.results import (
    GAP_FLAG,
    MIN_GROUP,
    PAIRS,
    VIEWS,
    aligned_shares,
    area_order,
    change_table,
    gap_frames,
    score_grid,
    statement_table,
)
from core.alignment.diagnostic.survey import RoundInfo
from core.formatting import MISSING, percent
from core.permissions import may
from ui import auth, cache, feedback
from ui.charts import alignment as charts
from ui.panels.alignment import action_card, answer_form, manage_rounds, sign_card
from ui.tables import show_table

user = auth.guard("read")
actor = user.actor
today = cache.org_settings().today()
st.title("Diagnostic")
st.caption(
    "Leaders often cannot see misalignment: in one Forrester survey 82% of executives believed their teams "
    "were aligned, against 35% of the people doing the work. Everyone answers the same statements; the results "
    f"show where views differ, anonymously (no group of fewer than {MIN_GROUP} people is ever shown), next to "
    "what the data says."
)
feedback.show_notice("diagnostic")

all_rounds = cache.survey_rounds()
current_round = next((r for r in all_rounds if r.status(today) == "open"), None)
closed = [r for r in all_rounds if r.status(today) == "closed"]
answer_tab, results_tab, signs_tab, plan_tab = st.tabs(["Your answers", "Results", "Data vs perception", "Action plan"])

with answer_tab:
    if current_round is not None:
        answer_form(actor, current_round, today)
    else:
        upcoming = [r for r in all_rounds if r.status(today) == "upcoming"]
        st.info(
            (f"The next round, {upcoming[-1].describe()}, opens soon." if upcoming else "No round is open for answers.")
            + " The results of past rounds are on the Results tab.",
            icon=":material/event:",
        )
    if may(user.role, "manage_survey"):
        manage_rounds(actor, all_rounds, current_round, today)

diagnosis = None
with results_tab:
    if not closed:
        st.info(
            "No round has closed yet. Results appear once a round closes, so that no single answer can be read "
            "from the numbers moving."
            + (f" {current_round.name} has {current_round.respondents} answers so far." if current_round else ""),
            icon=":material/hourglass_top:",
        )
    else:
        picks = st.columns([3, 2, 2])
        round_ = picks[0].selectbox("Round", closed, format_func=RoundInfo.describe, key="sv_round")
        view_label = picks[1].selectbox("Whose answers", list(VIEWS), key="sv_view")
        diagnosis = cache.diagnosis(round_.id, *VIEWS[view_label], today)
        result = diagnosis[0]
        if not result.shown or result.everyone is None:
            st.warning(result.withheld_reason, icon=":material/visibility_off:")
        else:
            flagged = [g for g in result.gaps if g.flagged]
            metrics = st.columns(4)
            metrics[0].metric("People who answered", f"{result.everyone.respondents}")
            metrics[0].caption(result.view.describe())
            metrics[1].metric("Gaps of a point or more", f"{len(flagged)}")
            metrics[1].caption("between executives and individual contributors, or marketing and sales")
            for column, key, short in (
                (metrics[2], "executive", "executives"),
                (metrics[3], "individual_contributor", "ICs"),
            ):
                group = result.group(key)
                column.metric(f"“We're aligned”: {short}", percent(group.agree_aligned if group else None))
                column.caption(
                    f"{LEVELS[key].lower()} who agree or strongly agree" if group else "withheld or not in this view"
                )
            if flagged:
                widest = max(flagged, key=lambda g: abs(g.points))
                st.error(
                    f"**Perception gap:** on {area_name(widest.area).lower()}, {widest.left.lower()} score "
                    f"{widest.left_score:.1f} and {widest.right.lower()} {widest.right_score:.1f}. "
                    f"{len(flagged)} gaps of {GAP_FLAG:g} point or more in all.",
                    icon=":material/flag:",
                )
            st.subheader("Scores by area")
            st.caption(
                "Mean agreement of each group, 1 = strongly disagree, 5 = strongly agree. "
                f"\\*Withheld: fewer than {MIN_GROUP} people, or a group that would let someone work out a smaller "
                "one by subtraction."
            )
            st.altair_chart(charts.heatmap(score_grid(result), area_order()), width="stretch")
            st.subheader("Where views differ")
            pairs = [between for between, _, _ in PAIRS if any(g.between == between for g in result.gaps)]
            if not pairs:
                st.info("This view has no pair of groups large enough to compare.", icon=":material/info:")
            else:
                st.caption(f"Red, with ⚑: the two groups are {GAP_FLAG:g} point or more apart on the 1–5 scale.")
            for between in pairs:
                st.markdown(f"**{between}**")
                st.altair_chart(charts.gap_chart(*gap_frames(result, between), area_order()), width="stretch")
            shares = aligned_shares(result)
            if not shares.empty:
                st.markdown('**"Our sales and marketing teams are aligned": share who agree, by level**')
                st.altair_chart(charts.aligned_chart(shares, list(LEVELS.values())), width="stretch")
            if result.previous is not None:
                st.subheader(f"Change since {result.previous.name}")
                if result.change:
                    st.dataframe(
                        change_table(result),
                        hide_index=True,
                        column_config={"Score now": st.column_config.NumberColumn(format="%.1f")},
                        placeholder=MISSING,
                    )
                else:
                    st.caption("Not comparable: this group was withheld in the previous round.")
            with st.expander("Every statement"):
                show_table(
                    statement_table(result),
                    column_config={"mean": st.column_config.NumberColumn("Mean agreement", format="%.1f")},
                )

shown = diagnosis if diagnosis is not None and diagnosis[0].shown else None
with signs_tab:
    if shown is None:
        st.info("Pick a closed round with enough answers on the Results tab.", icon=":material/info:")
    else:
        result, readings, actions, window = shown
        st.caption(
            f"Six common signs of misalignment, measured in your data of {window[0]:%d %b} – {window[1]:%d %b %Y} "
            "(the 13 weeks up to the round's close), next to the statement that asks people about each. People's "
            "view is the mean agreement, 1–5; under 3 means they see a problem."
        )
        agree = sum(1 for r in readings if r.agree is True)
        disagree = sum(1 for r in readings if r.agree is False)
        st.markdown(
            f"**The answers and the data agree on {agree} of {len(readings)} signs; they disagree on {disagree}.**"
        )
        for reading in readings:
            sign_card(reading)

with plan_tab:
    if shown is None:
        st.info("Pick a closed round with enough answers on the Results tab.", icon=":material/info:")
    else:
        result, readings, actions, window = shown
        st.caption(
            "The three fixes with the highest priority: how far an area's score falls short of 3.5, its widest "
            "perception gap, and the problems the data measures in it. Each is a step of the seven-step alignment "
            "framework, done on a OneFunnel page."
        )
        if not actions:
            st.success(
                "No area falls short and the data shows no problem: keep the cadence.", icon=":material/check_circle:"
            )
        for number, action in enumerate(actions, start=1):
            action_card(number, action, FRAMEWORK[action.step], AREAS[action.area].name, user.role)
        st.download_button(
            "Download the one-page summary (Markdown)",
            summary_markdown(result, readings, actions, window),
            file_name=f"alignment-diagnostic-{result.round.name.replace(' ', '-').lower()}.md",
            mime="text/markdown",
            icon=":material/download:",
            key="sv_download",
        )
