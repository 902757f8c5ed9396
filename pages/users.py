"""Users and roles (admin): who may sign in, with which role; add people, reset passwords, lift lockouts."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.admin.logins import FAILURE_WINDOW, MAX_FAILED_LOGINS
from core.admin.users import (
    MIN_PASSWORD_LENGTH,
    UserError,
    create_user,
    list_users,
    reset_password,
    set_active,
    set_role,
    unlock,
)
from core.formatting import MISSING
from core.permissions import ROLES
from core.vocabulary import role_label
from ui import auth, cache, feedback
from ui.tables import show_table

user = auth.guard("manage")
st.title("Users and roles")
feedback.show_notice("users")
st.caption(
    "Nobody is ever deleted: a person who leaves is deactivated, which signs them out everywhere at once. "
    "Every change here is in the audit log."
)


people = list_users(cache.engine(), user.actor)
show_table(
    pd.DataFrame(
        [
            {
                "Name": person.name,
                "User name": person.username,
                "E-mail": person.email,
                "Role": role_label(person.role),
                "Active": person.active,
                "Locked until (UTC)": f"{person.locked_until:%Y-%m-%d %H:%M}" if person.locked_until else MISSING,
            }
            for person in people
        ]
    ),
    key="users_table",
    column_config={
        "Locked until (UTC)": st.column_config.TextColumn(
            help=f"{MAX_FAILED_LOGINS} wrong passwords within {FAILURE_WINDOW.seconds // 60} minutes lock an account "
            f"until the first of them is {FAILURE_WINDOW.seconds // 60} minutes old.",
        )
    },
)


def done(message: str) -> None:
    feedback.after_write("users", message)  # the table above is re-read


add, change = st.columns(2, gap="large")
with add:
    st.subheader("Add a person")
    with st.form("add_user", clear_on_submit=False):
        username = st.text_input("User name", key="new_username", help="Lower-case letters, digits, . _ -")
        name = st.text_input("Full name", key="new_name")
        email = st.text_input("E-mail", key="new_email")
        role = st.selectbox("Role", ROLES, format_func=role_label, key="new_role")
        password = st.text_input(
            "First password",
            type="password",
            key="new_password",
            help=f"At least {MIN_PASSWORD_LENGTH} characters. Tell them in person; they change it on Your account.",
        )
        if st.form_submit_button("Add", type="primary"):
            try:
                added = create_user(
                    cache.engine(), user.actor, username=username, name=name, email=email, role=role, password=password
                )
            except UserError as problem:
                st.error(f"Not added: {problem}.")
            else:
                done(f"Added {added.name} as {role_label(added.role)}.")

with change:
    st.subheader("Change a person")
    by_name = {person.username: person for person in people}
    picked = st.selectbox(
        "Person",
        list(by_name),
        format_func=lambda username: f"{by_name[username].name} ({username})",
        key="change_username",
    )
    person = by_name.get(picked) if picked else None
    if person is not None:
        try:
            # Keys carry the person: a keyed widget keeps its value when only its default changes, so a
            # shared key would offer the previous person's role for the next one.
            with st.form(f"change_role|{person.username}"):
                new_role = st.selectbox(
                    "Role",
                    ROLES,
                    index=ROLES.index(person.role),
                    format_func=role_label,
                    key=f"change_role|{person.username}",
                )
                if st.form_submit_button("Save role"):
                    set_role(cache.engine(), user.actor, person.username, new_role)
                    done(f"{person.name}'s role is now {role_label(new_role)}.")
            with st.form("reset_password", clear_on_submit=True):
                new_password = st.text_input(
                    "New password", type="password", key="reset_new", help="Signs them out of every browser."
                )
                if st.form_submit_button("Reset password"):
                    reset_password(cache.engine(), user.actor, person.username, new_password)
                    done(f"{person.name}'s password was reset; tell them in person.")
            left, right = st.columns(2)
            if person.active:
                if left.button("Deactivate", key="deactivate", icon=":material/person_off:"):
                    set_active(cache.engine(), user.actor, person.username, False)
                    done(f"{person.name} is deactivated and signed out everywhere.")
            elif left.button("Reactivate", key="reactivate", icon=":material/person_check:"):
                set_active(cache.engine(), user.actor, person.username, True)
                done(f"{person.name} may sign in again.")
            if person.locked_until is not None and right.button(
                "Lift the lockout", key="unlock", icon=":material/lock_open:"
            ):
                cleared = unlock(cache.engine(), user.actor, person.username)
                done(f"{person.name} may try to sign in again now ({cleared} wrong passwords cleared).")
        except UserError as problem:
            st.error(f"Not changed: {problem}.")
