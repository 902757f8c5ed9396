"""What admins change: for now the organisation's settings (core.admin.settings)."""
