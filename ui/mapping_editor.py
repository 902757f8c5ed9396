"""The Data page's mapping editor: the whole mapping language as widgets, and as YAML, kept in step.

The mapping being edited is a document in session state (per file, kind and starting mapping). Each widget
starts from the document and writes its value back through a pure `core.imports.mapping_edits` function on every
run; the YAML view is keyed by the document itself, so it always shows the mapping the widgets make, and an
applied YAML (or a one-click fix) starts the widgets again from the new document.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pandas as pd
import streamlit as st
import yaml
from streamlit.runtime.uploaded_file_manager import UploadedFile

from core.db import session_scope
from core.exports import inert
from core.formats import KINDS
from core.formatting import MISSING
from core.imports import mapping_edits as edits
from core.imports.mapping import Mapping, MappingError, dump_mapping, parse_mapping, save_mapping
from core.imports.preview import FileProfile, profile
from core.imports.reading import read_header
from core.imports.runs import ImportRefused
from core.permissions import Actor
from ui import cache, feedback

NOT_IMPORTED = "— not imported —"
IMPORT_DAY = "— the day of the import —"
CONSTANT = "— a constant —"
EVERY_ROW = "every row"
ALL_HOLD = "rows where all of these hold"
ANY_HOLDS = "rows where any of these holds"
IS_ONE_OF, IS_NONE_OF = "is one of", "is none of"
BLANK = "(blank)"
GUESS = "guess from the file"
DECIMALS = {GUESS: None, "point: 1,234.5": ".", "comma: 1.234,5": ","}
THOUSANDS = {"the other of point and comma": None, "none": "", "space": " ", "apostrophe": "'"}
MAX_CONDITION_ROWS = 4


class Editor:
    """One mapping document under edit, its widgets keyed by `scope` and a revision."""

    def __init__(self, scope: str, base: Mapping, header: list[str], profile: FileProfile) -> None:
        self.scope = scope
        self.header = header
        self.profile = profile
        self.kind = base.kind
        self.spec = KINDS[base.kind]
        state = st.session_state
        if f"data_doc|{scope}" not in state:
            state[f"data_doc|{scope}"] = base.to_dict()
            state[f"data_rev|{scope}"] = 0
        self.document: dict[str, Any] = state[f"data_doc|{scope}"]

    # ---------------------------------------------------------------- state

    @property
    def revision(self) -> int:
        return int(st.session_state[f"data_rev|{self.scope}"])

    def key(self, name: str) -> str:
        return f"data|{self.scope}|{self.revision}|{name}"

    def replace(self, document: dict[str, Any]) -> None:
        """A new document from outside the widgets (YAML, a fix): the widgets start again from it."""
        st.session_state[f"data_doc|{self.scope}"] = document
        st.session_state[f"data_rev|{self.scope}"] = self.revision + 1
        st.session_state.pop(f"data_result|{self.scope}", None)

    def keep(self) -> None:
        if st.session_state.get(f"data_doc|{self.scope}") != self.document:
            st.session_state[f"data_doc|{self.scope}"] = self.document
            st.session_state.pop(f"data_result|{self.scope}", None)  # a check of another mapping says nothing

    def mapping(self) -> Mapping | None:
        try:
            return parse_mapping(self.document)
        except MappingError:
            return None

    def values_of(self, column: str | None) -> list[tuple[str, int]]:
        return self.profile.values.get(column or "", [])

    # ---------------------------------------------------------------- widgets

    def panel(self, saved_as: str, actor: Actor) -> Mapping | None:
        """The mapping in its four views and the form that saves it; the mapping they build (None: not valid)."""
        with st.expander("Mapping: where each field comes from", expanded=True):
            tabs = st.tabs(["Fields", "Values and conditions", "Blanks, skipped rows and numbers", "YAML"])
            for tab, view in zip(tabs, (self.fields, self.details, self.file_settings, self.yaml_view), strict=True):
                with tab:
                    view()
            self.keep()
            built = self.built()
            name_column, save_column = st.columns([3, 1], vertical_alignment="bottom")
            new_name = name_column.text_input(
                "Save as",
                value=saved_as,
                key=f"name|{self.scope}",
                max_chars=128,
                help="A saved mapping of this name is replaced (the old one stays in the audit log); presets keep "
                "theirs.",
            )
            save = save_column.button(
                "Save mapping", key="data_save_mapping", icon=":material/save:", disabled=not (new_name and built)
            )
        if built is not None and new_name.strip():
            # The import history names the mapping a file was imported with: the name given here.
            built = built.model_copy(update={"name": new_name.strip()})
        if save and built is not None:
            try:
                with session_scope(cache.engine()) as session:
                    save_mapping(session, built, actor=actor)
            except MappingError as problem:
                st.error(inert(f"Not saved: {problem}."))
            else:
                feedback.after_write("data", f"Saved the mapping {built.name!r} for {self.spec.label.lower()}.")
        return built

    def fields(self) -> None:
        """For each field: a column of the file, a constant, the day of the import, or not imported."""
        st.caption("Fields marked * are required. A column's values can be mapped, folded and tested below.")
        for field in self.spec.fields:
            required = field.name in self.spec.required
            label = field.label + (" *" if required else "")
            kind, value = edits.field_source(self.document, field.name, self.header)
            special = [NOT_IMPORTED, CONSTANT] + ([IMPORT_DAY] if field.type == "datetime" else [])
            options = special + self.header
            index = options.index(
                {"none": NOT_IMPORTED, "constant": CONSTANT, "import_day": IMPORT_DAY}.get(kind, value or NOT_IMPORTED)
            )
            name_column, source_column, constant_column = st.columns([1.1, 1.6, 1.3], vertical_alignment="bottom")
            name_column.markdown(f"**{field.label}**" + (" \\*" if required else ""))
            picked = source_column.selectbox(
                label, options, index=index, key=self.key(f"source|{field.name}"), label_visibility="collapsed"
            )
            if picked == NOT_IMPORTED:
                self.document = edits.with_source(self.document, field.name, "none")
            elif picked == IMPORT_DAY:
                self.document = edits.with_source(self.document, field.name, "import_day")
            elif picked == CONSTANT:
                typed = constant_column.text_input(
                    f"{field.label}: always",
                    value if kind == "constant" else "",
                    key=self.key(f"constant|{field.name}"),
                    placeholder=field.expected(),
                )
                self.document = edits.with_source(self.document, field.name, "constant", typed)
            elif kind != "column" or picked != value:
                self.document = edits.with_source(self.document, field.name, "column", picked)

    def details(self) -> None:
        """One field at a time: its value map (the file's own values, with counts), folding, blanks, dates and
        the condition that sets it."""
        mapping = self.mapping()
        if mapping is None:
            return
        mapped = [name for name in self.spec.field_names if name in mapping.fields]
        labels = {name: self.spec.field(name).label for name in mapped}
        field = st.selectbox(
            "Refine a field", mapped, format_func=labels.get, key=self.key("refine"), help="Value maps and conditions"
        )
        if field is None:
            return
        source = mapping.fields[field]
        spec = self.spec.field(field)
        kind, column = edits.field_source(mapping, field, self.header)
        if kind == "column":
            counts = self.values_of(column)
            st.caption(
                f"The values of **{column}** in the file, most frequent first. Type what a value becomes; a blank "
                "keeps it as it is."
            )
            table = st.data_editor(
                edits.value_table(source, counts),
                key=self.key(f"map|{field}"),
                hide_index=True,
                width="stretch",
                height=min(38 + 35 * max(len(counts), 1), 300),
                disabled=["value", "rows"],
                column_config={
                    "value": st.column_config.TextColumn("Value in the file"),
                    "rows": st.column_config.NumberColumn("Rows", format="%d"),
                    "becomes": st.column_config.TextColumn("Becomes"),
                },
                placeholder=MISSING,
            )
            merged = edits.folded_spellings(counts)
            left, right = st.columns(2)
            fold = left.toggle(
                "Fold case and spacing of other values",
                source.fold_case,
                key=self.key(f"fold|{field}"),
                help=f"Google, google and 'Google ' become one value ({merged:,} rows spelled more than one way)",
            )
            other = right.text_input(
                "Values not in the map become",
                source.map_other or "",
                key=self.key(f"other|{field}"),
                placeholder="kept as they are",
            )
            default = left.text_input(
                "A blank becomes", source.default or "", key=self.key(f"default|{field}"), placeholder="left blank"
            )
            changes: dict[str, Any] = {
                "map": edits.map_from_table(pd.DataFrame(table)),
                "fold_case": fold,
                "map_other": other.strip() or None,
                "default": default.strip() or None,
            }
            if spec.type == "datetime":
                formats = source.date_format if isinstance(source.date_format, list) else [source.date_format or ""]
                typed = right.text_input(
                    "Date formats (strftime, comma-separated)",
                    ", ".join(f for f in formats if f),
                    key=self.key(f"dates|{field}"),
                    placeholder="ISO 8601, e.g. %d/%m/%Y %H:%M",
                )
                parts = [part.strip() for part in typed.split(",") if part.strip()]
                changes["date_format"] = parts[0] if len(parts) == 1 else parts or None
            self.document = edits.with_details(self.document, field, **changes)
        when = self.condition(f"when|{field}", source.when, f"Set {spec.label} on")
        self.document = edits.with_details(self.document, field, when=when)

    def condition(self, name: str, condition: Any, label: str) -> dict[str, Any] | None:
        """A condition builder: every row, or rows where all (any) of up to four column tests hold."""
        joiner, rows = edits.condition_rows(condition)
        choice = EVERY_ROW if not rows else (ANY_HOLDS if joiner == "any" else ALL_HOLD)
        picked = st.radio(
            label,
            [EVERY_ROW, ALL_HOLD, ANY_HOLDS],
            index=[EVERY_ROW, ALL_HOLD, ANY_HOLDS].index(choice),
            horizontal=True,
            key=self.key(f"{name}|joiner"),
        )
        if picked == EVERY_ROW:
            return None
        count = st.number_input(
            "Tests", 1, MAX_CONDITION_ROWS, max(len(rows), 1), key=self.key(f"{name}|count"), width=140
        )
        built: list[edits.ConditionRow] = []
        for position in range(int(count)):
            row = rows[position] if position < len(rows) else edits.ConditionRow("", False, ())
            column_cell, test_cell, values_cell = st.columns([1.2, 0.8, 2])
            columns = self.header
            column = column_cell.selectbox(
                "Column",
                columns,
                index=columns.index(row.column) if row.column in columns else 0,
                key=self.key(f"{name}|column|{position}"),
            )
            negated = test_cell.selectbox(
                "Test", [IS_ONE_OF, IS_NONE_OF], index=int(row.negated), key=self.key(f"{name}|test|{position}")
            )
            found = [value for value, _ in self.values_of(column)]
            options = list(
                dict.fromkeys(
                    [*(BLANK if v == "" else v for v in found), *(BLANK if v == "" else v for v in row.values)]
                )
            )
            counts = dict(self.values_of(column))
            chosen = values_cell.multiselect(
                "Values",
                options,
                default=[_shown(v) for v in row.values],
                key=self.key(f"{name}|values|{position}"),
                format_func=lambda v, counts=counts: f"{v} ({counts.get('' if v == BLANK else v, 0):,})",
                accept_new_options=True,
            )
            values = tuple("" if v == BLANK else v for v in chosen)
            built.append(edits.ConditionRow(column, negated == IS_NONE_OF, values))
        return edits.condition_document("any" if picked == ANY_HOLDS else "all", built)

    def file_settings(self) -> None:
        """Null markers (offered from what the file holds), ignored columns, skip rules and number separators."""
        mapping = self.mapping()
        current = mapping.null_values if mapping else []
        offered = dict(self.profile.placeholders())
        options = list(dict.fromkeys([*offered, *current]))
        markers = st.multiselect(
            "Values that mean blank",
            options,
            default=current,
            key=self.key("nulls"),
            format_func=lambda v: f"{v} ({offered[v]:,} cells)" if v in offered else v,
            accept_new_options=True,
            help="A web form's untouched 'Select', 'N/A', '-' … are read as blanks in every column",
        )
        self.document = edits.with_list(self.document, "null_values", markers)
        ignored = st.multiselect(
            "Columns you do not import (the report stops listing them)",
            self.header,
            default=[c for c in (mapping.ignore_columns if mapping else []) if c in self.header],
            key=self.key("ignored"),
        )
        self.document = edits.with_list(self.document, "ignore_columns", ignored)
        rules = mapping.skip_rows if mapping else []
        first = rules[0] if rules else None
        skip = self.condition("skip", first, "Skip")
        reason = st.text_input(
            "Why they are skipped (counted in the report)",
            first.reason if first else "",
            key=self.key("skip|reason"),
            disabled=skip is None,
        )
        kept_rules = [rule.model_dump(mode="json", by_alias=True, exclude_defaults=True) for rule in rules[1:]]
        skip_rules = ([{**skip, "reason": reason.strip()} if reason.strip() else skip] if skip else []) + kept_rules
        self.document = edits.with_list(self.document, "skip_rows", skip_rules)
        left, right = st.columns(2)
        decimal_now = mapping.decimal_separator if mapping else None
        decimal = left.selectbox(
            "Decimal separator",
            list(DECIMALS),
            index=list(DECIMALS.values()).index(decimal_now) if decimal_now in DECIMALS.values() else 0,
            key=self.key("decimal"),
        )
        thousands_now = mapping.thousands_separator if mapping else None
        thousands = right.selectbox(
            "Thousands separator",
            list(THOUSANDS),
            index=list(THOUSANDS.values()).index(thousands_now) if thousands_now in THOUSANDS.values() else 0,
            key=self.key("thousands"),
            disabled=DECIMALS[decimal] is None,
        )
        chosen_decimal = DECIMALS[decimal]
        self.document = edits.with_numbers(
            self.document, chosen_decimal, THOUSANDS[thousands] if chosen_decimal else None
        )

    def yaml_view(self) -> None:
        """The document as YAML, editable: applied only when it is a valid mapping."""
        text = yaml.safe_dump(self.document, sort_keys=False, allow_unicode=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        typed = st.text_area("The mapping as YAML", text, height=320, key=self.key(f"yaml|{digest}"))
        if st.button("Apply the YAML", key=self.key("apply_yaml"), icon=":material/check:"):
            try:
                applied = parse_mapping(typed)
            except MappingError as problem:
                st.error(f"Not applied: {problem}")
                return
            if applied.kind != self.kind:
                st.error(f"Not applied: this is a {applied.kind} mapping; the file is {self.kind}.")
                return
            self.replace(applied.to_dict())
            st.rerun()

    def built(self) -> Mapping | None:
        """The mapping the widgets make, or None with the reason shown."""
        fields = self.document.get("fields") or {}
        missing = [self.spec.field(name).label for name in self.spec.required if name not in fields]
        if missing:
            st.warning(f"Choose a column for {', '.join(missing)}: a {self.kind} file needs it.")
            return None
        try:
            mapping = parse_mapping(self.document)
        except MappingError as problem:
            st.warning(str(problem).replace("the mapping is not usable: ", "The mapping is not finished: "))
            return None
        return mapping

    def as_yaml(self) -> str:
        mapping = self.mapping()
        return dump_mapping(mapping) if mapping else ""


def read_upload(upload: UploadedFile, sheet: str | None) -> tuple[list[str], FileProfile] | None:
    """The header of an upload and the values of each column (what a mapping is built from), read once per upload
    and kept in this session only; None, with the reason shown, when the file is no table."""
    key = f"data_profile|{upload.file_id}|{sheet}"
    if key not in st.session_state:
        try:
            header = read_header(upload, upload.name, sheet)
            with st.spinner("Reading the file's values"):
                st.session_state[key] = (header, profile(upload, upload.name, sheet))
        except ImportRefused as refused:
            st.error(inert(f"{upload.name}: {refused.problems[0].expected}"))
            return None
    return st.session_state[key]  # type: ignore[no-any-return]


def _shown(value: str) -> str:
    """A condition's value as the page lists it: a blank is "(blank)"."""
    return BLANK if value == "" else value
