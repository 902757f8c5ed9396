"""What the page, the CLI and the leadership meeting read of a round: `diagnose` runs the whole diagnostic, and
the one-page Markdown summary and the CLI's JSON write it out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from core.alignment.diagnostic.actions import Action, action_plan
from core.alignment.diagnostic.questions import ALIGNED, AREAS, area_name
from core.alignment.diagnostic.results import GAP_FLAG, MIN_GROUP, Results, ResultsView, results, signed_points
from core.alignment.diagnostic.signs import SignReading, measured_signs, read_signs, signs_window
from core.exports import markdown_text as md
from core.formatting import MISSING, decimal, percent
from core.funnel.segments import data_range


def summary_markdown(
    outcome: Results, readings: list[SignReading], actions: list[Action], window: tuple[dt.date, dt.date]
) -> str:
    """The diagnostic as one page of Markdown for the leadership meeting (anonymous: withheld groups show —)."""
    info = outcome.round
    out = [f"# Alignment self-diagnostic: {md(info.describe())}", ""]
    if not outcome.shown or outcome.everyone is None:
        return "\n".join([*out, md(outcome.withheld_reason or "No results."), ""])
    everyone = outcome.everyone
    out.append(
        f"{everyone.respondents} people answered ({md(outcome.view.describe())}). Answers are anonymous; no group of "
        f"fewer than {MIN_GROUP} people is shown."
    )
    levels = [g for g in outcome.groups if g.dimension == "level"]
    shown_levels = [g for g in levels if g.shown and g.agree_aligned is not None]
    if shown_levels:
        agree = "; ".join(f"{g.name.lower()} {percent(g.agree_aligned)}" for g in shown_levels)
        out += ["", f'**"Our sales and marketing teams are aligned"**: agree — {agree}.']
    columns = [everyone, *outcome.groups]
    out += ["", "## Scores by area (1 = strongly disagree, 5 = strongly agree)", ""]
    header = ["area", *(f"{g.name} ({g.respondents if g.shown else f'<{MIN_GROUP} or withheld'})" for g in columns)]
    if outcome.change:
        header.append(f"change since {outcome.previous.name if outcome.previous else 'last round'}")
    out += ["| " + " | ".join(md(h) for h in header) + " |", "|" + "---|" * len(header)]
    for area in [*AREAS, ALIGNED]:
        cells = [md(area_name(area)), *(decimal(g.areas.get(area)) if g.shown else MISSING for g in columns)]
        if outcome.change:
            delta = outcome.change.get(area)
            cells.append(MISSING if delta is None else signed_points(delta))
        out.append("| " + " | ".join(cells) + " |")
    flagged = [gap for gap in outcome.gaps if gap.flagged]
    out += ["", f"## Perception gaps of {GAP_FLAG:g} point or more", ""]
    out += [
        f"- {md(area_name(g.area))}: {md(g.left)} {g.left_score:.1f} vs {md(g.right.lower())} {g.right_score:.1f} "
        f"({g.points:+.1f})"
        for g in flagged
    ] or ["- None."]
    out += ["", f"## What the data says ({window[0]:%d %b} – {window[1]:%d %b %Y})", ""]
    out += ["| sign | measured | people say (1–5) | verdict |", "|---|---|---|---|"]
    for reading in readings:
        out.append(
            f"| {md(reading.sign.name)} | {md(reading.sign.measured)} | {decimal(reading.everyone)} | "
            f"{md(reading.verdict)}: {md(reading.explanation)} |"
        )
    out += ["", "## Action plan", ""]
    for number, action in enumerate(actions, start=1):
        out.append(f"{number}. **{md(action.title)}** — {md(action.step_text)}. In OneFunnel: {md(action.page_label)}.")
        out += [f"   - {md(reason)}" for reason in action.because]
    if not actions:
        out.append("No gap found that needs a fix.")
    return "\n".join(out) + "\n"


def diagnose(
    engine: Engine, round_id: int, view: ResultsView | None = None, *, today: dt.date
) -> tuple[Results, list[SignReading], list[Action], tuple[dt.date, dt.date]]:
    """Everything the page and the CLI show for a round: results, the signs read against them, the plan."""
    outcome = results(engine, round_id, view, today=today)
    span = data_range(engine)
    window = signs_window(outcome.round, today, span[1] if span else None)
    signs = measured_signs(engine, *window) if span else []
    readings = read_signs(signs, outcome) if outcome.shown else []
    return outcome, readings, action_plan(outcome, readings) if outcome.shown else [], window


def as_dict(outcome: Results, readings: list[SignReading], actions: list[Action]) -> dict[str, Any]:
    """For `python -m core survey results --json`."""
    return {
        "round": outcome.round.name,
        "view": outcome.view.describe(),
        "withheld": outcome.withheld_reason,
        "groups": [
            {"name": g.name, "respondents": g.respondents, "areas": g.areas, "agree_aligned": g.agree_aligned}
            for g in ([outcome.everyone] if outcome.everyone else []) + outcome.groups
        ],
        "gaps": [
            {"area": g.area, "between": g.between, "points": round(g.points, 3), "flagged": g.flagged}
            for g in outcome.gaps
        ],
        "change": outcome.change,
        "signs": [
            {
                "sign": r.sign.name,
                "measured": r.sign.measured,
                "problem": r.sign.problem,
                "said": r.everyone,
                "verdict": r.verdict,
            }
            for r in readings
        ],
        "actions": [{"title": a.title, "step": a.step, "page": a.page_label, "because": a.because} for a in actions],
    }
