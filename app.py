"""OneFunnel: the router and frame. Page config, navigation, nothing else."""

import streamlit as st

st.set_page_config(page_title="OneFunnel", page_icon=":material/filter_alt:", layout="wide")

pages = {
    "Numbers": [st.Page("pages/scoreboard.py", title="Scoreboard", icon=":material/leaderboard:", default=True)],
}
st.navigation(pages).run()
