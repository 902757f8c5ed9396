"""The survey's rounds and answers: ops open and close rounds (or import one held before OneFunnel), and
each person keeps one answer in force per round, which they may change while it is open. Nobody reads
another's answer; the audit log records that someone answered, not what.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from core.alignment.diagnostic.questions import LEVELS, STATEMENT_BY_KEY, STATEMENTS, TEAMS
from core.audit import record
from core.db import read_scope, retrying, session_scope
from core.models import SurveyAnswer, SurveyResponse, SurveyRound, utcnow
from core.permissions import Actor, require

_ROUND_LOCK_ID = 4_242_007  # pg_advisory_xact_lock key serialising the creation of rounds


class SurveyError(ValueError):
    """A survey write that cannot be done as asked; nothing was changed."""


class SurveyRefused(SurveyError):
    """An imported round with problems; `problems` names each row, column and what was expected."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(problems[:20]) + (f"\n… and {len(problems) - 20} more" if len(problems) > 20 else "")
        super().__init__(f"the answers were not imported ({len(problems)} problems):\n{shown}")


# ------------------------------------------------------------------ rounds


@dataclass(frozen=True)
class RoundInfo:
    id: int
    name: str
    opens_on: dt.date
    closes_on: dt.date
    closed_on: dt.date | None  # the day ops closed it early
    respondents: int

    @property
    def last_day(self) -> dt.date:
        """The last day answers were taken: the closing day, or the day ops closed it early."""
        return min(self.closes_on, self.closed_on) if self.closed_on else self.closes_on

    def status(self, today: dt.date) -> Literal["upcoming", "open", "closed"]:
        if self.closed_on is not None or today > self.closes_on:
            return "closed"
        return "open" if today >= self.opens_on else "upcoming"

    def describe(self) -> str:
        return f"{self.name} ({self.opens_on:%d %b} – {self.last_day:%d %b %Y})"


def _round_info(round_: SurveyRound, respondents: int) -> RoundInfo:
    return RoundInfo(round_.id, round_.name, round_.opens_on, round_.closes_on, round_.closed_on, respondents)


def answers_in_force() -> Any:
    """The answers that count: each person's latest in a round."""
    return SurveyResponse.superseded_at.is_(None)


def rounds(engine: Engine) -> list[RoundInfo]:
    """Every round, newest first, with how many people answered."""
    counted = (
        select(SurveyResponse.round_id, func.count().label("respondents"))
        .where(answers_in_force())
        .group_by(SurveyResponse.round_id)
        .subquery()
    )
    with read_scope(engine) as session:
        rows = session.execute(
            select(SurveyRound, func.coalesce(counted.c.respondents, 0))
            .outerjoin(counted, counted.c.round_id == SurveyRound.id)
            .order_by(SurveyRound.opens_on.desc())
        ).all()
        return [_round_info(round_, int(respondents)) for round_, respondents in rows]


def open_round_on(engine: Engine, today: dt.date) -> RoundInfo | None:
    return next((r for r in rounds(engine) if r.status(today) == "open"), None)


def closed_rounds(engine: Engine, today: dt.date) -> list[RoundInfo]:
    return [r for r in rounds(engine) if r.status(today) == "closed"]


def rounds_table(every: list[RoundInfo], today: dt.date) -> pd.DataFrame:
    """The rounds as ops manage them: name, days, status and how many answered."""
    return pd.DataFrame(
        [
            {
                "round": r.name,
                "opens": r.opens_on,
                "closes": r.last_day,
                "status": r.status(today),
                "answers": r.respondents,
            }
            for r in every
        ],
        columns=["round", "opens", "closes", "status", "answers"],
    )


def _check_dates(name: str, opens_on: dt.date, closes_on: dt.date) -> str:
    name = " ".join(name.split())
    if not name:
        raise SurveyError("a round needs a name, e.g. 'Q4 2026 pulse'")
    if len(name) > 128:
        raise SurveyError("a round's name is at most 128 characters")
    if closes_on < opens_on:
        raise SurveyError(f"the round closes ({closes_on}) before it opens ({opens_on})")
    return name


def _overlap(session: Any, opens_on: dt.date, closes_on: dt.date) -> None:
    for other in session.scalars(select(SurveyRound)):
        info = _round_info(other, 0)
        if opens_on <= info.last_day and info.opens_on <= closes_on:
            raise SurveyError(f"{info.describe()} already covers some of those days; rounds may not overlap")


