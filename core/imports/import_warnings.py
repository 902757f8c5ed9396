"""What an import will mean, said before anything is written: warnings on a file that imports cleanly but would
count wrong (no MQL date, reasons without a rejection date, placeholders stored as values, one value spelled
two ways, every row on one date, blanks merging into a real value, a deals file with only wins).

Each warning carries its count and, where one exists, a fix: a small change to the mapping that the Data page
offers as one click and `apply_fix` makes anywhere.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.formats import KindSpec
from core.imports.mapping import FieldMapping, Mapping, parse_mapping
from core.text import casefold, fold_spaces

# Spellings that mean "nothing was entered" in real exports: a form's untouched drop-down, spreadsheet errors.
PLACEHOLDERS = ("select", "n/a", "na", "-", "--", "#n/a", "null", "none", "(none)", "nan", "?", "tbd", "(not set)")
# Text fields whose values are categories people filter and group by (the ones where a spelling splits a group).
# Rejection reasons are not among them: the reason catalogue folds their spellings already (core.rejections.catalogue).
CATEGORY_FIELDS = (
    "source",
    "campaign",
    "industry",
    "country",
    "department",
    "intent_signal",
    "owner",
    "stage",
    "account",
    "channel",
    "touch_type",
)
# Beyond this many distinct values a field is not a category; its spellings are not compared.
MAX_DISTINCT = 20_000
BLANK_DEFAULT_FIX = "(blank)"


@dataclass(frozen=True)
class Fix:
    """A change to the mapping: add a null marker, fold a field's case, or give a field a default."""

    label: str
    field: str | None = None
    null_value: str | None = None
    fold_case: bool = False
    default: str | None = None


@dataclass(frozen=True)
class ImportWarning:
    code: str
    message: str
    count: int
    field: str | None = None
    fix: Fix | None = None

    def __str__(self) -> str:
        return f"{self.message} ({self.count:,} {'row' if self.count == 1 else 'rows'})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "count": self.count,
            "field": self.field,
            "fix": None if self.fix is None else self.fix.label,
        }


def apply_fix(mapping: Mapping, fix: Fix) -> Mapping:
    """`mapping` with the fix made (a new mapping; the old one is untouched)."""
    document = mapping.to_dict()
    if fix.null_value is not None and fix.null_value not in mapping.null_values:
        document["null_values"] = [*mapping.null_values, fix.null_value]
    if fix.field is not None and (fix.fold_case or fix.default is not None):
        current = mapping.fields.get(fix.field) or FieldMapping(column=fix.field)
        update: dict[str, Any] = {}
        if fix.fold_case:
            update["fold_case"] = True
        if fix.default is not None:
            update["default"] = fix.default
        changed = current.model_copy(update=update)
        document["fields"][fix.field] = changed.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return parse_mapping(document)


@dataclass
class _FieldSeen:
    spellings: Counter[str] = field(default_factory=Counter)
    placeholders: Counter[str] = field(default_factory=Counter)
    blanks: int = 0
    too_many: bool = False
    days: set[Any] = field(default_factory=set)
    dated: int = 0


