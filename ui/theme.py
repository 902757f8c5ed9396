"""One palette for every chart and badge. Red means one thing: bad, or under the gate. Categories (reasons,
sources, models) take the neutral categorical scheme, never red; "good" is green; muted grey is context
(targets, previous periods, still-maturing cohorts)."""

from __future__ import annotations

BAD = "#dc2626"  # under the gate / over the limit: the only red
GOOD = "#16a34a"
WARN = "#f59e0b"  # a pattern to watch (a streak, a rule bent but no gate crossed): amber, not red
CAUTION = "#fde68a"  # the middle of a bad-to-good scale (a 3 of 5: neither agree nor disagree)
NEUTRAL = "#2563eb"  # the measured value when it is neither good nor bad
NEUTRAL_FAINT = "#bfdbfe"  # a second measure drawn behind the first (volume shaded under a rate's line)
INK = "#111827"
MUTED = "#9ca3af"  # context: targets, the previous period, maturing cohorts
FAINT = "#d1d5db"  # nothing known: "no reason given", unknown

# Categories with no good or bad meaning, in a fixed order so a category keeps its colour across charts.
# Tableau 10 without its red.
CATEGORICAL = ("#4e79a7", "#f28e2b", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


def categorical(count: int) -> list[str]:
    """`count` distinct non-red colours, cycling when there are more categories than colours."""
    return [CATEGORICAL[index % len(CATEGORICAL)] for index in range(count)]
