"""Diagnostic (everyone answers; ops run the rounds): the misalignment self-diagnostic. Answer the survey,
read a closed round's anonymous results and perception gaps, hold them against the same signs measured in
the data, and take away three actions. Everything is computed in core.alignment.diagnostic; this page lays it out.
"""

from __future__ import annotations

import datetime as dt

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core.alignment.diagnostic import (
    ALIGNED,
    AREAS,
    FRAMEWORK,
    GAP_FLAG,
    LEVELS,
    MIN_GROUP,
    SCALE,
    STATEMENTS,
    TEAMS,
    Action,
    GroupScores,
    Results,
    RoundInfo,
    SignReading,
    SurveyError,
    area_name,
    close_round,
    my_answer,
    open_round,
    signed_points,
    submit_answer,
    suggested_tags,
    summary_markdown,
)
from core.exports import inert
from core.funnel.scoreboard import percent
from core.permissions import Actor, PermissionDenied, may
from ui import auth, cache, feedback
from ui.menu import may_open

BAD, GOOD, WARN, MUTED = "#dc2626", "#16a34a", "#d97706", "#9ca3af"
PAIR_COLOURS = {
    "Executives": "#7c3aed",
    "Individual contributors": "#0891b2",
    "Marketing": "#db2777",
    "Sales": "#2563eb",
}
VERDICTS = {  # verdict: (colour word for markdown, icon, heading)
    "confirmed": ("red", ":material/check:", "Confirmed: both see the problem"),
    "blind spot": ("red", ":material/visibility_off:", "Blind spot: the data shows a problem the answers do not"),
    "felt, not measured": ("orange", ":material/help:", "Felt, not measured"),
    "healthy": ("green", ":material/check_circle:", "Agree: no problem"),
    "unknown": ("gray", ":material/remove:", "Cannot compare"),
}
EVERYONE = "Everyone"

user = auth.guard("read")
actor = Actor(user.username, user.role)  # type: ignore[arg-type]
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


# --- Your answers --------------------------------------------------------------------------------------------
def answer_form(round_: RoundInfo) -> None:
    mine = my_answer(cache.engine(), actor, round_.id)  # per person: read fresh, never cached
    team, level = (mine.team, mine.level) if mine else suggested_tags(user.role)
    if mine:
        st.success(
            f"You answered on {mine.submitted_at:%d %b %Y}. You can change your answers until the round closes on "
            f"{round_.closes_on:%d %b %Y}.",
            icon=":material/task_alt:",
        )
    else:
        st.info(
            f"**{inert(round_.name)}** is open until {round_.closes_on:%d %b %Y}: about five minutes, fifteen "
            "statements.",
            icon=":material/edit_note:",
        )
    with st.form("survey_answers"):
        tags = st.columns(2)
        teams, levels = list(TEAMS), list(LEVELS)
        picked_team = tags[0].radio(
            "Your team", teams, index=teams.index(team), format_func=TEAMS.get, horizontal=True, key="sv_team"
        )
        picked_level = tags[1].radio(
            "Your level",
            levels,
            index=levels.index(level) if level else None,
            format_func=lambda key: LEVELS[key][:-1] if key != "individual_contributor" else "Individual contributor",
            horizontal=True,
            key="sv_level",
        )
        st.caption(
            "Your answers are stored with your name only so that you can change them; results show groups of "
            f"{MIN_GROUP} or more, never a person."
        )
        scores: dict[str, int | None] = {}
        shown_area = None
        for statement in STATEMENTS:
            if statement.area != shown_area:
                shown_area = statement.area
                st.markdown(f"**{area_name(statement.area) if statement.area != ALIGNED else 'Overall'}**")
            before = mine.scores.get(statement.key) if mine else None
            scores[statement.key] = st.radio(
                statement.text,
                list(SCALE),
                index=before - 1 if before else None,
                format_func=lambda value: f"{value} · {SCALE[value]}",
                horizontal=True,
                key=f"sv_{statement.key}",
            )
        submitted = st.form_submit_button("Save my answers", type="primary", key="sv_submit")
    if submitted:
        try:
            submit_answer(cache.engine(), actor, round_.id, picked_team, picked_level or "", scores, today=today)
        except (SurveyError, PermissionDenied) as problem:
            st.error(f"Not saved: {problem}", icon=":material/error:")
        else:
            feedback.after_write(
                "diagnostic", f"Saved your answers to {round_.name}. You can change them until it closes."
            )


