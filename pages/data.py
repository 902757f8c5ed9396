"""Data (ops, admin): upload an export, build its mapping, check it, import it; the import history; the names
sources show under."""

from __future__ import annotations

import hashlib

import streamlit as st

from core.db import read_scope
from core.exports import inert
from core.formats import KINDS
from core.formatting import MISSING
from core.imports.display_names import MAX_NAME_LENGTH, DisplayNameError, edited_names, rename, source_names
from core.imports.file_formats import sheet_names
from core.imports.import_warnings import apply_fix
from core.imports.mapping import (
    Mapping,
    MappingError,
    find_mapping,
    mapping_names,
    saved_mappings,
    suggest_mapping,
)
from core.imports.preview import preview, preview_table
from core.imports.problems import problems_frame
from core.imports.runs import ImportRefused, ImportResult, import_csv, import_history
from ui import auth, cache, feedback
from ui.mapping_editor import Editor, read_upload
from ui.tables import show_table

GUESS = "Guess from the file's columns"
COUNTS = ("rows", "inserted", "updated", "unchanged", "skipped")
HISTORY_COLUMNS = {
    "when": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
    "who": "Who",
    "kind": "Kind",
    "file": "File",
    "mapping": "Mapping",
    **{name: st.column_config.NumberColumn(name.title(), format="localized") for name in COUNTS},
    "sha256": st.column_config.TextColumn("File SHA-256", width="small"),
}
NAME_COLUMNS = {
    "source": st.column_config.TextColumn("Source as imported"),
    "leads": st.column_config.NumberColumn("Leads", format="localized"),
    "display_name": st.column_config.TextColumn("Display name", max_chars=MAX_NAME_LENGTH),
}

user = auth.guard("import_data")
st.title("Data")
st.caption(
    "Imports are all or nothing: a file with any bad row is refused whole with the rows to fix, and "
    "importing the same file twice changes nothing. Check a file first to see what it would change and mean."
)

left, middle, right = st.columns([1, 1, 2])
kind = left.selectbox("Kind of file", list(KINDS), key="data_kind", format_func=lambda kind: KINDS[kind].label)
with read_scope(cache.engine()) as session:
    choices = mapping_names(session, kind)
    saved_names = {mapping.name for mapping in saved_mappings(session, kind)}
mapping_name = middle.selectbox(
    "Column mapping",
    [GUESS, *choices],
    key="data_mapping",
    help="A preset for a CRM export (HubSpot, Salesforce …), a saved mapping, or a guess from the column names "
    "that you can correct below.",
)
upload = right.file_uploader(
    "CSV or Excel file",
    type=["csv", "txt", "tsv", "gz", "xlsx", "xlsm"],
    key="data_upload",
    help="CSV (comma, semicolon or tab), gzip-compressed CSV, or an Excel workbook (one sheet at a time)",
)
feedback.show_notice("data")


def starting_mapping(header: list[str]) -> Mapping | None:
    if mapping_name == GUESS:
        return suggest_mapping(kind, header)
    try:
        with read_scope(cache.engine()) as session:
            return find_mapping(session, mapping_name)
    except MappingError as problem:
        st.error(str(problem))
        return None


def show_preview(mapping: Mapping, sheet: str | None) -> None:
    assert upload is not None
    shown = preview(cache.engine(), kind, upload, mapping, sheet=sheet)
    st.subheader("Preview: the first rows as they would be imported")
    if not shown.mapped.empty:
        show_table(preview_table(shown, kind), key="data_preview")
    if shown.number_format is not None and shown.reads_numbers:
        st.caption(f"Numbers: {shown.number_format.describe()}.")
    for note in shown.notes:
        st.caption(inert(note[0].upper() + note[1:] + "."))
    if shown.problems:
        count = len(shown.problems)
        st.warning(f"{count} problem{'s' if count != 1 else ''} in the first rows: the import would refuse the file.")
        show_table(problems_frame(shown.problems), key="data_preview_problems")


