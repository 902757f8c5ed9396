"""Data (ops, admin): upload an export, build its mapping, check it, import it; the import history."""

from __future__ import annotations

import streamlit as st

from core.db import read_scope, session_scope
from core.exports import inert
from core.formats import KINDS
from core.imports.file_formats import sheet_names
from core.imports.import_warnings import apply_fix
from core.imports.importer import (
    FileProfile,
    ImportRefused,
    ImportResult,
    import_csv,
    import_history,
    preview,
    problems_frame,
    profile,
    read_header,
)
from core.imports.mapping import (
    Mapping,
    MappingError,
    find_mapping,
    mapping_names,
    save_mapping,
    saved_mappings,
    suggest_mapping,
)
from ui import auth, cache, feedback
from ui.mapping_editor import Editor

GUESS = "guess from the file's columns"
KIND_LABELS = {"leads": "Leads", "opportunities": "Opportunities (deals)", "touches": "Touches", "spend": "Spend"}
KIND_LABELS["targets"] = "Targets"

user = auth.guard("import_data")
st.title("Data")
st.caption(
    "Imports are all or nothing: a file with any bad row is refused whole with the rows to fix, and "
    "importing the same file twice changes nothing. Check a file first to see what it would change and mean."
)

left, middle, right = st.columns([1, 1, 2])
kind = left.selectbox("Kind of file", list(KINDS), key="data_kind", format_func=KIND_LABELS.get)
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


def chosen_sheet() -> str | None:
    assert upload is not None
    sheets = sheet_names(upload)
    if not sheets:
        return None
    return st.selectbox("Sheet", sheets, key=f"data_sheet|{upload.file_id}")


def file_profile(sheet: str | None) -> tuple[list[str], FileProfile] | None:
    """The header and the values of each column, read once per upload (kept in this session only)."""
    assert upload is not None
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


def starting_mapping(header: list[str]) -> Mapping | None:
    if mapping_name == GUESS:
        return suggest_mapping(kind, header)
    try:
        with read_scope(cache.engine()) as session:
            return find_mapping(session, mapping_name)
    except MappingError as problem:
        st.error(str(problem))
        return None


def mapping_panel(editor: Editor) -> Mapping | None:
    with st.expander("Mapping: where each field comes from", expanded=True):
        fields_tab, values_tab, file_tab, yaml_tab = st.tabs(
            ["Fields", "Values and conditions", "Blanks, skipped rows and numbers", "YAML"]
        )
        with fields_tab:
            editor.fields()
        with values_tab:
            editor.details()
        with file_tab:
            editor.file_settings()
        with yaml_tab:
            editor.yaml_view()
        editor.keep()
        built = editor.built()
        name_column, save_column = st.columns([3, 1], vertical_alignment="bottom")
        new_name = name_column.text_input(
            "Save as",
            value=mapping_name if mapping_name in saved_names else "",
            key=f"name|{editor.scope}",
            max_chars=128,
            help="A saved mapping of this name is replaced (the old one stays in the audit log); presets keep theirs.",
        )
        save = save_column.button(
            "Save mapping", key="data_save_mapping", icon=":material/save:", disabled=not (new_name and built)
        )
        if built is not None and new_name.strip():
            # The import history names the mapping a file was imported with: the name given here.
            built = built.model_copy(update={"name": new_name.strip()})
        if save and built is not None:
            named = built
            try:
                with session_scope(cache.engine()) as session:
                    save_mapping(session, named, actor=user.actor)
            except MappingError as problem:
                st.error(f"Not saved: {problem}.")
            else:
                feedback.after_write("data", f"Saved the mapping {named.name!r} for {kind} files.")
    return built


def show_preview(mapping: Mapping, sheet: str | None) -> None:
    assert upload is not None
    shown = preview(cache.engine(), kind, upload, mapping, sheet=sheet)
    st.subheader("Preview: the first rows as they would be imported")
    if not shown.mapped.empty:
        spec = KINDS[kind]
        ordered = [name for name in spec.field_names if name in shown.mapped.columns]
        table = shown.mapped[ordered].astype(object)
        table = table.where(table.notna(), "")  # a blank shows blank, not "None"
        st.dataframe(
            table.rename(columns=lambda name: spec.field(name).label),
            hide_index=True,
            width="stretch",
            key="data_preview",
        )
    if shown.number_format is not None and shown.reads_numbers:
        st.caption(f"Numbers: {shown.number_format.describe()}.")
    for note in shown.notes:
        st.caption(inert(note[0].upper() + note[1:] + "."))
    if shown.problems:
        count = len(shown.problems)
        st.warning(f"{count} problem{'s' if count != 1 else ''} in the first rows: the import would refuse the file.")
        st.dataframe(problems_frame(shown.problems), hide_index=True, width="stretch", key="data_preview_problems")


def run_import(editor: Editor, mapping: Mapping, sheet: str | None, dry_run: bool) -> None:
    assert upload is not None
    bar = st.progress(0.0, text="reading")
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
            progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message),
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
        st.error(
            f"{result.file_name} was refused: {result.total:,} problem{'s' if result.total != 1 else ''}"
            + (f" (the first {len(result.problems)} are listed)." if result.total > len(result.problems) else ".")
            + " Nothing was changed."
        )
        st.dataframe(problems_frame(result.problems), hide_index=True, width="stretch", key="data_problems")
        return
    if not isinstance(result, ImportResult):
        return
    summary = result.summary().split("\n  warning:")[0]
    (st.info if result.dry_run else st.success)(summary.replace("\n", "  \n"))
    for position, warning in enumerate(result.warnings):
        text_column, fix_column = st.columns([4, 1], vertical_alignment="center")
        text_column.warning(inert(str(warning)), icon=":material/warning:")
        if warning.fix is not None and fix_column.button(warning.fix.label, key=f"data_fix|{position}"):
            editor.replace(apply_fix(mapping, warning.fix).to_dict())
            st.rerun()


if upload is not None:
    sheet = chosen_sheet()
    read = file_profile(sheet)
    if read is not None:
        header, values = read
        base = starting_mapping(header)
        if base is not None:
            scope = f"{upload.file_id}|{kind}|{mapping_name}|{sheet}"
            editor = Editor(scope, base, header, values)
            mapping = mapping_panel(editor)
            if mapping is not None:
                show_preview(mapping, sheet)
                check, go, _ = st.columns([2, 1, 5])
                checked = check.button("Check the whole file", key="data_check", icon=":material/fact_check:")
                imported = go.button("Import", key="data_import", type="primary", icon=":material/upload:")
                if checked or imported:
                    run_import(editor, mapping, sheet, dry_run=checked)
                show_result(editor, mapping)

st.subheader("Import history")
history = import_history(cache.engine())
if history.empty:
    st.caption("No imports yet.")
else:
    st.dataframe(
        history,
        hide_index=True,
        width="stretch",
        column_config={
            "when": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
            "who": "Who",
            "kind": "Kind",
            "file": "File",
            "mapping": "Mapping",
            "rows": st.column_config.NumberColumn("Rows", format="%d"),
            "inserted": st.column_config.NumberColumn("Inserted", format="%d"),
            "updated": st.column_config.NumberColumn("Updated", format="%d"),
            "unchanged": st.column_config.NumberColumn("Unchanged", format="%d"),
            "skipped": st.column_config.NumberColumn("Skipped", format="%d"),
            "sha256": st.column_config.TextColumn("File SHA-256", width="small"),
        },
    )