def _create_round(
    session: Any, actor: Actor, name: str, opens_on: dt.date, closes_on: dt.date, **detail: Any
) -> SurveyRound:
    if session.get_bind().dialect.name == "postgresql":
        # Two ops opening rounds at once: the second waits, then sees the first and its dates.
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _ROUND_LOCK_ID})
    if session.scalar(select(SurveyRound.id).where(SurveyRound.name == name)) is not None:
        raise SurveyError(f"there is already a round called {name!r}")
    _overlap(session, opens_on, closes_on)
    round_ = SurveyRound(name=name, opens_on=opens_on, closes_on=closes_on, created_by=actor.username)
    session.add(round_)
    session.flush()
    record(
        session,
        actor=actor.username,
        action="open" if not detail else "import",
        entity="survey_round",
        entity_key=str(round_.id),
        detail={"name": name, "opens_on": opens_on.isoformat(), "closes_on": closes_on.isoformat(), **detail},
    )
    return round_


@retrying
def open_round(
    engine: Engine, actor: Actor, name: str, opens_on: dt.date, closes_on: dt.date, *, today: dt.date
) -> RoundInfo:
    """Ops open a round for everyone to answer; it may start later but not end in the past."""
    require(actor, "manage_survey")
    name = _check_dates(name, opens_on, closes_on)
    if closes_on < today:
        raise SurveyError(f"the round would close on {closes_on}, which has passed; pick a later closing day")
    try:
        with session_scope(engine) as session:
            return _round_info(_create_round(session, actor, name, opens_on, closes_on), 0)
    except IntegrityError:
        raise SurveyError(f"there is already a round called {name!r}") from None


@retrying
def close_round(engine: Engine, actor: Actor, round_id: int, *, today: dt.date) -> RoundInfo:
    """Ops close an open round before its closing day; its answers are final and its results appear."""
    require(actor, "manage_survey")
    with session_scope(engine) as session:
        round_ = session.get(SurveyRound, round_id, with_for_update=True)
        if round_ is None:
            raise SurveyError(f"there is no round {round_id}")
        if _round_info(round_, 0).status(today) != "open":
            raise SurveyError(f"{round_.name} is not open; only an open round can be closed")
        round_.closed_on, round_.closed_at, round_.closed_by = today, utcnow(), actor.username
        record(session, actor=actor.username, action="close", entity="survey_round", entity_key=str(round_id))
        respondents = session.scalar(
            select(func.count()).where(SurveyResponse.round_id == round_id, answers_in_force())
        )
        return _round_info(round_, int(respondents or 0))


# ------------------------------------------------------------------ answers


@dataclass(frozen=True)
class MyAnswer:
    team: str
    level: str
    scores: dict[str, int]
    submitted_at: dt.datetime
    changes: int  # how many times it was changed after the first answer


def _validated(team: str, level: str, scores: Mapping[str, Any]) -> dict[str, int]:
    if team not in TEAMS:
        raise SurveyError(f"team {team!r} is not one of {', '.join(TEAMS)}")
    if level not in LEVELS:
        raise SurveyError(f"level {level!r} is not one of {', '.join(LEVELS)}")
    unknown = sorted(set(scores) - set(STATEMENT_BY_KEY))
    if unknown:
        raise SurveyError(f"unknown statements: {', '.join(unknown)}")
    missing = [s.text for s in STATEMENTS if scores.get(s.key) is None]
    if missing:
        raise SurveyError(f"{len(missing)} statements are unanswered, first: {missing[0]!r}")
    clean: dict[str, int] = {}
    for key, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
            raise SurveyError(f"{STATEMENT_BY_KEY[key].text!r}: expected a whole number from 1 to 5, got {value!r}")
        clean[key] = value
    return clean


def _add_response(
    session: Any, round_id: int, respondent: str, team: str, level: str, scores: dict[str, int], at: dt.datetime
) -> None:
    response = SurveyResponse(round_id=round_id, respondent=respondent, team=team, level=level, submitted_at=at)
    session.add(response)
    session.flush()
    session.add_all(
        SurveyAnswer(response_id=response.id, statement=key, area=STATEMENT_BY_KEY[key].area, score=value)
        for key, value in scores.items()
    )


def my_answer(engine: Engine, actor: Actor, round_id: int) -> MyAnswer | None:
    """The signed-in person's own answer in force in this round: no one reads another's."""
    require(actor, "answer_survey")
    respondent = actor.username
    with read_scope(engine) as session:
        responses = session.scalars(
            select(SurveyResponse)
            .where(SurveyResponse.round_id == round_id, SurveyResponse.respondent == respondent)
            .order_by(SurveyResponse.submitted_at.desc(), SurveyResponse.id.desc())
        ).all()
        if not responses or responses[0].superseded_at is not None:
            return None
        latest = responses[0]
        scores = dict(
            session.execute(
                select(SurveyAnswer.statement, SurveyAnswer.score).where(SurveyAnswer.response_id == latest.id)
            ).all()
        )
        return MyAnswer(latest.team, latest.level, scores, latest.submitted_at, len(responses) - 1)


