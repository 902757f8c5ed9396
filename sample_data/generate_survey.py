"""Writes survey.csv: Northwind's two past rounds of the misalignment self-diagnostic.

Written by `python sample_data/generate.py` with the other files, or alone by this script; the same
on every run (fixed seed). The
story the answers tell: executives believe the teams are aligned, the people doing the work do not
(the seeds' 82% vs 35%); sales and marketing disagree about lead quality and follow-up; the second
round, taken after the spring e-book flooded sales with small companies, is worse on definitions.
"""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.alignment.diagnostic.questions import ALIGNED, STATEMENTS

SURVEY_FILE = "survey.csv"
ROUNDS = (("Q2 2026 pulse", "2026-06-08", "2026-06-19"), ("Q3 2026 pulse", "2026-09-14", "2026-09-25"))
# (team, level, people): executives 5 in all, but only 1-2 per team, so cross cells must be withheld.
PEOPLE = (
    ("marketing", "executive", 2),
    ("marketing", "manager", 3),
    ("marketing", "individual_contributor", 8),
    ("sales", "executive", 2),
    ("sales", "manager", 4),
    ("sales", "individual_contributor", 11),
    ("ops", "manager", 2),
    ("ops", "individual_contributor", 3),
    ("other", "executive", 1),
    ("other", "manager", 1),
    ("other", "individual_contributor", 1),
)
LEVEL_MEAN = {"executive": 4.3, "manager": 3.2, "individual_contributor": 2.4}
# How each team reads particular statements against its level's mean.
TEAM_SHIFT = {
    "marketing": {"definitions_no_disputes": 1.0, "handoff_follow_up": -1.2, "content_used": -0.8},
    "sales": {
        "definitions_no_disputes": -1.0,
        "definitions_written": -0.5,
        "handoff_follow_up": 0.9,
        "content_used": 0.6,
    },
}
ALIGNED_SHIFT = {"executive": 0.3, "manager": 0.1, "individual_contributor": 0.6}
# The second round, after the spring campaign: lead quality and follow-up feel worse to the people doing the work.
SECOND_ROUND_SHIFT = {"definitions_no_disputes": -0.5, "definitions_written": -0.3, "handoff_follow_up": -0.3}


def write_survey(out_dir: Path) -> int:
    """Writes out_dir/survey.csv; returns the number of answers."""
    rng = random.Random(20260914)
    people = []
    for team, level, count in PEOPLE:
        for _ in range(count):
            people.append((f"nw-{len(people) + 1:02d}", team, level, rng.gauss(0, 0.35)))
    rows = []
    for number, (name, opens_on, closes_on) in enumerate(ROUNDS):
        for respondent, team, level, bias in people:
            if number == 1 and respondent in ("nw-07", "nw-21"):
                continue  # two people were on leave for the second round
            row = {"round": name, "opens_on": opens_on, "closes_on": closes_on}
            row |= {"respondent": respondent, "team": team, "level": level}
            for statement in STATEMENTS:
                mean = LEVEL_MEAN[level] + bias + TEAM_SHIFT.get(team, {}).get(statement.key, 0.0)
                if statement.key == ALIGNED:
                    mean += ALIGNED_SHIFT[level]
                if number == 1 and level != "executive":
                    mean += SECOND_ROUND_SHIFT.get(statement.key, 0.0)
                row[statement.key] = min(5, max(1, round(rng.gauss(mean, 0.75))))
            rows.append(row)
    with (out_dir / SURVEY_FILE).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main() -> None:
    out_dir = Path(__file__).resolve().parent
    print(f"wrote {write_survey(out_dir)} answers to {out_dir / SURVEY_FILE}")


if __name__ == "__main__":
    main()
