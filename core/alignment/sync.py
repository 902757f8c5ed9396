"""The weekly sync: the 30-minute meeting of marketing ops and sales ops, its agenda written by the data.

Five sections every week (the seeds' cadence), each with its time box and numbers from the KPI engine and the
rejections explorer, so that patterns show from week to week. A meeting is recorded per ISO week: notes per
section, attendees, and actions per team with owner, due date and status. Ops edit it until it is closed;
after that core refuses every change to it. Last week's open actions come up at the top of the next meeting,
to be marked done, dropped, or carried over (a carried action is copied into this week's meeting).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from core.audit import record
from core.db import read_scope, retrying, session_scope
from core.exports import markdown_text as md
from core.exports import to_safe_csv
from core.funnel.kpis import Filters, KpiQuery, kpi_table, mql_target
from core.funnel.scoreboard import SLA_FLAG_BELOW, percent
from core.models import SyncAction, SyncMeeting, utcnow
from core.periods import week_start
from core.permissions import Actor, require
from core.rejections.explorer import RejectionQuery, by_reason, complete_weeks, overview, recurring_tops, weekly


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    minutes: int


SECTIONS: tuple[Section, ...] = (
    Section("volume", "MQL volume vs target", 5),
    Section("conversion", "MQL→SQL conversion", 5),
    Section("rejections", "Rejection analysis", 10),
    Section("sla", "Response-SLA compliance", 5),
    Section("actions", "Next week's actions", 5),
)
TEAMS = {"marketing": "Marketing", "sales": "Sales", "ops": "Ops"}
Status = Literal["open", "done", "carried over", "dropped"]
STATUSES: tuple[Status, ...] = ("open", "done", "carried over", "dropped")
EDITABLE_STATUSES: tuple[Status, ...] = ("open", "done", "dropped")
MIN_MQLS_TO_RANK = 5  # a source or owner with fewer MQLs in the week is listed, not ranked
TREND_WEEKS = 13


class SyncError(ValueError):
    """A change to a meeting that cannot be made as asked; nothing was changed."""


# ------------------------------------------------------------------ the agenda


@dataclass(frozen=True)
class Agenda:
    week: dt.date  # Monday of the ISO week
    last_day: dt.date  # Sunday
    company: pd.Series = field(repr=False)  # the week's KPI row (core.funnel.kpis), company-wide
    previous: pd.Series = field(repr=False)  # the week before
    month: pd.Series = field(
        repr=False
    )  # the week's month (its Thursday's), to the week's end; the whole month's target
    month_days: tuple[int, int]  # days of that month covered, days in the month
    by_source: pd.DataFrame = field(repr=False)  # source, mqls, previous_mqls, sqls, mql_to_sql, dispositioned
    reasons: pd.DataFrame = field(repr=False)  # the week's rejection reasons (core.rejections.by_reason)
    streaks: list[str]  # the recurring-reason flags over the 13 weeks to this one
    unqualified_share: float
    rejection_gate: float
    by_owner: pd.DataFrame = field(repr=False)  # owner, sla_met, sla_breached, sla_compliance, median_response_hours
    share_unavailable: str | None = None  # why the unqualified share cannot be counted from what was imported

    @property
    def label(self) -> str:
        iso = self.week.isocalendar()
        return f"Week {iso.week}, {iso.year} ({self.week:%d %b} – {self.last_day:%d %b %Y})"

    def month_projection(self) -> float:
        """MQLs the month is heading for at the pace so far."""
        done, total = self.month_days
        return float(self.month["mqls"]) * total / done if done else math.nan  # multiplied first: 61 * 28 / 28 is 61

    def points(self) -> list[str]:
        """The agenda's numbers as short lines, one group per section, for the page, the export and history."""
        return [line for section in SECTIONS for line in self.section_lines(section.key)]

    def section_lines(self, key: str) -> list[str]:
        c, p, m = self.company, self.previous, self.month
        if key == "volume":
            target = m["mql_target"]
            lines = [f"{int(c['mqls']):,} MQLs this week ({_signed(c['mqls'] - p['mqls'])} on last week)."]
            if _known(target) and target:
                projection = self.month_projection()
                on_track = "on track" if projection >= target else "behind"
                lines.append(
                    f"Month to date {int(m['mqls']):,} of a {target:,.0f} target ({percent(m['mqls'] / target)}), "
                    f"heading for {projection:,.0f}: {on_track}."
                )
            else:
                lines.append(f"Month to date {int(m['mqls']):,}; no MQL target for the month.")
            return lines
        gone = c["unavailable"] if isinstance(c.get("unavailable"), dict) else {}
        if key == "conversion" and "mql_to_sql" in gone:
            return [f"MQL→SQL conversion not available: {gone['mql_to_sql']}."]
        if key == "conversion":
            now, before = c["mql_to_sql"], p["mql_to_sql"]
            change = f"{(now - before) * 100:+.1f} points on last week" if _known(now) and _known(before) else ""
            lines = [
                f"MQL→SQL conversion {percent(now)} ({int(c['sqls']):,} of {int(c['mqls']):,})"
                + (f", {change}" if change else "")
                + f"; gate {percent(c['conversion_gate'])}.",
                f"{int(c['dispositioned']):,} of the week's {int(c['mqls']):,} MQLs are decided so far.",
            ]
            young = c["maturity_days"] if isinstance(c.get("maturity_days"), dict) else {}
            if "mql_to_sql" in young:
                lines.append(
                    f"Still maturing: 9 in 10 SQLs come within {young['mql_to_sql']:.0f} days of the MQL date, "
                    "so this week's rate will still rise."
                )
            ranked = self.by_source[self.by_source["mqls"] >= MIN_MQLS_TO_RANK].sort_values(
                ["mql_to_sql", "mqls"], ascending=[False, False]
            )
            if not ranked.empty:
                best = ", ".join(f"{row.source} {percent(row.mql_to_sql)}" for row in ranked.head(3).itertuples())
                lines.append(f"Best converting sources: {best}.")
            return lines
        if key == "rejections":
            lines = [
                f"Unqualified share {percent(self.unqualified_share)} (gate {percent(self.rejection_gate)})."
                if _known(self.unqualified_share)
                else f"Unqualified share not available: {self.share_unavailable}."
                if self.share_unavailable
                else "No MQL of the week has been accepted or rejected yet."
            ]
            if not self.reasons.empty:
                top = ", ".join(
                    f"{row.reason} {int(row.rejections)} ({percent(row.share)})"
                    for row in self.reasons.head(3).itertuples()
                )
                lines.append(f"Top reasons: {top}.")
            lines += [f"Recurring: {sentence}" for sentence in self.streaks]
            return lines
        if key == "sla":
            judged = int(c["sla_met"] + c["sla_breached"])
            lines = [
                f"SLA compliance {percent(c['sla_compliance'])} ({int(c['sla_met']):,} of {judged:,} within "
                f"{c['sla_hours']:g} {'business ' if c['sla_business_hours'] else ''}hours); "
                f"median response {_hours(c['median_response_hours'])}."
                if judged
                else f"SLA compliance not available: {gone['sla_compliance']}."
                if "sla_compliance" in gone
                else "No MQL of the week could be judged against the SLA yet."
            ]
            slow = self.bottlenecks()
            if not slow.empty:
                names = ", ".join(
                    f"{row.owner} {percent(row.sla_compliance)} ({int(row.sla_breached)} breached)"
                    for row in slow.itertuples()
                )
                lines.append(f"Bottleneck owners: {names}.")
            return lines
        return []

    def bottlenecks(self) -> pd.DataFrame:
        """Owners under the SLA flag with enough MQLs to judge, the most breaches first."""
        owners = self.by_owner
        judged = owners["sla_met"] + owners["sla_breached"]
        slow = owners[(judged >= MIN_MQLS_TO_RANK) & (owners["sla_compliance"] < SLA_FLAG_BELOW)]
        return slow.sort_values(["sla_breached", "owner"], ascending=[False, True]).head(3)