def run_import(editor: Editor, mapping: Mapping, sheet: str | None, dry_run: bool) -> None:
    assert upload is not None
    bar = st.progress(0.0, text="Reading")
    try:
        result: ImportResult | ImportRefused = import_csv(
            cache.engine(),
            kind,
            upload,
            actor=user.actor,
            mapping=mapping,
            file_name=upload.name,
            dry_run=dry_run,
            sheet=sheet,
            progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message.capitalize()),
        )
    except ImportRefused as refused:
        result = refused
    bar.empty()
    if not dry_run and isinstance(result, ImportResult):
        cache.clear_after_write()
    st.session_state[f"data_result|{editor.scope}"] = result


def show_result(editor: Editor, mapping: Mapping) -> None:
    """The last check or import of this mapping: its report, and each warning with its one-click fix."""
    result = st.session_state.get(f"data_result|{editor.scope}")
    if isinstance(result, ImportRefused):
        st.error(inert(result.headline()))
        show_table(problems_frame(result.problems), key="data_problems")
        return
    if not isinstance(result, ImportResult):
        return
    (st.info if result.dry_run else st.success)(inert(result.summary(with_warnings=False)))
    for position, warning in enumerate(result.warnings):
        text_column, fix_column = st.columns([4, 1], vertical_alignment="center")
        text_column.warning(inert(str(warning)), icon=":material/warning:")
        if warning.fix is not None and fix_column.button(warning.fix.label, key=f"data_fix|{position}"):
            editor.replace(apply_fix(mapping, warning.fix).to_dict())
            st.rerun()


def display_names_editor() -> None:
    """Ops' names for sources: the stored value stays as imported; an emptied name shows it again."""
    st.caption(
        "The name each source shows under on every page and chart; files and CSV downloads keep the source as "
        "imported. Without a name a source shows in words: paid_search reads “Paid search”."
    )
    table = source_names(cache.engine())
    if table.empty:
        st.caption("No sources yet: they come with the first leads imported.")
        return
    # Keyed by the names saved: after a save the editor starts again from them.
    saved = hashlib.sha256("\n".join(table["display_name"]).encode()).hexdigest()[:12]
    edited = st.data_editor(
        table,
        key=f"data_names|{saved}",
        hide_index=True,
        width="stretch",
        disabled=["source", "leads"],
        column_config=NAME_COLUMNS,
        placeholder=MISSING,
    )
    changes = edited_names(table, edited)
    if st.button("Save names", key="data_save_names", icon=":material/save:", disabled=not changes):
        try:
            done = rename(cache.engine(), changes, actor=user.actor)
        except DisplayNameError as problem:
            st.error(inert(f"Not saved: {problem}."))
        else:
            feedback.after_write("data", f"Saved {len(done)} display name{'s' if len(done) != 1 else ''}.")


if upload is not None:
    sheets = sheet_names(upload)
    sheet = st.selectbox("Sheet", sheets, key=f"data_sheet|{upload.file_id}") if sheets else None
    read = read_upload(upload, sheet)
    base = starting_mapping(read[0]) if read is not None else None
    if read is not None and base is not None:
        editor = Editor(f"{upload.file_id}|{kind}|{mapping_name}|{sheet}", base, *read)
        mapping = editor.panel(mapping_name if mapping_name in saved_names else "", user.actor)
        if mapping is not None:
            show_preview(mapping, sheet)
            check, go, _ = st.columns([2, 1, 5])
            checked = check.button("Check the whole file", key="data_check", icon=":material/fact_check:")
            imported = go.button("Import", key="data_import", type="primary", icon=":material/upload:")
            if checked or imported:
                run_import(editor, mapping, sheet, dry_run=checked)
            show_result(editor, mapping)

# Keyed, so that a save's rerun comes back to the tab it was made in.
history_tab, names_tab = st.tabs(["Import history", "Display names of sources"], key="data_tab", on_change="rerun")
with history_tab:
    history = import_history(cache.engine())
    if history.empty:
        st.caption("No imports yet.")
    else:
        show_table(history, column_config=HISTORY_COLUMNS)
with names_tab:
    display_names_editor()
