"""Where the database lives: DATABASE_URL from the environment or Streamlit secrets.

Streamlit's secrets file is read as plain TOML so that the CLI and the app agree
without importing Streamlit here.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_PATH = PROJECT_ROOT / "data" / "onefunnel.db"


def _secrets_files() -> list[Path]:
    # The same two places Streamlit itself looks, project first.
    return [PROJECT_ROOT / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]


def secret(name: str) -> str | None:
    """A setting from the environment, else from Streamlit's secrets.toml."""
    value = os.environ.get(name)
    if value:
        return value
    for path in _secrets_files():
        if path.is_file():
            with path.open("rb") as handle:
                data = tomllib.load(handle)
            if isinstance(data.get(name), str) and data[name]:
                return str(data[name])
    return None


def database_url() -> str:
    """The one database every page and the CLI use; SQLite under data/ by default."""
    url = secret("DATABASE_URL")
    if url:
        # Accept the postgres:// spelling many hosting panels hand out.
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    DEFAULT_SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"
