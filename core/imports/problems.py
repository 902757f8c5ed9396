"""What a refused import says: each problem's row, column, value and what was expected, the first MAX_PROBLEMS of
them and the total. A file is refused whole when any row is bad, and nothing is written."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.formatting import MISSING

MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    row: int | None  # as a spreadsheet shows it: the header is row 1
    column: str | None
    value: str | None
    expected: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "file"
        if self.column is not None:
            where += f", column {self.column!r}"
        if self.value is None:
            return f"{where}: {self.expected}"
        shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        return f"{where}: {shown!r} is not valid, expected {self.expected}"


class ImportRefused(Exception):
    """The file was refused whole; nothing was written."""

    def __init__(self, file_name: str, problems: list[Problem], total: int) -> None:
        self.file_name = file_name
        self.problems = problems[:MAX_PROBLEMS]
        self.total = total
        super().__init__(self.report())

    def headline(self) -> str:
        """One sentence for a page, above the table of the problems."""
        listed = f" (the first {len(self.problems)} are listed)" if self.total > len(self.problems) else ""
        noun = "problem" if self.total == 1 else "problems"
        return f"{self.file_name} was refused: {self.total:,} {noun}{listed}. Nothing was changed."

    def report(self) -> str:
        noun = "problem" if self.total == 1 else "problems"
        lines = [f"{self.file_name} was not imported ({self.total} {noun}; nothing was changed):"]
        lines += [f"  - {problem}" for problem in self.problems]
        if self.total > len(self.problems):
            lines.append(f"  ... and {self.total - len(self.problems)} more")
        return "\n".join(lines)


def refuse(name: str, message: str, column: str | None = None, row: int | None = None) -> ImportRefused:
    """A refusal for one problem of the whole file (its size, its encoding, its header …)."""
    return ImportRefused(name, [Problem(row, column, None, message)], 1)


class ProblemLog:
    """The problems found while reading a file: every one counted, the first MAX_PROBLEMS kept for the report."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.total = 0

    def add(self, row: int | None, column: str | None, value: str | None, expected: str) -> None:
        self.total += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(row, column, value, expected))

    def add_where(self, mask: np.ndarray, rows: np.ndarray, column: str, values: pd.Series, expected: str) -> None:
        """One problem for each row where `mask` holds (vectorised: a bad column of a million rows is one call)."""
        count = int(mask.sum())
        if not count:
            return
        room = MAX_PROBLEMS - len(self.problems)
        positions = np.flatnonzero(mask)
        for position in positions[: max(room, 0)]:
            self.problems.append(Problem(int(rows[position]), column, str(values.iloc[position]), expected))
        self.total += count


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """Problems as the Data and Sandbox pages show them: row, column, value, what was expected; "—" where a
    problem is the whole file's (no row, column or value)."""
    return pd.DataFrame(
        [
            (
                MISSING if p.row is None else f"{p.row:,}",
                p.column or MISSING,
                p.value or MISSING,
                p.expected,
            )
            for p in problems
        ],
        columns=["Row", "Column", "Value", "Expected"],
    )
