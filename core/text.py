"""The folds: how two spellings of the same thing are recognised as one.

Two rules, for two jobs. `reason_key` is the catalogue key of a rejection reason typed by sales ("Too small
co." and "too  small co" are one reason): case, spacing and punctuation folded. `fold_spaces` matches column
names and values in an import mapping, where punctuation matters ("Lead-Source" is not "Lead Source") but
case and runs of spaces do not.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

REASON_KEY_LENGTH = 255

_NOT_WORD = re.compile(r"[\W_]+")
_SPACES = re.compile(r"\s+")


def reason_key(text: object) -> str | None:
    """The catalogue key of a typed reason: "Too small co." and "too  small co" both give "too small co".
    None for a blank (or punctuation-only) reason."""
    if text is None or (isinstance(text, float) and pd.isna(text)):
        return None
    folded = _NOT_WORD.sub(" ", unicodedata.normalize("NFKC", str(text)).casefold()).strip()
    return folded[:REASON_KEY_LENGTH] or None


def reason_keys(texts: pd.Series) -> pd.Series:
    """`reason_key` of a column of texts, computed once per distinct text (a million rows hold a few hundred)."""
    distinct = {text: reason_key(text) for text in texts.dropna().unique()}
    folded = texts.map(distinct).astype(object)  # map turns a None value of the dict into NaN
    return folded.where(folded.notna(), None)


def fold_spaces(value: str) -> str:
    """Case- and spacing-insensitive form used to match values and column names of an import."""
    return _SPACES.sub(" ", value.strip()).casefold()


def casefold(values: pd.Series) -> pd.Series:
    """`values.str.casefold()`, at Arrow's speed: for ASCII text case folding is lowering, which Arrow does in C for
    a column at once; only the other values are folded one by one (pandas has no Arrow kernel for casefold)."""
    folded = values.str.lower()
    other = ~values.str.isascii().to_numpy(dtype=bool, na_value=False)
    if other.any():
        folded[other] = values[other].str.casefold()
    return folded
