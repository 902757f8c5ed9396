"""Reasons over time: the top reason of each week, the reasons that top several complete weeks running, and
the weekly frames the Rejections page draws, from `explorer.weekly`'s counts.

One rule for what tops a week, for the page, the CLI and the weekly sync: the reason with the most
rejections alone. A tie on top means the week has no top reason (it breaks a streak), and rejections without
a reason never top a week: they are a gap in the data, not a reason.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from core.periods import week_start
from core.rejections.scope import NO_REASON

RUN_LENGTH = 3  # the same reason on top this many complete weeks in a row is a pattern, not noise
TOP_IN_TREND = 6
OTHER_REASONS = "Other reasons"
IN_A_STREAK, NOT_IN_A_STREAK, INCOMPLETE = "top reason, in a 3-week streak", "not in a streak", "incomplete week"


def complete_weeks(first_day: dt.date, last_day: dt.date, today: dt.date) -> list[dt.date]:
    """Mondays of the ISO weeks that lie wholly inside the period and are over by `today`."""
    end = min(last_day, today - dt.timedelta(days=1))
    monday = week_start(first_day)
    if monday < first_day:
        monday += dt.timedelta(weeks=1)
    weeks = []
    while monday + dt.timedelta(days=6) <= end:
        weeks.append(monday)
        monday += dt.timedelta(weeks=1)
    return weeks


def mondays(first_day: dt.date, last_day: dt.date) -> list[dt.date]:
    """The Monday of every week the period touches, complete or not: a weekly chart's axis."""
    monday, weeks = week_start(first_day), []
    while monday <= last_day:
        weeks.append(monday)
        monday += dt.timedelta(weeks=1)
    return weeks


def week_label(week: dt.date) -> str:
    return f"{week:%d %b %Y}"


@dataclass(frozen=True)
class Streak:
    reason: str
    weeks: tuple[dt.date, ...]  # consecutive Mondays

    def sentence(self) -> str:
        first, last = self.weeks[0], self.weeks[-1]
        listed = ", ".join(f"{week:%d %b}" for week in self.weeks)
        return (
            f"“{self.reason}” topped the rejection reasons {len(self.weeks)} complete weeks in a row, "
            f"from the week of {first:%d %b %Y} to the week of {last:%d %b %Y} ({listed})."
        )


def week_leaders(weekly_frame: pd.DataFrame) -> dict[dt.date, tuple[tuple[str, ...], int]]:
    """For each week with a reasoned rejection: the reasons that share the most rejections (by name) and that
    count. One grouped pass (a filter per week took minutes over a long range)."""
    reasoned = weekly_frame[weekly_frame["reason"] != NO_REASON]
    if reasoned.empty:
        return {}
    best = reasoned.groupby("week")["rejections"].transform("max")
    leaders = reasoned[reasoned["rejections"] == best].sort_values(["week", "reason"])
    return {
        week: (tuple(str(reason) for reason in rows["reason"]), int(rows["rejections"].iloc[0]))
        for week, rows in leaders.groupby("week", sort=False)
    }


def week_tops(weekly_frame: pd.DataFrame, weeks: list[dt.date]) -> dict[dt.date, str | None]:
    """The reason that alone tops each of `weeks`; None for a week with no reasoned rejection or a tie on top."""
    leaders = week_leaders(weekly_frame)
    tops: dict[dt.date, str | None] = dict.fromkeys(weeks)
    for week in weeks:
        reasons, _ = leaders.get(week, ((), 0))
        tops[week] = reasons[0] if len(reasons) == 1 else None
    return tops


def recurring_tops(weekly_frame: pd.DataFrame, weeks: list[dt.date], run: int = RUN_LENGTH) -> list[Streak]:
    """Every stretch of at least `run` consecutive complete weeks topped by the same reason, oldest first.
    A week without rejections or with a tie on top breaks the stretch."""
    tops = week_tops(weekly_frame, weeks)
    streaks: list[Streak] = []
    current: list[dt.date] = []
    current_reason: str | None = None
    previous: dt.date | None = None
    for week in weeks:
        reason = tops[week]
        follows = previous is not None and week - previous == dt.timedelta(weeks=1)
        if reason is not None and reason == current_reason and follows:
            current.append(week)
        else:
            if current_reason is not None and len(current) >= run:
                streaks.append(Streak(current_reason, tuple(current)))
            current, current_reason = ([week], reason) if reason is not None else ([], None)
        previous = week
    if current_reason is not None and len(current) >= run:
        streaks.append(Streak(current_reason, tuple(current)))
    return streaks


