"""The weekly sync's record: a meeting per ISO week with notes per section, attendees, and actions per team
with owner, due date and status. Ops edit it until it is closed; after that core refuses every change to it.
Last week's open actions come up at the top of the next meeting, to be marked done, dropped, or carried over
(a carried action is copied into this week's meeting). The agenda itself is core.alignment.agenda.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from core.alignment.agenda import SECTIONS, Agenda, agenda
from core.audit import record
from core.db import read_scope, retrying, session_scope
from core.exports import markdown_text as md
from core.exports import to_safe_csv
from core.formatting import MISSING
from core.models import SyncAction, SyncMeeting, utcnow
from core.periods import week_start
from core.permissions import Actor, require
from core.vocabulary import person

TEAMS = {"marketing": "Marketing", "sales": "Sales", "ops": "Ops"}
Status = Literal["open", "done", "carried over", "dropped"]
STATUSES: tuple[Status, ...] = ("open", "done", "carried over", "dropped")
EDITABLE_STATUSES: tuple[Status, ...] = ("open", "done", "dropped")


class SyncError(ValueError):
    """A change to a meeting that cannot be made as asked; nothing was changed."""


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
    plan = agenda(engine, week)
    numbers = {section.key: section.lines(plan) for section in SECTIONS}
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


def actions_table(actions: list[ActionInfo]) -> pd.DataFrame:
    """One meeting's actions as the page lists them."""
    return pd.DataFrame(
        [
            {
                "team": TEAMS.get(a.team, a.team),
                "action": a.text,
                "owner": a.owner,
                "due": a.due,
                "status": a.status,
                "carried over": "yes" if a.carried_from else "",
            }
            for a in actions
        ],
        columns=["team", "action", "owner", "due", "status", "carried over"],
    )


def meetings_table(past: list[MeetingInfo], names: Mapping[str, str]) -> pd.DataFrame:
    """Every meeting, newest first, with who closed it (a person, not a user name) and its open actions."""
    return pd.DataFrame(
        [
            {
                "week": m.week,
                "status": m.status,
                "closed by": person(m.closed_by, names),
                "attendees": ", ".join(m.attendees) or MISSING,
                "actions": len(m.actions),
                "open actions": sum(1 for a in m.actions if a.status == "open"),
            }
            for m in past
        ],
        columns=["week", "status", "closed by", "attendees", "actions", "open actions"],
    )


def actions_shown(every: pd.DataFrame, statuses: Sequence[str]) -> pd.DataFrame:
    """All actions with the chosen statuses (all of them when none is chosen), for people: an action not
    carried over reads MISSING in "carried from week" rather than a blank None."""
    shown = every[every["status"].isin(statuses)] if statuses else every
    return shown.assign(
        **{
            "carried from week": [
                MISSING if pd.isna(week) else f"{week:%Y-%m-%d}" for week in shown["carried from week"]
            ]
        }
    )


def meeting_markdown(meeting: MeetingInfo, current: Agenda, names: Mapping[str, str] | None = None) -> str:
    """The meeting as a wiki page: each section with its numbers (as kept at the close, else as they stand),
    its notes, the attendees and the actions; text from people and data neutralised. `names` (user name ->
    person) says who closed it."""
    out = [f"# Weekly sync: {md(current.label)}", ""]
    out.append(
        f"Status: {meeting.status}"
        + (f", closed by {md(person(meeting.closed_by, names or {}))}" if meeting.closed else "")
    )
    out.append("Attendees: " + (", ".join(md(name) for name in meeting.attendees) or MISSING))
    for section in SECTIONS:
        out += ["", f"## {section.title} ({section.minutes} min)", ""]
        numbers = meeting.numbers.get(section.key) if meeting.closed else section.lines(current)
        out += [f"- {md(line)}" for line in numbers or []]
        if meeting.notes.get(section.key):
            out += ["", md(meeting.notes[section.key])]
    out += ["", "## Actions", "", "| team | action | owner | due | status |", "|---|---|---|---|---|"]
    for action in meeting.actions:
        due = f"{action.due:%d %b %Y}" if action.due else MISSING
        carried = " (carried over from an earlier week)" if action.carried_from else ""
        out.append(
            f"| {TEAMS.get(action.team, action.team)} | {md(action.text)} | {md(action.owner)} | {due} | "
            f"{action.status}{carried} |"
        )
    if not meeting.actions:
        out.append("| — | no actions recorded | | | |")
    return "\n".join(out) + "\n"
