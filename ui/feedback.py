"""A success message that outlives the rerun a page does after a write (so that what it shows is re-read)."""

from __future__ import annotations

from typing import NoReturn

import streamlit as st

from ui import cache


def after_write(place: str, message: str) -> NoReturn:
    """Clears the cached reads, keeps `message` for `show_notice(place)` and reruns the page."""
    cache.clear_after_write()
    st.session_state[f"notice_{place}"] = message
    st.rerun()


def show_notice(place: str) -> None:
    if notice := st.session_state.pop(f"notice_{place}", None):
        st.success(notice, icon=":material/check_circle:")