def manage_rounds() -> None:
    with st.expander("Run the rounds (ops)", icon=":material/settings:"):
        if all_rounds:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "round": r.name,
                            "opens": r.opens_on,
                            "closes": r.last_day,
                            "status": r.status(today),
                            "answers": r.respondents,
                        }
                        for r in all_rounds
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
        if current_round is not None:
            st.markdown(f"**{inert(current_round.name)}** is open until {current_round.closes_on:%d %b %Y}.")
            sure = st.checkbox("Close it today: answers become final and results appear", key="sv_close_sure")
            if st.button("Close the round now", disabled=not sure, key="sv_close"):
                try:
                    close_round(cache.engine(), actor, current_round.id, today=today)
                except (SurveyError, PermissionDenied) as problem:
                    st.error(str(problem))
                else:
                    feedback.after_write(
                        "diagnostic", f"Closed {current_round.name}; its results are on the Results tab."
                    )
        with st.form("sv_open_round", clear_on_submit=True):
            st.markdown("**Open a new round**")
            cells = st.columns(3)
            name = cells[0].text_input(
                "Name", key="sv_open_name", placeholder=f"Q{(today.month - 1) // 3 + 1} {today.year} pulse"
            )
            opens_on = cells[1].date_input("Opens", today)
            closes_on = cells[2].date_input("Closes (included)", today + dt.timedelta(days=13))
            if st.form_submit_button("Open the round", key="sv_open_submit"):
                try:
                    opened = open_round(cache.engine(), actor, name, opens_on, closes_on, today=today)
                except (SurveyError, PermissionDenied) as problem:
                    st.error(f"Not opened: {problem}")
                else:
                    feedback.after_write("diagnostic", f"Opened {opened.describe()}.")


with answer_tab:
    if current_round is not None:
        answer_form(current_round)
    else:
        upcoming = [r for r in all_rounds if r.status(today) == "upcoming"]
        st.info(
            (f"The next round, {upcoming[-1].describe()}, opens soon." if upcoming else "No round is open for answers.")
            + " The results of past rounds are on the Results tab.",
            icon=":material/event:",
        )
    if may(user.role, "manage_survey"):
        manage_rounds()


# --- Results -------------------------------------------------------------------------------------------------
def view_choices() -> dict[str, tuple[str | None, str | None]]:
    choices: dict[str, tuple[str | None, str | None]] = {EVERYONE: (None, None)}
    choices |= {f"Team: {name}": (key, None) for key, name in TEAMS.items()}
    choices |= {f"Level: {name}": (None, key) for key, name in LEVELS.items()}
    return choices


def column_label(group: GroupScores) -> str:
    """Two lines under the heat map's column: the group, then how many people (a "|" splits the label)."""
    return f"{group.name}|{group.respondents} people" if group.shown else f"{group.name}|withheld"


def heatmap(result: Results) -> alt.LayerChart:
    columns = [result.everyone, *result.groups]
    rows = []
    for group in columns:
        assert group is not None
        for area in [*AREAS, ALIGNED]:
            score = group.areas.get(area) if group.shown else None
            rows.append(
                {
                    "area": area_name(area),
                    "group": column_label(group),
                    "score": score,
                    "label": f"{score:.1f}" if score is not None else f"<{MIN_GROUP}*",
                }
            )
    frame = pd.DataFrame(rows)
    order = [column_label(g) for g in columns if g is not None]
    areas = [area_name(a) for a in [*AREAS, ALIGNED]]
    base = alt.Chart(frame).encode(
        x=alt.X(
            "group:N",
            sort=order,
            title=None,
            axis=alt.Axis(
                labelAngle=0, labelLimit=120, orient="top", labelOverlap=False, labelExpr="split(datum.value, '|')"
            ),
        ),
        y=alt.Y("area:N", sort=areas, title=None, axis=alt.Axis(labelLimit=260)),
    )
    cells = base.mark_rect(stroke="white", strokeWidth=2).encode(
        color=alt.condition(
            "datum.score == null",
            alt.value("#e5e7eb"),
            alt.Color(
                "score:Q",
                scale=alt.Scale(domain=[1, 3, 5], range=[BAD, "#fde68a", GOOD]),
                legend=alt.Legend(title="Mean agreement (1–5)", orient="bottom"),
            ),
        ),
        tooltip=[alt.Tooltip("area:N"), alt.Tooltip("group:N"), alt.Tooltip("score:Q", format=".2f")],
    )
    text = base.mark_text(fontSize=13).encode(text="label:N")
    return (cells + text).properties(height=alt.Step(34))


