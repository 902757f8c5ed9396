"""OneFunnel: the router and frame. Sign-in, the pages a role may use, nothing else."""

import streamlit as st

from core.admin.demo import DEMO_PASSWORD_SUFFIX, DemoRefused, ensure_demo_users
from core.config import ConfigError, cookie_key, demo_mode
from core.definitions.versions import sla_review
from core.permissions import may
from core.vocabulary import role_label
from ui import auth, cache, serving
from ui.menu import PAGES

st.set_page_config(page_title="OneFunnel", page_icon=":material/filter_alt:", layout="wide")

if serving.started_without_guards():
    st.error(
        "OneFunnel must be started with `streamlit run serve.py`, which guards uploads, caches and the page list; "
        "`streamlit run app.py` leaves them open to visitors who have not signed in.",
        icon=":material/gpp_bad:",
    )
    st.stop()

try:
    cookie_key()
except ConfigError as problem:
    st.error(f"OneFunnel is not configured to start: {problem}", icon=":material/key_off:")
    st.stop()


@st.cache_resource(show_spinner=False)
def _demo_users_ready() -> bool:
    ensure_demo_users(cache.engine())
    return True


if demo_mode():
    try:
        _demo_users_ready()
    except DemoRefused as problem:
        st.error(f"OneFunnel did not start in demo mode: {problem}", icon=":material/key_off:")
        st.stop()
    st.info(
        "Demo mode: sample data and demo accounts. Sign in as `admin`, `ops`, `exec`, `marketing`, `sales`, "
        f"`marketing_lead` or `sales_lead`; each password is the user name followed by `{DEMO_PASSWORD_SUFFIX}`.",
        icon=":material/science:",
    )

user = auth.sign_in()
if user is None:
    st.stop()

# Not cached: a version signed in another replica or from the CLI must show at once; it is two small reads.
review = sla_review(cache.engine())
if review is not None and review.overdue(cache.org_settings().today()):
    st.warning(
        f"The review of the SLA is overdue: {review.version.label} was due for review on {review.due:%d %b %Y}. "
        "Propose its next version on the Definitions page, even if nothing changes, for both leads to sign.",
        icon=":material/event_busy:",
    )

with st.sidebar:
    st.markdown(f"**{user.name}**  \n{role_label(user.role)}")
    if st.button("Sign out", key="sign_out", icon=":material/logout:"):
        auth.sign_out(user)
        st.rerun()

sections: dict[str, list[st.Page]] = {}
for section, path, title, icon, permission in PAGES:
    if may(user.role, permission):
        sections.setdefault(section, []).append(st.Page(path, title=title, icon=icon, default=path == PAGES[0][1]))
# The menu is drawn here rather than by st.navigation: config.toml turns Streamlit's own menu off so that
# a signed-out visitor never sees the list of files in pages/.
page = st.navigation(sections, position="hidden")
with st.sidebar:
    for section, section_pages in sections.items():
        st.caption(section)
        for entry in section_pages:
            st.page_link(entry, label=entry.title, icon=entry.icon)
page.run()