def streak_summaries(streaks: list[Streak]) -> list[tuple[str, str]]:
    """One line per reason that had a streak, the most recent streak first: (reason, sentence)."""
    by_reason: dict[str, list[Streak]] = {}
    for streak in streaks:
        by_reason.setdefault(streak.reason, []).append(streak)
    ordered = sorted(by_reason.items(), key=lambda item: item[1][-1].weeks[-1], reverse=True)
    lines = []
    for reason, runs in ordered:
        if len(runs) == 1:
            lines.append((reason, runs[0].sentence()))
            continue
        spans = "; ".join(
            f"{len(run.weeks)} weeks from the week of {run.weeks[0]:%d %b %Y} to that of {run.weeks[-1]:%d %b %Y}"
            for run in runs
        )
        lines.append(
            (
                reason,
                f"“{reason}” topped the rejection reasons {RUN_LENGTH}+ complete weeks in a row "
                f"{len(runs)} times: {spans}.",
            )
        )
    return lines


@dataclass(frozen=True)
class Found:
    """A period's weeks and what topped them: what every weekly view of the explorer reads."""

    weeks: tuple[dt.date, ...]  # every Monday the period touches: the axis
    complete: frozenset[dt.date]  # the weeks the three-week rule counts
    streaks: tuple[Streak, ...]

    @property
    def axis(self) -> list[str]:
        return [week_label(week) for week in self.weeks]

    def streak_of(self, week: dt.date) -> str:
        """The reason whose streak the week is part of, or ""."""
        return next((streak.reason for streak in self.streaks if week in streak.weeks), "")

    @property
    def longest(self) -> str | None:
        """The reason of the longest streak (ties: the most recent): the pattern worth following first."""
        return max(reversed(self.streaks), key=lambda streak: len(streak.weeks)).reason if self.streaks else None


def find(weekly_frame: pd.DataFrame, first_day: dt.date, last_day: dt.date, today: dt.date) -> Found:
    complete = complete_weeks(first_day, last_day, today)
    return Found(
        tuple(mondays(first_day, last_day)), frozenset(complete), tuple(recurring_tops(weekly_frame, complete))
    )


def _labelled(frame: pd.DataFrame, found: Found) -> pd.DataFrame:
    """The week as the axis reads it and as a click carries it back (ISO), and whether it counts."""
    return frame.assign(
        week_label=[week_label(week) for week in frame["week"]],
        week_iso=[week.isoformat() for week in frame["week"]],
        week_state=["complete" if week in found.complete else "partial" for week in frame["week"]],
    )


def trend_order(ranked_reasons: list[str], top: int = TOP_IN_TREND) -> list[str]:
    """The trend's reasons, in legend and stacking order: the `top` most frequent by name, then the rest."""
    named = [reason for reason in ranked_reasons if reason != NO_REASON][:top]
    return [*named, OTHER_REASONS, NO_REASON]


def trend_frame(weekly_frame: pd.DataFrame, found: Found, order: list[str]) -> pd.DataFrame:
    """Rejections per week and reason with the reasons outside `order` summed as OTHER_REASONS; each row
    says whether its week is complete and which streak it is part of, and where it stacks."""
    reason = weekly_frame["reason"].where(weekly_frame["reason"].isin(order), OTHER_REASONS)
    trend = weekly_frame.assign(reason=reason).groupby(["week", "reason"], as_index=False)["rejections"].sum()
    trend["streak"] = [found.streak_of(week) for week in trend["week"]]
    # The same reason at the same height every week, so that a rising reason reads as one band.
    trend["stack"] = trend["reason"].map({name: index for index, name in enumerate(order)})
    return _labelled(trend, found)


def followed_share(weekly_frame: pd.DataFrame, followed: str, found: Found) -> pd.DataFrame:
    """One reason's share of each week's rejections (weeks with rejections), and whether the week is one of
    its streak's, outside any, or incomplete."""
    totals = weekly_frame.groupby("week")["rejections"].sum()
    mine = weekly_frame[weekly_frame["reason"] == followed].set_index("week")["rejections"]
    share = (mine.reindex(totals.index, fill_value=0) / totals).rename("share").reset_index()
    share["state"] = [
        IN_A_STREAK
        if found.streak_of(week) == followed
        else (INCOMPLETE if week not in found.complete else NOT_IN_A_STREAK)
        for week in share["week"]
    ]
    return _labelled(share, found)


def week_table(weekly_frame: pd.DataFrame, found: Found) -> pd.DataFrame:
    """Each week's top reason by the one rule (a tie names every reason on top and tops nothing), its
    rejections, whether the week is complete, and the streak it is part of."""
    rows = [
        {
            "week": week,
            "top_reason": reasons[0] if len(reasons) == 1 else "tie: " + " / ".join(reasons),
            "rejections": count,
            "complete": week in found.complete,
            "streak": found.streak_of(week),
        }
        for week, (reasons, count) in sorted(week_leaders(weekly_frame).items())
    ]
    return pd.DataFrame(rows, columns=["week", "top_reason", "rejections", "complete", "streak"])