@retrying
def submit_answer(
    engine: Engine,
    actor: Actor,
    round_id: int,
    team: str,
    level: str,
    scores: Mapping[str, Any],
    *,
    today: dt.date,
) -> MyAnswer:
    """Saves the signed-in person's answer; a second answer in the same round replaces the first (which is kept,
    superseded). Only while the round is open. The audit log records that they answered, not what."""
    require(actor, "answer_survey")
    clean = _validated(team, level, scores)
    try:
        with session_scope(engine) as session:
            # A shared lock: close_round's exclusive one waits for this answer, or this answer sees it closed.
            round_ = session.get(SurveyRound, round_id, with_for_update={"read": True})
            if round_ is None:
                raise SurveyError(f"there is no round {round_id}")
            info = _round_info(round_, 0)
            if info.status(today) != "open":
                raise SurveyError(f"{info.describe()} is not open for answers")
            now = utcnow()
            earlier = session.scalar(
                select(SurveyResponse).where(
                    SurveyResponse.round_id == round_id, SurveyResponse.respondent == actor.username, answers_in_force()
                )
            )
            if earlier is not None:
                earlier.superseded_at = now
                session.flush()
            _add_response(session, round_id, actor.username, team, level, clean, now)
            record(
                session,
                actor=actor.username,
                action="change answer" if earlier is not None else "answer",
                entity="survey_round",
                entity_key=str(round_id),
            )
    except IntegrityError:
        # Two windows of the same person saved at once: the unique index kept one answer in force.
        raise SurveyError("your answer was just saved from another window; reload to see it") from None
    answer = my_answer(engine, actor, round_id)
    assert answer is not None
    return answer


ANSWER_COLUMNS = ("respondent", "team", "level", *(s.key for s in STATEMENTS))


@retrying
def import_round(
    engine: Engine,
    actor: Actor,
    name: str,
    opens_on: dt.date,
    closes_on: dt.date,
    answers: pd.DataFrame,
    *,
    today: dt.date,
) -> RoundInfo:
    """A round held before OneFunnel (or the sample company's), from a table with ANSWER_COLUMNS: one row per
    respondent, all or nothing. The round must have closed; its answers are final."""
    require(actor, "manage_survey")
    name = _check_dates(name, opens_on, closes_on)
    if closes_on >= today:
        raise SurveyError("only a round that has closed can be imported; open a round for one still running")
    problems = [f"column {column!r} is missing" for column in ANSWER_COLUMNS if column not in answers.columns]
    problems += [f"column {column!r} is not expected" for column in answers.columns if column not in ANSWER_COLUMNS]
    if not problems and answers.empty:
        problems.append("the table has no answers: expected one row per respondent")
    rows: list[tuple[str, str, str, dict[str, int]]] = []
    if not problems:
        seen: set[str] = set()
        for number, row in enumerate(answers.to_dict("records"), start=2):  # row 1 is the header
            respondent = str(row["respondent"]).strip() if pd.notna(row["respondent"]) else ""
            if not respondent:
                problems.append(f"row {number}, column 'respondent': expected an identifier, got a blank")
            elif len(respondent) > 128:
                problems.append(f"row {number}, column 'respondent': at most 128 characters, got {len(respondent)}")
            elif respondent in seen:
                problems.append(f"row {number}, column 'respondent': {respondent!r} answered twice")
            seen.add(respondent)
            for column, allowed in (("team", TEAMS), ("level", LEVELS)):
                if row[column] not in allowed:
                    problems.append(
                        f"row {number}, column {column!r}: expected one of {', '.join(allowed)}, got {row[column]!r}"
                    )
            scores: dict[str, int] = {}
            for statement in STATEMENTS:
                value = row[statement.key]
                as_float = pd.to_numeric(value, errors="coerce")
                if (
                    pd.isna(as_float)
                    or not math.isfinite(as_float)
                    or as_float != int(as_float)
                    or not 1 <= as_float <= 5
                ):
                    problems.append(
                        f"row {number}, column {statement.key!r}: expected a whole number from 1 to 5, got {value!r}"
                    )
                else:
                    scores[statement.key] = int(as_float)
            rows.append((respondent, str(row["team"]), str(row["level"]), scores))
    if problems:
        raise SurveyRefused(problems)
    with session_scope(engine) as session:
        round_ = _create_round(session, actor, name, opens_on, closes_on, respondents=len(rows))
        submitted = dt.datetime.combine(closes_on, dt.time(12))
        for respondent, team, level, scores in rows:
            _add_response(session, round_.id, respondent, team, level, scores, submitted)
        return _round_info(round_, len(rows))
