"""Column mappings: how a real export (HubSpot, Salesforce, anything) becomes a canonical kind.

A mapping is a small YAML or JSON document that ops can save, reuse and edit.
For each canonical field it names a source column (or several candidate
spellings: UI labels and API names), or a constant; optionally a date format, a
default for blanks, a value map, and a condition on another column. Presets for
common CRMs ship in core/imports/presets/; saved mappings live in the database.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.formats import kind_spec
from core.imports import numbers
from core.models import SavedMapping, utcnow
from core.permissions import Actor, require
from core.text import fold_spaces

PRESETS_DIR = Path(__file__).resolve().parent / "presets"


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class Condition(BaseModel):
    """A test on each row. A leaf: `column` holds one of `in` (or none of `not_in`), compared after folding case
    and spacing, blanks as ''. A group: `all` (every condition holds) or `any` (at least one does)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    column: str | list[str] | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    not_in: list[str] | None = None
    all_: list[Condition] | None = Field(default=None, alias="all")
    any_: list[Condition] | None = Field(default=None, alias="any")

    @field_validator("in_", "not_in", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        # YAML turns `true`, `0` and `yes` into bool/int; conditions compare text.
        if isinstance(value, list):
            return [_text_of(item) for item in value]
        return value

    @model_validator(mode="after")
    def _one_test(self) -> Condition:
        groups = [group for group in (self.all_, self.any_) if group is not None]
        if groups:
            if self.column is not None or self.in_ is not None or self.not_in is not None or len(groups) > 1:
                raise ValueError("a condition is either a group ('all' or 'any') or a test of one column")
            if not groups[0]:
                raise ValueError("'all' and 'any' need at least one condition")
            return self
        if self.column is None:
            raise ValueError("a condition needs a 'column' (or 'all' / 'any' of other conditions)")
        if (self.in_ is None) == (self.not_in is None):
            raise ValueError("a condition needs exactly one of 'in' or 'not_in'")
        return self

    @property
    def is_group(self) -> bool:
        return self.all_ is not None or self.any_ is not None

    @property
    def members(self) -> list[Condition]:
        return list(self.all_ or self.any_ or [])

    @property
    def candidates(self) -> list[str]:
        """The spellings of the tested column (a leaf only)."""
        return _as_list(self.column) if self.column is not None else []

    def leaves(self) -> list[Condition]:
        """Every single-column test inside this condition."""
        return [leaf for member in self.members for leaf in member.leaves()] if self.is_group else [self]

    def describe(self) -> str:
        if self.is_group:
            joiner = " and " if self.all_ is not None else " or "
            return "(" + joiner.join(member.describe() for member in self.members) + ")"
        values = self.in_ if self.in_ is not None else self.not_in
        verb = "is one of" if self.in_ is not None else "is none of"
        return f"{self.candidates[0]} {verb} {', '.join(repr(v) for v in values or [])}"


def _text_of(value: Any) -> str:
    """A YAML scalar as the text a CSV cell holds (YAML reads `true` and `0` as bool and int)."""
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    column: str | list[str] | None = None
    constant: str | None = None
    # The day of the import, in the organisation's timezone; a row imported again keeps the day it first came.
    import_day: bool = False
    # strftime formats tried in order (e.g. a report's "3/5/2026 2:22 PM" and a plain date); default ISO 8601.
    date_format: str | list[str] | None = None
    default: str | None = None
    map: dict[str, str] = Field(default_factory=dict)
    # What a non-blank value missing from `map` becomes (default: kept as it is).
    map_other: str | None = None
    # Values missing from `map` are stored folded (lower case, single spaces), so Google and google meet.
    fold_case: bool = False
    when: Condition | None = None

    @field_validator("constant", "default", "map_other", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        return None if value is None else _text_of(value)

    @field_validator("map", mode="before")
    @classmethod
    def _map_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {_text_of(k): _text_of(v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _one_source(self) -> FieldMapping:
        sources = sum([self.column is not None, self.constant is not None, self.import_day])
        if sources != 1:
            raise ValueError("give exactly one of 'column', 'constant' or 'import_day: true'")
        return self

    @property
    def candidates(self) -> list[str]:
        return _as_list(self.column) if self.column is not None else []

    @property
    def from_column(self) -> bool:
        return self.column is not None

    def folded_map(self) -> dict[str, str]:
        return {fold_spaces(key): value for key, value in self.map.items()}


class SkipRule(Condition):
    reason: str = ""


class Mapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    kind: str
    description: str = ""
    date_format: str | list[str] | None = None
    # How the file writes numbers; guessed from the file when not set (core.imports.numbers).
    decimal_separator: str | None = None
    thousands_separator: str | None = None
    null_values: list[str] = Field(default_factory=list)
    ignore_columns: list[str] = Field(default_factory=list)
    skip_rows: list[SkipRule] = Field(default_factory=list)
    fields: dict[str, FieldMapping]

    @field_validator("null_values", mode="before")
    @classmethod
    def _null_text(cls, value: Any) -> Any:
        return [str(item) for item in value] if isinstance(value, list) else value

    @model_validator(mode="after")
    def _fits_kind(self) -> Mapping:
        spec = kind_spec(self.kind)
        unknown = sorted(set(self.fields) - set(spec.field_names))
        if unknown:
            raise ValueError(
                f"fields {', '.join(unknown)} are not {self.kind} fields; "
                f"expected some of {', '.join(spec.field_names)}"
            )
        missing = [name for name in spec.required if name not in self.fields]
        if missing:
            raise ValueError(f"a {self.kind} mapping must map {', '.join(missing)}")
        if self.decimal_separator is not None or self.thousands_separator is not None:
            numbers.declared(self.decimal_separator or ".", self.thousands_separator)  # ValueError says what is wrong
        dated = [name for name, field in self.fields.items() if field.import_day]
        undated = [name for name in dated if spec.field(name).type != "datetime"]
        if undated:
            raise ValueError(f"import_day gives a date; {', '.join(undated)} is not a date field")
        keyed = [name for name in dated if name in spec.key]
        if keyed:
            raise ValueError(f"import_day cannot give {', '.join(keyed)}: it is part of the key of {self.kind}")
        return self

    def number_format(self) -> numbers.NumberFormat | None:
        """The number rule the mapping sets, or None to guess it from the file."""
        if self.decimal_separator is None and self.thousands_separator is None:
            return None
        return numbers.declared(self.decimal_separator or ".", self.thousands_separator)

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)


class MappingError(ValueError):
    """A mapping document that cannot be used, with a readable reason."""


def identity_mapping(kind: str, header: list[str]) -> Mapping:
    """The mapping for a canonical file: each field from the column of the same name."""
    spec = kind_spec(kind)
    present = {fold_spaces(column) for column in header}
    fields = {name: FieldMapping(column=name) for name in spec.field_names if fold_spaces(name) in present}
    for name in spec.required:
        fields.setdefault(name, FieldMapping(column=name))
    return Mapping(name=f"canonical {kind}", kind=kind, fields=fields)


def suggest_mapping(kind: str, header: list[str]) -> Mapping:
    """A first guess for a file no preset fits: each field from the column that a preset or the
    canonical format names for it (so "Lead Source" or "hs_analytics_source" land on source)."""
    spec = kind_spec(kind)
    present = {fold_spaces(column): column for column in header}
    spellings: dict[str, list[str]] = {name: [name] for name in spec.field_names}
    for preset in (load_preset(name) for name in preset_names()):
        if preset.kind == kind:
            for name, field in preset.fields.items():
                spellings[name] += field.candidates
    fields: dict[str, FieldMapping] = {}
    for name in spec.field_names:
        found = next((present[fold_spaces(s)] for s in spellings[name] if fold_spaces(s) in present), None)
        if found is not None or name in spec.required:
            fields[name] = FieldMapping(column=found or name)
    return Mapping(name=f"{kind} from file", kind=kind, fields=fields)


def with_columns(base: Mapping, columns: dict[str, str | None], *, name: str) -> Mapping:
    """`base` with each field read from the chosen column (None: not imported); value maps, date
    formats and conditions of `base` are kept. Raises MappingError when a required field has no column."""
    spec = kind_spec(base.kind)
    fields = dict(base.fields)
    for field_name, column in columns.items():
        if column is None:
            fields.pop(field_name, None)
        elif field_name in fields and fields[field_name].column is not None:
            fields[field_name] = fields[field_name].model_copy(update={"column": column})
        else:
            fields[field_name] = FieldMapping(column=column)
    missing = [field_name for field_name in spec.required if field_name not in fields]
    if missing:
        raise MappingError(f"choose a column for {', '.join(missing)}: a {base.kind} file needs it")
    if not name.strip():
        raise MappingError("a mapping needs a name")
    return parse_mapping(
        {
            **base.to_dict(),
            "name": name.strip(),
            "fields": {k: v.model_dump(mode="json", by_alias=True, exclude_defaults=True) for k, v in fields.items()},
        }
    )


def parse_mapping(document: dict[str, Any] | str) -> Mapping:
    """A mapping from a dict or YAML/JSON text, or MappingError saying what is wrong."""
    if isinstance(document, str):
        try:
            document = yaml.safe_load(document)
        except yaml.YAMLError as exc:
            raise MappingError(f"the mapping is not valid YAML or JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise MappingError("a mapping is a document with at least 'name', 'kind' and 'fields'")
    try:
        return Mapping.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'mapping'}: {error['msg']}" for error in exc.errors()
        )
        raise MappingError(f"the mapping is not usable: {problems}") from exc


def load_mapping_file(path: str | Path) -> Mapping:
    return parse_mapping(Path(path).read_text(encoding="utf-8"))


def dump_mapping(mapping: Mapping) -> str:
    return yaml.safe_dump(mapping.to_dict(), sort_keys=False, allow_unicode=True)


def preset_names() -> list[str]:
    return sorted(path.stem for path in PRESETS_DIR.glob("*.yaml"))


def load_preset(name: str) -> Mapping:
    path = PRESETS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise MappingError(f"no preset named {name!r}; presets: {', '.join(preset_names())}")
    return load_mapping_file(path)


def save_mapping(session: Session, mapping: Mapping, *, actor: Actor) -> None:
    """Create or replace a saved mapping by name (audited; the old version is in the audit log)."""
    require(actor, "import_data")
    if mapping.name in preset_names():
        raise MappingError(f"{mapping.name!r} is the name of a shipped preset; save your mapping under another name")
    payload = mapping.to_dict()
    existing = session.get(SavedMapping, mapping.name)
    if existing is not None and existing.kind != mapping.kind:
        raise MappingError(
            f"{mapping.name!r} is already a mapping for {existing.kind} files; save this {mapping.kind} mapping "
            "under another name"
        )
    before = existing.spec if existing else None
    if existing is None:
        session.add(SavedMapping(name=mapping.name, kind=mapping.kind, spec=payload, updated_by=actor.username))
    else:
        existing.kind = mapping.kind
        existing.spec = payload
        existing.updated_at = utcnow()
        existing.updated_by = actor.username
    session.flush()
    audit.record(
        session,
        actor=actor.username,
        action="update" if before else "create",
        entity="mapping",
        entity_key=mapping.name,
        detail={"before": before, "after": payload},
    )


def saved_mappings(session: Session, kind: str | None = None) -> list[Mapping]:
    query = select(SavedMapping).order_by(SavedMapping.name)
    if kind:
        query = query.where(SavedMapping.kind == kind)
    return [parse_mapping(row.spec) for row in session.scalars(query)]


def find_mapping(session: Session | None, name: str) -> Mapping:
    """A saved mapping by name, else a preset of that name."""
    if session is not None:
        row = session.get(SavedMapping, name)
        if row is not None:
            return parse_mapping(row.spec)
    return load_preset(name)


def mapping_as_json(mapping: Mapping) -> str:
    return json.dumps(mapping.to_dict(), indent=2)


def mapping_names(session: Session | None, kind: str) -> list[str]:
    """Saved mappings and shipped presets for one kind of file, saved ones first."""
    saved: list[str] = []
    if session is not None:
        saved = list(
            session.scalars(select(SavedMapping.name).where(SavedMapping.kind == kind).order_by(SavedMapping.name))
        )
    presets = [name for name in preset_names() if load_preset(name).kind == kind and name not in saved]
    return saved + presets
