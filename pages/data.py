"""Data (ops, admin): upload a CSV, map its columns, check it, import it; the import history."""

from __future__ import annotations

import streamlit as st

from core.db import read_scope, session_scope
from core.importer import (
    ImportRefused,
    import_csv,
    import_history,
    mapped_columns,
    preview,
    problems_frame,
    read_header,
)
from core.mapping import (
    Mapping,
    MappingError,
    dump_mapping,
    find_mapping,
    mapping_names,
    save_mapping,
    saved_mappings,
    suggest_mapping,
    with_columns,
)
from core.schema import KINDS
from ui import auth, data, feedback

GUESS = "guess from the file's columns"
NOT_IMPORTED = "— not imported —"

user = auth.guard("import_data")
st.title("Data")
st.caption(
    "Imports are all or nothing: a file with any bad row is refused whole with the rows to fix, and "
    "importing the same file twice changes nothing. Check a file first to see what it would change."
)

left, middle, right = st.columns([1, 1, 2])
kind = left.selectbox("Kind of file", list(KINDS), key="data_kind")
with read_scope(data.engine()) as session:
    choices = mapping_names(session, kind)
    saved_names = {mapping.name for mapping in saved_mappings(session, kind)}
mapping_name = middle.selectbox(
    "Column mapping",
    [GUESS, *choices],
    key="data_mapping",
    help="A preset for a CRM export (HubSpot, Salesforce …), a saved mapping, or a guess from the column names "
    "that you can correct below.",
)
upload = right.file_uploader("CSV file", type=["csv", "txt"], key="data_upload")
feedback.show_notice("data")


def mapping_builder(header: list[str]) -> Mapping | None:
    """The chosen mapping with any column the user re-pointed; None (with the reason shown) if unusable."""
    if mapping_name == GUESS:
        base = suggest_mapping(kind, header)
    else:
        try:
            with read_scope(data.engine()) as session:
                base = find_mapping(session, mapping_name)
        except MappingError as problem:
            st.error(str(problem))
            return None
    resolved = mapped_columns(base, header)
    spec = KINDS[kind]
    # Widget keys carry the file and the base mapping, so that a new file or mapping starts from its own guess.
    scope = f"{upload.file_id if upload else ''}|{kind}|{mapping_name}"
    chosen: dict[str, str | None] = {}
    unresolved = any(resolved.get(field) is None for field in spec.required if field in base.fields)
    with st.expander("Columns: which column of the file feeds each field", expanded=unresolved):
        st.caption("Fields marked * are required. Value maps and date formats of a preset are kept.")
        grid = st.columns(3)
        for position, field in enumerate(spec.field_names):
            base_field = base.fields.get(field)
            cell = grid[position % 3]
            label = field + (" *" if field in spec.required else "")
            if base_field is not None and base_field.constant is not None:
                cell.text_input(label, f"always {base_field.constant!r}", disabled=True, key=f"col|{scope}|{field}")
                continue
            current = resolved.get(field)
            options = [NOT_IMPORTED, *header]
            picked = cell.selectbox(
                label, options, index=options.index(current) if current in options else 0, key=f"col|{scope}|{field}"
            )
            chosen[field] = None if picked == NOT_IMPORTED else picked
        name_column, save_column = st.columns([3, 1], vertical_alignment="bottom")
        new_name = name_column.text_input(
            "Save as",
            value=mapping_name if mapping_name in saved_names else "",
            key=f"name|{scope}",
            max_chars=128,
            help="A saved mapping of this name is replaced (the old one stays in the audit log); presets keep theirs.",
        )
        try:
            built = with_columns(base, chosen, name=new_name or base.name)
        except MappingError as problem:
            st.warning(str(problem))
            return None
        if save_column.button("Save mapping", key="data_save_mapping", icon=":material/save:", disabled=not new_name):
            try:
                with session_scope(data.engine()) as session:
                    save_mapping(session, built, actor=user.actor)
            except MappingError as problem:
                st.error(f"Not saved: {problem}.")
            else:
                # The rerun puts it in the mapping list above; the widgets keep this file and these choices.
                feedback.after_write("data", f"Saved the mapping {built.name!r} for {kind} files.")
        if st.toggle("Show the mapping as YAML", key="data_show_yaml"):
            st.code(dump_mapping(built), language="yaml")
    return built


def show_preview(mapping: Mapping) -> None:
    assert upload is not None
    shown = preview(data.engine(), kind, upload, mapping)
    st.subheader("Preview: the first rows as they would be imported")
    if not shown.mapped.empty:
        st.dataframe(shown.mapped, hide_index=True, width="stretch", key="data_preview")
    for note in shown.notes:
        st.caption(note)
    if shown.problems:
        count = len(shown.problems)
        st.warning(f"{count} problem{'s' if count != 1 else ''} in the first rows: the import would refuse the file.")
        st.dataframe(problems_frame(shown.problems), hide_index=True, width="stretch", key="data_preview_problems")


def run_import(mapping: Mapping, dry_run: bool) -> None:
    assert upload is not None
    bar = st.progress(0.0, text="reading")
    try:
        result = import_csv(
            data.engine(),
            kind,
            upload,
            actor=user.actor,
            mapping=mapping,
            file_name=upload.name,
            dry_run=dry_run,
            progress=lambda fraction, message: bar.progress(min(max(fraction, 0.0), 1.0), text=message),
        )
    except ImportRefused as refused:
        bar.empty()
        st.error(
            f"{refused.file_name} was refused: {refused.total:,} problem{'s' if refused.total != 1 else ''}"
            + (f" (the first {len(refused.problems)} are listed)." if refused.total > len(refused.problems) else ".")
            + " Nothing was changed."
        )
        st.dataframe(problems_frame(refused.problems), hide_index=True, width="stretch", key="data_problems")
        return
    bar.progress(1.0, text="done")
    if not dry_run:
        data.clear_after_write()
    (st.info if dry_run else st.success)(result.summary().replace("\n", "  \n"))


if upload is not None:
    try:
        header = read_header(upload)
    except ImportRefused as refused:
        st.error(f"{upload.name}: {refused.problems[0].expected}")
        header = []
    mapping = mapping_builder(header) if header else None
    if mapping is not None:
        show_preview(mapping)
        check, go, _ = st.columns([2, 1, 5])
        checked = check.button("Check the whole file", key="data_check", icon=":material/fact_check:")
        imported = go.button("Import", key="data_import", type="primary", icon=":material/upload:")
        if checked or imported:
            run_import(mapping, dry_run=checked)

st.subheader("Import history")
history = import_history(data.engine())
if history.empty:
    st.caption("No imports yet.")
else:
    st.dataframe(
        history,
        hide_index=True,
        width="stretch",
        column_config={
            "when": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
            "sha256": st.column_config.TextColumn("File SHA-256", width="small"),
        },
    )
