"""Data (ops, admin): upload a CSV, check it, import it; the import history."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.db import session_scope
from core.importer import ImportRefused, import_csv, import_history
from core.mapping import MappingError, find_mapping, mapping_names
from core.schema import KINDS
from ui import auth, data

user = auth.guard("import_data")
st.title("Data")
st.caption(
    "Imports are all or nothing: a file with any bad row is refused whole with the rows to fix, and "
    "importing the same file twice changes nothing. Check a file first to see what it would change."
)

left, middle, right = st.columns([1, 1, 2])
kind = left.selectbox("Kind of file", list(KINDS), key="data_kind")
with session_scope(data.engine()) as session:
    choices = mapping_names(session, kind)
mapping_name = middle.selectbox(
    "Column mapping",
    ["canonical columns", *choices],
    key="data_mapping",
    help="A preset for a CRM export (HubSpot, Salesforce …), a saved mapping, or the canonical column names.",
)
upload = right.file_uploader("CSV file", type=["csv", "txt"], key="data_upload")


def run_import(dry_run: bool) -> None:
    assert upload is not None
    mapping = None
    if mapping_name != "canonical columns":
        try:
            with session_scope(data.engine()) as session:
                mapping = find_mapping(session, mapping_name)
        except MappingError as problem:
            st.error(str(problem))
            return
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
        st.dataframe(
            pd.DataFrame(
                [(p.row, p.column, p.value, p.expected) for p in refused.problems],
                columns=["row", "column", "value", "expected"],
            ),
            hide_index=True,
            width="stretch",
            key="data_problems",
        )
        return
    bar.progress(1.0, text="done")
    if not dry_run:
        data.clear_after_write()
    (st.info if dry_run else st.success)(result.summary().replace("\n", "  \n"))


if upload is not None:
    check, go, _ = st.columns([1, 1, 4])
    if check.button("Check the file", key="data_check", icon=":material/fact_check:"):
        run_import(dry_run=True)
    if go.button("Import", key="data_import", type="primary", icon=":material/upload:"):
        run_import(dry_run=False)

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
