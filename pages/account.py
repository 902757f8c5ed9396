"""Your account (everyone): who you are signed in as, what your role may do, and changing your password."""

from __future__ import annotations

import time

import streamlit as st

from core.admin.users import MIN_PASSWORD_LENGTH, UserError, change_own_password
from core.exports import inert
from core.permissions import GRANTS, may
from core.vocabulary import role_label
from ui import auth, cache

# What each permission lets a person do, in the words of PRODUCT.md's role table.
ABILITIES = {
    "read": "read every page",
    "answer_survey": "answer the self-diagnostic",
    "propose_definition": "propose a definition change and comment",
    "approve_definition": "approve or reject a proposal for your team's side",
    "import_data": "import data, edit targets and spend, use the sandbox with uploads",
    "run_sync": "run the weekly sync",
    "view_audit": "read the audit log",
    "edit_reasons": "keep the rejection-reason catalogue",
    "manage_survey": "open and close rounds of the self-diagnostic",
    "manage": "manage users, roles and settings",
}

# The cookie component reruns the page once it has stored the new cookie, which would wipe a message
# shown only on the submitting run; so the message is kept in the session for a short while.
NOTICE_KEY = "account_password_changed_at"
NOTICE_SECONDS = 60

user = auth.guard("read")
st.title("Your account")
st.markdown(
    f"**{inert(user.name)}** · {inert(user.username)} · {inert(user.email)}  \nRole: **{role_label(user.role)}**"
)
st.caption("Your role lets you " + "; ".join(ABILITIES[p] for p in GRANTS if may(user.role, p)) + ".")

st.subheader("Change your password")
with st.form("change_password", clear_on_submit=True):
    current = st.text_input("Current password", type="password", key="account_current")
    new = st.text_input(
        "New password", type="password", key="account_new", help=f"At least {MIN_PASSWORD_LENGTH} characters."
    )
    repeated = st.text_input("New password again", type="password", key="account_repeat")
    submitted = st.form_submit_button("Change password", type="primary")
if submitted:
    if new != repeated:
        st.error("The two new passwords differ; nothing was changed.")
    else:
        try:
            change_own_password(cache.engine(), user.actor, current=current, new=new)
        except UserError as problem:
            st.error(f"Not changed: {str(problem).rstrip('.')}.")
        else:
            auth.renew_cookie()
            st.session_state[NOTICE_KEY] = time.monotonic()
if time.monotonic() - st.session_state.get(NOTICE_KEY, -NOTICE_SECONDS) < NOTICE_SECONDS:
    st.success("Password changed. Other browsers where you were signed in now need the new password.")