class WarningCollector:
    """Fed each chunk's source texts and typed values; says what the whole file will mean."""

    def __init__(self, spec: KindSpec, mapping: Mapping, columns: dict[str, str | None]) -> None:
        self.spec = spec
        self.mapping = mapping
        self.columns = columns
        self.rows = 0
        self.seen: dict[str, _FieldSeen] = {name: _FieldSeen() for name in columns}
        self.reasons_without_date = 0
        self.closed = self.won = 0

    def observe(self, name: str, source: pd.Series, typed: pd.Series) -> None:
        """One field of one chunk: `source` the file's text (null markers blank), `typed` what would be stored."""
        seen = self.seen[name]
        spec = self.spec.field(name)
        if spec.type == "text" and self.columns.get(name) is not None:
            placeholder = casefold(source).isin(PLACEHOLDERS)
            if placeholder.any():
                seen.placeholders.update(source[placeholder].tolist())
            seen.blanks += int((source == "").sum())
            if name in CATEGORY_FIELDS and not seen.too_many:
                seen.spellings.update(typed.dropna().astype(str).value_counts().to_dict())
                if len(seen.spellings) > MAX_DISTINCT:
                    seen.too_many, seen.spellings = True, Counter()
        if spec.type == "datetime":
            present = typed.dropna()
            seen.dated += len(present)
            if len(seen.days) <= 1:
                seen.days.update(present.dt.normalize().unique().tolist())

    def observe_rows(self, frame: pd.DataFrame) -> None:
        """The typed rows of a chunk, for warnings across fields."""
        self.rows += len(frame)
        if self.spec.kind == "leads" and "rejection_reason" in frame:
            reasons = frame["rejection_reason"].notna()
            undated = frame["rejected_at"].isna() if "rejected_at" in frame else pd.Series(True, index=frame.index)
            self.reasons_without_date += int((reasons & undated).sum())
        if self.spec.kind == "opportunities" and "is_won" in frame:
            decided = frame["is_won"].notna()
            self.closed += int(decided.sum())
            self.won += int((decided & (frame["is_won"] == True)).sum())  # noqa: E712 - an object column of bools

    def warnings(self) -> list[ImportWarning]:
        found: list[ImportWarning] = []
        if self.rows == 0:
            return found
        if self.spec.kind == "leads":
            found += self._mql_dates()
            if self.reasons_without_date:
                found.append(
                    ImportWarning(
                        "reasons_without_rejection",
                        "rows with a rejection reason but no rejection date: they will not count as rejected",
                        self.reasons_without_date,
                        "rejection_reason",
                    )
                )
        for name, seen in self.seen.items():
            found += self._field_warnings(name, seen)
        if self.spec.kind == "opportunities" and self.closed and self.won == self.closed:
            found.append(
                ImportWarning(
                    "only_won",
                    "every closed deal in this file is won: a win rate over these deals alone will read 100%",
                    self.closed,
                    "is_won",
                )
            )
        return found

    def _mql_dates(self) -> list[ImportWarning]:
        if "mql_at" not in self.columns:
            return [
                ImportWarning(
                    "no_mql_date",
                    "no field gives the MQL date: none of these leads will count as MQLs",
                    self.rows,
                    "mql_at",
                )
            ]
        if self.seen["mql_at"].dated == 0:
            return [
                ImportWarning(
                    "no_mql_date",
                    "no row has an MQL date: none of these leads will count as MQLs",
                    self.rows,
                    "mql_at",
                )
            ]
        return []

    def _field_warnings(self, name: str, seen: _FieldSeen) -> list[ImportWarning]:
        found: list[ImportWarning] = []
        label = self.spec.field(name).label
        for value, count in seen.placeholders.most_common():
            found.append(
                ImportWarning(
                    "placeholder",
                    f"{label}: {value!r} looks like a form's blank, and would be stored as a real value",
                    count,
                    name,
                    Fix(f"Treat {value!r} as blank", null_value=value),
                )
            )
        groups: dict[str, list[tuple[str, int]]] = {}
        for value, count in seen.spellings.items():
            groups.setdefault(fold_spaces(value), []).append((value, count))
        variants = [group for group in groups.values() if len(group) > 1]
        if variants:
            variants.sort(key=lambda group: -sum(count for _, count in group))
            example = " / ".join(repr(value) for value, _ in sorted(variants[0], key=lambda item: -item[1]))
            rows = sum(count for group in variants for _, count in group)
            more = f" and {len(variants) - 1} more" if len(variants) > 1 else ""
            found.append(
                ImportWarning(
                    "case_variants",
                    f"{label}: values that differ only in case or spacing would count apart ({example}{more})",
                    rows,
                    name,
                    Fix(f"Fold case and spacing of {label}", field=name, fold_case=True),
                )
            )
        found += self._blank_merges(name, seen)
        if self.spec.field(name).type == "datetime" and len(seen.days) == 1 and seen.dated == self.rows > 1:
            day = next(iter(seen.days))
            source = self.mapping.fields[name]
            why = " (the day of the import)" if source.import_day else " (a constant)" if source.constant else ""
            found.append(
                ImportWarning(
                    "one_date",
                    f"{label}: every row is on {pd.Timestamp(day):%d %b %Y}{why}; periods will put them all in one day",
                    seen.dated,
                    name,
                )
            )
        return found

    def _blank_merges(self, name: str, seen: _FieldSeen) -> list[ImportWarning]:
        source = self.mapping.fields.get(name)
        default = source.default if source is not None and source.default is not None else None
        default = default if default is not None else self.spec.field(name).blank_default
        if not seen.blanks or default is None or self.columns.get(name) is None:
            return []
        label = self.spec.field(name).label
        literal = seen.spellings.get(default, 0) - seen.blanks  # the stored values count the blanks as the default
        if literal <= 0:
            return []
        return [
            ImportWarning(
                "blank_merges",
                f"{label}: {seen.blanks:,} blanks would become {default!r} and merge with the {literal:,} "
                f"{'row' if literal == 1 else 'rows'} that say {default!r}",
                seen.blanks,
                name,
                Fix(f"Store blank {label} as {BLANK_DEFAULT_FIX!r}", field=name, default=BLANK_DEFAULT_FIX),
            )
        ]
