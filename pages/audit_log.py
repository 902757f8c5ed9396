"""Audit log (ops, admin): every write, who made it and when, filtered and downloadable."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from core.audit import AuditQuery, actor_in_words, entries, facets
from core.exports import to_safe_csv
from core.vocabulary import audit_word
from ui import auth, cache
from ui.tables import show_table

ANY = "any"
LIMIT = 500

user = auth.guard("view_audit")
st.title("Audit log")
st.caption("Every change anyone made through OneFunnel, newest first. Times are UTC.")

choices = facets(cache.engine(), user.actor)
who_column, entity_column, action_column, key_column = st.columns(4)
people = cache.people()
who = who_column.selectbox(
    "Who",
    [ANY, *choices["who"]],
    format_func=lambda name: "Anyone" if name == ANY else actor_in_words(name, people),
    key="audit_who",
)
entity = entity_column.selectbox(
    "What",
    [ANY, *choices["entity"]],
    format_func=lambda key: "Anything" if key == ANY else audit_word(key),
    key="audit_entity",
)
action = action_column.selectbox(
    "Action",
    [ANY, *choices["action"]],
    format_func=lambda key: "Any" if key == ANY else audit_word(key),
    key="audit_action",
)
key_text = key_column.text_input("Key contains", key="audit_key", placeholder="a user name, an import id …")
today = dt.datetime.now(dt.UTC).date()
days = st.date_input("Days", (today - dt.timedelta(days=30), today), max_value=today, key="audit_days")
first_day, last_day = (days[0], days[-1]) if isinstance(days, tuple) and days else (None, None)

page = entries(
    cache.engine(),
    user.actor,
    AuditQuery(
        who=None if who == ANY else who,
        entity=None if entity == ANY else entity,
        action=None if action == ANY else action,
        first_day=first_day,
        last_day=last_day,
        key_contains=key_text or None,
    ),
    limit=LIMIT,
)
if page.total == 0:
    st.info("Nothing matches these filters.", icon=":material/search_off:")
    st.stop()
shown = len(page.rows)
st.caption(f"{page.total:,} entries" + (f"; the newest {shown:,} are shown" if page.total > shown else ""))
show_table(
    page.in_words(people),
    key="audit_table",
    column_config={
        "id": st.column_config.NumberColumn("#", width="small"),
        "at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm:ss"),
        "actor": "Who",
        "action": st.column_config.TextColumn("Action", width="medium"),
        "entity": "What",
        "entity_key": "Key",
        "detail": st.column_config.TextColumn("Detail", width="large"),
    },
)
st.download_button(
    "Download these rows (CSV)",
    to_safe_csv(page.rows),
    file_name=f"onefunnel-audit-{today:%Y%m%d}.csv",
    mime="text/csv",
    key="audit_download",
    icon=":material/download:",
)
