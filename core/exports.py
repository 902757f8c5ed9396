"""Exports that are safe to open in a spreadsheet.

A cell starting with = + - @, a tab or a carriage return would be run as a
formula by Excel or Sheets; such text cells get a leading apostrophe. Numbers
(including negative ones) are written as numbers.
"""

from __future__ import annotations

import io
import re
from typing import Any

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Characters escaped in text from data put into Markdown; with "[" escaped, "(" cannot start a link.
MARKDOWN_SPECIALS = "\\|[]<>*_`"


def neutralise(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


# Everything Streamlit's Markdown reads as markup: emphasis, links and images, HTML, headings, lists, quotes,
# code, tables, LaTeX ($), colour and icon directives (:red[…], :material/…:).
SCREEN_SPECIALS = MARKDOWN_SPECIALS + "()!#$~:+-=."
# A bare address (https://…, www.…, name@host) becomes a link by itself, escapes or not (GitHub-flavoured
# Markdown finds it in the text after escapes are read): a zero-width space after its scheme, "www" or "@"
# leaves it looking the same and no longer an address.
_AUTOLINK = re.compile(r"(?i)(\b(?:https?|ftp|mailto|file)\\?:|\bwww(?=\\?\.)|@)")
ZERO_WIDTH_SPACE = "\u200b"


def inert(value: Any) -> str:
    """Text from data or from a person (a source, a reason, a note, a trial's name) as it must reach any
    Streamlit element that reads Markdown: every line kept, nothing live (no link, image, HTML, heading,
    emphasis, formula or directive). The one path for such text on every page."""
    lines = []
    for line in str(value).splitlines() or [""]:
        escaped = "".join("\\" + character if character in SCREEN_SPECIALS else character for character in line)
        lines.append(_AUTOLINK.sub(lambda match: match.group(0) + ZERO_WIDTH_SPACE, escaped))
    return "  \n".join(lines)


def markdown_text(value: Any, specials: str = MARKDOWN_SPECIALS) -> str:
    """Text from people or data made inert in Markdown and in a spreadsheet: one line, no formula, no table
    break, no link, no emphasis."""
    flat = " ".join(str(value).split())
    for character in specials:  # the backslash comes first: it must not escape the escapes
        flat = flat.replace(character, "\\" + character)
    return str(neutralise(flat))


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise)
    safe.columns = [neutralise(str(column)) for column in safe.columns]
    return safe


def to_safe_csv(frame: pd.DataFrame) -> bytes:
    """UTF-8 CSV (with BOM, so Excel picks the encoding) with formulas neutralised."""
    buffer = io.StringIO()
    # CRLF rows, as spreadsheets write them: the writer then quotes a value holding a lone CR too, which a
    # spreadsheet would otherwise read as a new row starting with whatever follows it (a formula, say).
    safe_frame(frame).to_csv(buffer, index=False, lineterminator="\r\n")
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
