"""Where the database lives: DATABASE_URL from the environment or Streamlit secrets.

Streamlit's secrets file is read as plain TOML so that the CLI and the app agree
without importing Streamlit here.
"""

from __future__ import annotations

import functools
import math
import os
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQLITE_FILE_NAME = "onefunnel.db"


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
            data = _toml(path, path.stat().st_mtime_ns)
            if isinstance(data.get(name), str) and data[name]:
                return str(data[name])
    return None


@functools.lru_cache(maxsize=8)
def _toml(path: Path, _modified_ns: int) -> dict[str, Any]:
    """Parsed once per version of the file: the app asks for secrets on every run."""
    with path.open("rb") as handle:
        return tomllib.load(handle)


def default_sqlite_path() -> Path:
    """The embedded database: onefunnel.db in ONEFUNNEL_DATA_DIR, by default the project's data/ folder."""
    folder = secret("ONEFUNNEL_DATA_DIR")
    return (Path(folder) if folder else PROJECT_ROOT / "data") / SQLITE_FILE_NAME


def database_url() -> str:
    """The one database every page and the CLI use; the embedded SQLite file by default."""
    url = secret("DATABASE_URL")
    if url:
        # Accept the postgres:// spelling many hosting panels hand out.
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://") :]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://") :]
        return url
    path = default_sqlite_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


# The library's defaults, its README's examples and our own secrets.toml.example placeholder.
PUBLISHED_COOKIE_KEYS = frozenset(
    {"some_key", "some_signature_key", "random_signature_key", "replace-me-with-a-random-key-of-at-least-32-characters"}
)
MIN_COOKIE_KEY_LENGTH = 32
# A key's letters, counted as a password checker counts them: "x" * 40 has none worth the name. 32 hex digits
# (openssl rand -hex 16) carry about 115 bits by this estimate, secrets.token_urlsafe(48) about 340.
MIN_COOKIE_KEY_BITS = 96
# A fixed key is fine for the demo only: it signs cookies for documented demo accounts.
DEMO_COOKIE_KEY = "onefunnel-demo-cookie-key-not-for-production-use"


class ConfigError(RuntimeError):
    """The deployment is misconfigured; the app refuses to start and says what to fix."""


def demo_mode() -> bool:
    return (secret("ONEFUNNEL_DEMO") or "").strip().lower() in {"1", "true", "yes"}


def client_address_header() -> str | None:
    """The request header that carries a visitor's address when a reverse proxy stands in front (the proxy's own
    address would otherwise be every visitor's): `ONEFUNNEL_CLIENT_ADDRESS_HEADER`, e.g. X-Forwarded-For."""
    return (secret("ONEFUNNEL_CLIENT_ADDRESS_HEADER") or "").strip() or None


def cookie_key() -> str:
    """The key that signs login cookies: ONEFUNNEL_COOKIE_KEY from the environment or secrets.toml.

    Outside demo mode a missing, short or library-default key stops the app: with streamlit-authenticator's
    default anyone could forge a login cookie.
    """
    key = secret("ONEFUNNEL_COOKIE_KEY")
    if demo_mode():
        return key or DEMO_COOKIE_KEY
    if not key:
        raise ConfigError(
            "ONEFUNNEL_COOKIE_KEY is not set. Put a random key of 32+ characters in the environment or in "
            '.streamlit/secrets.toml (python -c "import secrets; print(secrets.token_urlsafe(48))"), '
            "or start the demo with ONEFUNNEL_DEMO=1."
        )
    if key in PUBLISHED_COOKIE_KEYS or key == DEMO_COOKIE_KEY:
        raise ConfigError("ONEFUNNEL_COOKIE_KEY is a published default key; generate a random one.")
    if len(key) < MIN_COOKIE_KEY_LENGTH:
        raise ConfigError(f"ONEFUNNEL_COOKIE_KEY has {len(key)} characters; it needs at least {MIN_COOKIE_KEY_LENGTH}.")
    if key_bits(key) < MIN_COOKIE_KEY_BITS:
        raise ConfigError(
            "ONEFUNNEL_COOKIE_KEY repeats too few characters to be guessed hard (about "
            f"{key_bits(key):.0f} bits; it needs {MIN_COOKIE_KEY_BITS}); generate a random one."
        )
    return key


def key_bits(key: str) -> float:
    """The key's entropy estimated from its own letter frequencies, in bits (length × Shannon entropy)."""
    counts = Counter(key)
    return -sum(count * math.log2(count / len(key)) for count in counts.values())