def gap_chart(result: Results, between: str) -> alt.LayerChart | None:
    gaps = [g for g in result.gaps if g.between == between]
    if not gaps:
        return None
    areas = [area_name(a) for a in [*AREAS, ALIGNED]]
    lines = pd.DataFrame(
        [
            {
                "area": area_name(g.area),
                "low": min(g.left_score, g.right_score),
                "high": max(g.left_score, g.right_score),
                "gap": f"{abs(g.points):.1f} pt" + (" ⚑" if g.flagged else ""),
                "flagged": "1 point or more" if g.flagged else "under 1 point",
            }
            for g in gaps
        ]
    )
    dots = pd.DataFrame(
        [{"area": area_name(g.area), "group": g.left, "score": g.left_score} for g in gaps]
        + [{"area": area_name(g.area), "group": g.right, "score": g.right_score} for g in gaps]
    )
    pair = [gaps[0].left, gaps[0].right]
    y = alt.Y("area:N", sort=areas, title=None, axis=alt.Axis(labelLimit=260))
    rule = (
        alt.Chart(lines)
        .mark_rule(strokeWidth=4)
        .encode(
            y=y,
            x=alt.X(
                "low:Q",
                scale=alt.Scale(domain=[1, 5.6]),
                axis=alt.Axis(values=[1, 2, 3, 4, 5]),
                title="Mean agreement (1 = strongly disagree, 5 = strongly agree)",
            ),
            x2="high:Q",
            color=alt.Color(
                "flagged:N",
                scale=alt.Scale(domain=["1 point or more", "under 1 point"], range=[BAD, "#d1d5db"]),
                legend=alt.Legend(title="Gap"),
            ),
        )
    )
    points = (
        alt.Chart(dots)
        .mark_circle(size=140, opacity=1)
        .encode(
            y=y,
            x="score:Q",
            fill=alt.Fill(
                "group:N",
                scale=alt.Scale(domain=pair, range=[PAIR_COLOURS[name] for name in pair]),
                legend=alt.Legend(title=None),
            ),
            tooltip=["group:N", "area:N", alt.Tooltip("score:Q", format=".2f")],
        )
    )
    labels = alt.Chart(lines).mark_text(align="left", dx=10, fontSize=12).encode(y=y, x="high:Q", text="gap:N")
    return (rule + points + labels).properties(height=alt.Step(30)).resolve_scale(color="independent")


def aligned_chart(result: Results) -> alt.Chart | None:
    rows = [
        {"group": g.name, "agree": g.agree_aligned, "label": percent(g.agree_aligned)}
        for g in result.groups
        if g.dimension == "level" and g.shown and g.agree_aligned is not None
    ]
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    base = alt.Chart(frame).encode(
        y=alt.Y("group:N", sort=list(LEVELS.values()), title=None, axis=alt.Axis(labelLimit=260)),
        x=alt.X("agree:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%"), title="Agree or strongly agree"),
    )
    bars = base.mark_bar(color="#7c3aed", height=22)
    text = base.mark_text(align="left", dx=6, fontSize=13).encode(text="label:N")
    return (bars + text).properties(height=alt.Step(36))


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
        choices = view_choices()
        view_label = picks[1].selectbox("Whose answers", list(choices), key="sv_view")
        team, level = choices[view_label]
        diagnosis = cache.diagnosis(round_.id, team, level, today)
        result = diagnosis[0]
        if not result.shown or result.everyone is None:
            st.warning(result.withheld_reason, icon=":material/visibility_off:")
        else:
            everyone = result.everyone
            flagged = [g for g in result.gaps if g.flagged]
            levels_shown = {g.key: g for g in result.groups if g.dimension == "level" and g.shown}
            metrics = st.columns(4)
            metrics[0].metric("People who answered", f"{everyone.respondents}")
            metrics[0].caption(result.view.describe())
            metrics[1].metric("Gaps of a point or more", f"{len(flagged)}")
            metrics[1].caption("between executives and individual contributors, or marketing and sales")
            for column, key, short in (
                (metrics[2], "executive", "executives"),
                (metrics[3], "individual_contributor", "ICs"),
            ):
                group = levels_shown.get(key)
                column.metric(
                    f"“We're aligned”: {short}",
                    percent(group.agree_aligned) if group and group.agree_aligned is not None else "—",
                )
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
            st.altair_chart(heatmap(result), width="stretch")
            st.subheader("Where views differ")
            pairs = [
                b
                for b in ("Executives vs individual contributors", "Marketing vs sales")
                if any(g.between == b for g in result.gaps)
            ]
            if not pairs:
                st.info("This view has no pair of groups large enough to compare.", icon=":material/info:")
            for between in pairs:
                chart = gap_chart(result, between)
                if chart is not None:
                    st.markdown(f"**{between}**")
                    st.altair_chart(chart, width="stretch")
            aligned = aligned_chart(result)
            if aligned is not None:
                st.markdown('**"Our sales and marketing teams are aligned": share who agree, by level**')
                st.altair_chart(aligned, width="stretch")
            if result.previous is not None:
                st.subheader(f"Change since {result.previous.name}")
                if result.change:
                    changes = pd.DataFrame(
                        [
                            {
                                "area": area_name(area),
                                "now": everyone.areas.get(area),
                                "change": signed_points(delta),
                            }
                            for area in [*AREAS, ALIGNED]
                            if (delta := result.change.get(area)) is not None
                        ]
                    )
                    st.dataframe(
                        changes,
                        hide_index=True,
                        column_config={"now": st.column_config.NumberColumn("score now", format="%.1f")},
                    )
                else:
                    st.caption("Not comparable: this group was withheld in the previous round.")
            with st.expander("Every statement"):
                st.dataframe(
                    pd.DataFrame(
                        [
                            {
                                "area": area_name(s.area) if s.area != ALIGNED else "Overall",
                                "statement": s.text,
                                "mean": everyone.statements.get(s.key),
                            }
                            for s in STATEMENTS
                        ]
                    ),
                    hide_index=True,
                    width="stretch",
                    column_config={"mean": st.column_config.NumberColumn(format="%.1f")},
                )


