"""The app's pages and who may open each: read by app.py to draw the menu, and by pages that link to others."""

from __future__ import annotations

from core.permissions import Permission, may

# (section, file, title, icon, permission): each person sees only the pages their role may use;
# each page checks the same permission again in its first line (auth.guard).
PAGES: list[tuple[str, str, str, str, Permission]] = [
    ("Numbers", "pages/scoreboard.py", "Scoreboard", ":material/leaderboard:", "read"),
    ("Numbers", "pages/rejections.py", "Rejections", ":material/thumb_down:", "read"),
    ("Numbers", "pages/definitions.py", "Definitions", ":material/handshake:", "read"),
    ("Alignment", "pages/diagnostic.py", "Diagnostic", ":material/diversity_3:", "read"),
    ("Alignment", "pages/sandbox.py", "Sandbox", ":material/science:", "propose_definition"),
    ("Alignment", "pages/weekly_sync.py", "Weekly sync", ":material/event_repeat:", "read"),
    ("Operations", "pages/data.py", "Data", ":material/upload_file:", "import_data"),
    ("Operations", "pages/targets.py", "Targets & spend", ":material/flag:", "import_data"),
    ("Operations", "pages/audit_log.py", "Audit log", ":material/history:", "view_audit"),
    ("Admin", "pages/users.py", "Users and roles", ":material/group:", "manage"),
    ("Admin", "pages/settings.py", "Settings", ":material/settings:", "manage"),
    ("You", "pages/account.py", "Your account", ":material/account_circle:", "read"),
]


def may_open(role: str, path: str) -> bool:
    """Whether the menu offers this page to the role (a page not listed is not offered)."""
    return any(page == path and may(role, permission) for _, page, _, _, permission in PAGES)
