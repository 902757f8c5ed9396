"""The action plan: the three fixes with the highest priority, each a step of the alignment framework done on
a OneFunnel page, with the reasons the answers and the data give for it.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.alignment.diagnostic.questions import AREAS, FRAMEWORK, HEALTHY, STATEMENT_BY_KEY
from core.alignment.diagnostic.results import Results
from core.alignment.diagnostic.signs import SignReading


@dataclass(frozen=True)
class Action:
    area: str
    priority: float
    title: str
    step: int
    page: str
    page_label: str
    because: list[str]

    @property
    def step_text(self) -> str:
        return f"Step {self.step} of the alignment framework: {FRAMEWORK[self.step]}"


def action_plan(outcome: Results, readings: list[SignReading], count: int = 3) -> list[Action]:
    """The `count` highest-priority fixes. An area's priority adds how far its score falls short of healthy (x2),
    its widest flagged perception gap, 1.5 for each problem the data measures in it, and 1 for a blind spot."""
    everyone = outcome.everyone
    candidates = []
    for key, area in AREAS.items():
        because: list[str] = []
        priority = 0.0
        score = everyone.areas.get(key) if everyone is not None else None
        if score is not None and score < HEALTHY:
            priority += 2 * (HEALTHY - score)
            because.append(f"{area.name} scores {score:.1f} of 5 across {everyone.respondents} people")  # type: ignore[union-attr]
        flagged = [gap for gap in outcome.gaps if gap.area == key and gap.flagged]
        if flagged:
            widest = max(flagged, key=lambda gap: abs(gap.points))
            priority += abs(widest.points)
            because.append(
                f"{widest.left} score it {widest.left_score:.1f} and {widest.right.lower()} {widest.right_score:.1f}"
            )
        for reading in readings:
            if STATEMENT_BY_KEY[reading.sign.statement].area != key or not reading.sign.problem:
                continue
            priority += 1.5 + (1.0 if reading.verdict == "blind spot" else 0.0)
            because.append(f"{reading.sign.name}: {reading.sign.measured}")
        title = area.action
        if area.instead is not None and any(
            r.sign.key == area.instead[0] and r.sign.problem is False for r in readings
        ):
            title = area.instead[1]
        if priority > 0:
            candidates.append(Action(key, round(priority, 3), title, area.step, area.page, area.page_label, because))
    order = list(AREAS)
    candidates.sort(key=lambda action: (-action.priority, order.index(action.area)))
    return candidates[:count]