# --- Data vs perception --------------------------------------------------------------------------------------
def shown_diagnosis() -> tuple[Results, list[SignReading], list[Action], tuple[dt.date, dt.date]] | None:
    """The Results tab's round, when it has results to show; else a pointer to that tab."""
    if diagnosis is None or not diagnosis[0].shown:
        st.info("Pick a closed round with enough answers on the Results tab.", icon=":material/info:")
        return None
    return diagnosis


with signs_tab:
    if (shown := shown_diagnosis()) is not None:
        result, readings, actions, window = shown
        st.caption(
            f"The signs of misalignment from the seeds, measured in the data of {window[0]:%d %b} – "
            f"{window[1]:%d %b %Y} (the 13 weeks up to the round's close), next to the statement that asks about "
            "each. People's view is the mean agreement, 1–5; under 3 means they see a problem."
        )
        agree = sum(1 for r in readings if r.agree is True)
        disagree = sum(1 for r in readings if r.agree is False)
        st.markdown(
            f"**The answers and the data agree on {agree} of {len(readings)} signs; they disagree on {disagree}.**"
        )
        for reading in readings:
            colour, icon, heading = VERDICTS[reading.verdict]
            with st.container(border=True):
                cells = st.columns([3, 2, 3])
                state = {True: ":red[problem]", False: ":green[fine]", None: ":gray[no data]"}[reading.sign.problem]
                cells[0].markdown(f"**{reading.sign.name}** — {state}  \n{reading.sign.measured}.")
                said = lambda value: "—" if value is None else f"{value:.1f}"  # noqa: E731
                cells[1].markdown(
                    f"*{next(s.text for s in STATEMENTS if s.key == reading.sign.statement)}*  \n"
                    f"Everyone **{said(reading.everyone)}** · executives {said(reading.executives)} · "
                    f"individual contributors {said(reading.contributors)}"
                )
                cells[2].markdown(
                    f":{colour}[{icon} **{heading}**]  \n{reading.explanation[0].upper()}{reading.explanation[1:]}."
                )


# --- Action plan ---------------------------------------------------------------------------------------------
with plan_tab:
    if (shown := shown_diagnosis()) is not None:
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
            with st.container(border=True):
                st.markdown(f"#### {number}. {action.title}")
                st.caption(f"Step {action.step} of the framework: {FRAMEWORK[action.step]} · {AREAS[action.area].name}")
                st.markdown("\n".join(f"- {reason}" for reason in action.because))
                if may_open(user.role, action.page):
                    try:
                        st.page_link(action.page, label=f"Open {action.page_label}", icon=":material/arrow_forward:")
                    except StreamlitPageNotFoundError:  # this file run on its own, outside app.py's menu (tests)
                        st.caption(f"Done on the {action.page_label} page.")
                else:
                    st.caption(f"Done on the {action.page_label} page, by ops.")
        st.download_button(
            "Download the one-page summary (Markdown)",
            summary_markdown(result, readings, actions, window),
            file_name=f"alignment-diagnostic-{result.round.name.replace(' ', '-').lower()}.md",
            mime="text/markdown",
            icon=":material/download:",
            key="sv_download",
        )
