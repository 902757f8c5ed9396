"""A read-only table as every page draws one: full width, no index, a missing value as the one mark."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from core.formatting import MISSING


def show_table(frame: pd.DataFrame | Any, **options: Any) -> Any:
    """st.dataframe with the house's settings; `options` (key, column_config, height, on_select …) pass on."""
    return st.dataframe(frame, hide_index=True, width="stretch", placeholder=MISSING, **options)