def _known(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def _signed(value: float) -> str:
    return f"{value:+,.0f}"


def _hours(value: float) -> str:
    return "—" if not _known(value) else f"{value:.1f} h"


def agenda(engine: Engine, week: dt.date, *, as_of: dt.datetime | None = None) -> Agenda:
    """The agenda of the ISO week that contains `week`, from the KPI engine and the rejections explorer."""
    monday = week_start(week)
    sunday = monday + dt.timedelta(days=6)
    before = monday - dt.timedelta(days=7)
    as_of = as_of or utcnow()
    # One pass of the KPI engine for both weeks, company-wide and by source: a row per ISO week.
    weeks_of = kpi_table(engine, KpiQuery(before, sunday, "week", as_of=as_of)).set_index("period_start")
    previous, company = weeks_of.loc[before], weeks_of.loc[monday]
    # The week's month is its Thursday's (as its ISO year is): a week from 26 Oct to 1 Nov is October's.
    month_first = (monday + dt.timedelta(days=3)).replace(day=1)
    month_end = (month_first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    to_date = min(sunday, month_end)
    month = kpi_table(engine, KpiQuery(month_first, to_date, "range", as_of=as_of)).iloc[0].copy()
    # The month's whole target, not the share of its days so far: "on track" compares the pace with it.
    month["mql_target"] = mql_target(engine, month_first, month_end)
    sources = kpi_table(engine, KpiQuery(before, sunday, "week", "source", as_of=as_of))
    sources_now = sources[sources["period_start"] == monday]
    sources_before = sources[sources["period_start"] == before]
    by_source = (
        sources_now[["group", "mqls", "sqls", "mql_to_sql", "dispositioned"]]
        .merge(sources_before[["group", "mqls"]].rename(columns={"mqls": "previous_mqls"}), on="group", how="outer")
        .fillna({"mqls": 0, "sqls": 0, "dispositioned": 0, "previous_mqls": 0})
        .rename(columns={"group": "source"})
    )
    by_source = by_source[(by_source["mqls"] > 0) | (by_source["previous_mqls"] > 0)]
    by_source = by_source.sort_values(["mqls", "source"], ascending=[False, True]).reset_index(drop=True)
    owners = kpi_table(engine, KpiQuery(monday, sunday, "range", "owner", as_of=as_of))
    by_owner = owners[["group", "mqls", "sla_met", "sla_breached", "sla_compliance", "median_response_hours"]].rename(
        columns={"group": "owner"}
    )
    week_query = RejectionQuery(monday, sunday, Filters())
    summary = overview(engine, week_query)
    trend_first = monday - dt.timedelta(weeks=TREND_WEEKS - 1)
    trend = weekly(engine, RejectionQuery(trend_first, sunday, Filters()))
    weeks = complete_weeks(trend_first, sunday, sunday + dt.timedelta(days=1))
    # Only streaks that reach this week are this meeting's news; older ones were last weeks'.
    streaks = [s.sentence() for s in recurring_tops(trend, weeks) if s.weeks[-1] == monday]
    return Agenda(
        week=monday,
        last_day=sunday,
        company=company,
        previous=previous,
        month=month,
        month_days=((to_date - month_first).days + 1, (month_end - month_first).days + 1),
        by_source=by_source,
        reasons=by_reason(engine, week_query),
        streaks=streaks,
        unqualified_share=summary.unqualified_share,
        rejection_gate=summary.rejection_gate,
        by_owner=by_owner,
        share_unavailable=summary.share_unavailable,
    )


# ------------------------------------------------------------------ the meeting record


@dataclass(frozen=True)
class ActionInfo:
    id: int
    meeting_id: int
    week: dt.date
    team: str
    text: str
    owner: str
    due: dt.date | None
    status: str
    carried_from: int | None
    reviewed_in: int | None


@dataclass(frozen=True)
class MeetingInfo:
    id: int
    week: dt.date
    status: str  # "open" or "closed"
    notes: dict[str, str]
    attendees: list[str]
    revision: int
    created_by: str
    closed_at: dt.datetime | None
    closed_by: str | None
    numbers: dict[str, list[str]]  # per section, the agenda's lines as they stood when the meeting was closed
    actions: list[ActionInfo] = field(default_factory=list)

    @property
    def closed(self) -> bool:
        return self.status == "closed"


def _action(action: SyncAction, week: dt.date) -> ActionInfo:
    return ActionInfo(
        action.id,
        action.meeting_id,
        week,
        action.team,
        action.text,
        action.owner,
        action.due,
        action.status,
        action.carried_from,
        action.reviewed_in,
    )


def _meeting(session: Any, meeting: SyncMeeting) -> MeetingInfo:
    actions = session.scalars(
        select(SyncAction).where(SyncAction.meeting_id == meeting.id).order_by(SyncAction.id)
    ).all()
    return MeetingInfo(
        meeting.id,
        meeting.week,
        meeting.status,
        dict(meeting.notes or {}),
        list(meeting.attendees or []),
        meeting.revision,
        meeting.created_by,
        meeting.closed_at,
        meeting.closed_by,
        {key: list(lines) for key, lines in dict(meeting.numbers or {}).items()},
        [_action(action, meeting.week) for action in actions],
    )


def _record(session: Any, actor: Actor, action: str, meeting: SyncMeeting, **detail: Any) -> None:
    record(
        session,
        actor=actor.username,
        action=action,
        entity="sync_meeting",
        entity_key=meeting.week.isoformat(),
        detail=detail,
    )


def meeting_for(engine: Engine, week: dt.date) -> MeetingInfo | None:
    """The record of the ISO week containing `week`, if the meeting was opened."""
    with read_scope(engine) as session:
        meeting = session.scalar(select(SyncMeeting).where(SyncMeeting.week == week_start(week)))
        return None if meeting is None else _meeting(session, meeting)


@retrying
def open_meeting(engine: Engine, actor: Actor, week: dt.date) -> MeetingInfo:
    """Starts the record of a week's meeting (or returns it if it exists): ops run the sync."""
    require(actor, "run_sync")
    monday = week_start(week)
    try:
        with session_scope(engine) as session:
            meeting = session.scalar(select(SyncMeeting).where(SyncMeeting.week == monday))
            if meeting is None:
                meeting = SyncMeeting(week=monday, status="open", notes={}, attendees=[], numbers={}, revision=1)
                meeting.created_by = actor.username
                session.add(meeting)
                session.flush()
                _record(session, actor, "open", meeting)
            return _meeting(session, meeting)
    except IntegrityError:  # two people opened the same week at once: the other one's record stands
        found = meeting_for(engine, monday)
        assert found is not None
        return found


def _editable(session: Any, meeting_id: int, revision: int | None = None) -> SyncMeeting:
    meeting = session.get(SyncMeeting, meeting_id, with_for_update=True)
    if meeting is None:
        raise SyncError(f"there is no meeting {meeting_id}")
    if meeting.status == "closed":
        raise SyncError(f"the sync of the week of {meeting.week:%d %b %Y} is closed; its record is read-only")
    if revision is not None and meeting.revision != revision:
        raise SyncError("someone saved this meeting since you opened it; reload to see their changes")
    return meeting


@retrying
def save_notes(
    engine: Engine,
    actor: Actor,
    meeting_id: int,
    notes: dict[str, str],
    attendees: list[str],
    *,
    revision: int | None = None,
) -> MeetingInfo:
    """Notes per section and who attended; refused once the meeting is closed or if someone saved meanwhile."""
    require(actor, "run_sync")
    unknown = sorted(set(notes) - {section.key for section in SECTIONS})
    if unknown:
        raise SyncError(f"unknown sections {', '.join(unknown)}")
    cleaned = {key: text.strip() for key, text in notes.items() if text and text.strip()}
    people = list(dict.fromkeys(" ".join(name.split()) for name in attendees if name and name.strip()))
    with session_scope(engine) as session:
        meeting = _editable(session, meeting_id, revision)
        before = {"notes": dict(meeting.notes or {}), "attendees": list(meeting.attendees or [])}
        meeting.notes, meeting.attendees = cleaned, people
        meeting.revision += 1
        meeting.updated_at, meeting.updated_by = utcnow(), actor.username
        _record(session, actor, "edit", meeting, before=before, after={"notes": cleaned, "attendees": people})
        return _meeting(session, meeting)


def _check_action(team: str, text: str, owner: str, due: dt.date | None) -> tuple[str, str]:
    if team not in TEAMS:
        raise SyncError(f"team {team!r} is not one of {', '.join(TEAMS)}")
    text, owner = " ".join(text.split()), " ".join(owner.split())
    if not text:
        raise SyncError("an action needs a description of what will be done")
    if not owner:
        raise SyncError("an action needs an owner: one person who answers for it")
    if len(text) > 500 or len(owner) > 128:
        raise SyncError("an action is at most 500 characters and its owner's name 128")
    if due is None:
        raise SyncError("an action needs a due date")
    return text, owner


@retrying
def add_action(
    engine: Engine, actor: Actor, meeting_id: int, team: str, text: str, owner: str, due: dt.date | None
) -> ActionInfo:
    """A next action for one team, owned by one person, due by a date."""
    require(actor, "run_sync")
    text, owner = _check_action(team, text, owner, due)
    with session_scope(engine) as session:
        meeting = _editable(session, meeting_id)
        action = SyncAction(meeting_id=meeting.id, team=team, text=text, owner=owner, due=due, status="open")
        action.created_by = action.updated_by = actor.username
        session.add(action)
        session.flush()
        _record(session, actor, "add action", meeting, action_id=action.id, team=team, text=text, owner=owner)
        return _action(action, meeting.week)


@retrying
def update_action(
    engine: Engine,
    actor: Actor,
    action_id: int,
    *,
    team: str,
    text: str,
    owner: str,
    due: dt.date | None,
    status: Status,
) -> ActionInfo:
    """Edits an action of an open meeting."""
    require(actor, "run_sync")
    text, owner = _check_action(team, text, owner, due)
    if status not in EDITABLE_STATUSES:
        # Carrying over copies the action into the next meeting: only review_action does that.
        raise SyncError(f"an action is set to {', '.join(EDITABLE_STATUSES)} here, not {status!r}")
    with session_scope(engine) as session:
        action = session.get(SyncAction, action_id)
        if action is None:
            raise SyncError(f"there is no action {action_id}")
        meeting = _editable(session, action.meeting_id)
        before = {"team": action.team, "text": action.text, "owner": action.owner, "due": str(action.due)}
        before["status"] = action.status
        action.team, action.text, action.owner, action.due, action.status = team, text, owner, due, status
        action.updated_at, action.updated_by = utcnow(), actor.username
        after = {"team": team, "text": text, "owner": owner, "due": str(due), "status": status}
        _record(session, actor, "edit action", meeting, action_id=action.id, before=before, after=after)
        return _action(action, meeting.week)


def open_from_before(engine: Engine, week: dt.date) -> list[ActionInfo]:
    """Actions of earlier meetings still open, oldest first: the top of this week's meeting."""
    monday = week_start(week)
    with read_scope(engine) as session:
        rows = session.execute(
            select(SyncAction, SyncMeeting.week)
            .join(SyncMeeting, SyncMeeting.id == SyncAction.meeting_id)
            .where(SyncMeeting.week < monday, SyncAction.status == "open")
            .order_by(SyncMeeting.week, SyncAction.id)
        ).all()
        return [_action(action, action_week) for action, action_week in rows]


@retrying
def review_action(
    engine: Engine, actor: Actor, meeting_id: int, action_id: int, decision: Literal["done", "carried over", "dropped"]
) -> ActionInfo | None:
    """In this week's (open) meeting, an earlier meeting's open action is marked done or dropped, or carried
    over: copied into this meeting as open, the earlier one marked "carried over". Returns the copy, if any."""
    require(actor, "run_sync")
    if decision not in ("done", "carried over", "dropped"):
        raise SyncError(f"an earlier action is marked done, carried over or dropped, not {decision!r}")
    with session_scope(engine) as session:
        meeting = _editable(session, meeting_id)
        action = session.get(SyncAction, action_id, with_for_update=True)
        if action is None:
            raise SyncError(f"there is no action {action_id}")
        earlier = session.get(SyncMeeting, action.meeting_id)
        if earlier is None or earlier.week >= meeting.week:
            raise SyncError("only an action of an earlier meeting is reviewed here")
        if action.status != "open":
            raise SyncError(f"that action is already {action.status}")
        action.status, action.reviewed_in = decision, meeting.id
        action.updated_at, action.updated_by = utcnow(), actor.username
        copy = None
        if decision == "carried over":
            copy = SyncAction(
                meeting_id=meeting.id,
                team=action.team,
                text=action.text,
                owner=action.owner,
                due=action.due,
                status="open",
                carried_from=action.id,
            )
            copy.created_by = copy.updated_by = actor.username
            session.add(copy)
            session.flush()
        _record(session, actor, "review action", meeting, action_id=action.id, decision=decision)
        return None if copy is None else _action(copy, meeting.week)


@retrying
def close_meeting(engine: Engine, actor: Actor, meeting_id: int) -> MeetingInfo:
    """Closes the record: from now on core refuses every change to it. The agenda's numbers as they stand now
    are kept with it, so the record says what the meeting saw even after later imports move the numbers."""
    require(actor, "run_sync")
    with read_scope(engine) as session:
        week = _editable(session, meeting_id).week
    numbers = {section.key: agenda(engine, week).section_lines(section.key) for section in SECTIONS}
    with session_scope(engine) as session:
        meeting = _editable(session, meeting_id)
        meeting.status, meeting.closed_at, meeting.closed_by = "closed", utcnow(), actor.username
        meeting.numbers = numbers
        meeting.revision += 1
        _record(session, actor, "close", meeting, numbers=numbers)
        return _meeting(session, meeting)


def meetings(engine: Engine) -> list[MeetingInfo]:
    """Every meeting, newest first."""
    with read_scope(engine) as session:
        rows = session.scalars(select(SyncMeeting).order_by(SyncMeeting.week.desc())).all()
        return [_meeting(session, meeting) for meeting in rows]


def all_actions(engine: Engine) -> pd.DataFrame:
    """Every action across meetings: week, team, action, owner, due, status, carried from, newest week first."""
    rows = [
        {
            "week": action.week,
            "team": TEAMS.get(action.team, action.team),
            "action": action.text,
            "owner": action.owner,
            "due": action.due,
            "status": action.status,
            "carried from week": None,
            "id": action.id,
            "carried_from": action.carried_from,
        }
        for meeting in meetings(engine)
        for action in meeting.actions
    ]
    frame = pd.DataFrame(
        rows, columns=["week", "team", "action", "owner", "due", "status", "carried from week", "id", "carried_from"]
    )
    weeks = dict(zip(frame["id"], frame["week"], strict=True))
    frame["carried from week"] = [weeks.get(origin) if origin else None for origin in frame["carried_from"]]
    return frame.drop(columns=["id", "carried_from"])


def actions_csv(engine: Engine) -> bytes:
    """Every action as a formula-safe CSV."""
    return to_safe_csv(all_actions(engine))


def trend(engine: Engine, last_week: dt.date, weeks: int = TREND_WEEKS) -> pd.DataFrame:
    """How each agenda number moved week by week: one row per ISO week up to `last_week`'s."""
    last = week_start(last_week) + dt.timedelta(days=6)
    first = week_start(last_week) - dt.timedelta(weeks=weeks - 1)
    table = kpi_table(engine, KpiQuery(first, last, "week"))
    return table[
        [
            "period_start",
            "mqls",
            "mql_target",
            "mql_to_sql",
            "rejection_share",
            "sla_compliance",
            "median_response_hours",
        ]
    ].rename(columns={"period_start": "week"})


def meeting_markdown(meeting: MeetingInfo, current: Agenda) -> str:
    """The meeting as a wiki page: each section with its numbers (as kept at the close, else as they stand),
    its notes, the attendees and the actions; text from people and data neutralised."""
    out = [f"# Weekly sync: {md(current.label)}", ""]
    out.append(f"Status: {meeting.status}" + (f", closed by {md(meeting.closed_by or '')}" if meeting.closed else ""))
    out.append("Attendees: " + (", ".join(md(name) for name in meeting.attendees) or "—"))
    for section in SECTIONS:
        out += ["", f"## {section.title} ({section.minutes} min)", ""]
        numbers = meeting.numbers.get(section.key) if meeting.closed else current.section_lines(section.key)
        out += [f"- {md(line)}" for line in numbers or []]
        if meeting.notes.get(section.key):
            out += ["", md(meeting.notes[section.key])]
    out += ["", "## Actions", "", "| team | action | owner | due | status |", "|---|---|---|---|---|"]
    for action in meeting.actions:
        due = f"{action.due:%d %b %Y}" if action.due else "—"
        carried = " (carried over from an earlier week)" if action.carried_from else ""
        out.append(
            f"| {TEAMS.get(action.team, action.team)} | {md(action.text)} | {md(action.owner)} | {due} | "
            f"{action.status}{carried} |"
        )
    if not meeting.actions:
        out.append("| — | no actions recorded | | | |")
    return "\n".join(out) + "\n"
