"""Altair builders, one module per area: data in, an alt.Chart out, testable without a server."""

from __future__ import annotations

import altair as alt

# Streamlit draws a chart as wide as its column and cannot tell the server the screen's width, so a chart that
# must read on a phone decides in the browser: Vega's `width` signal is the plot's width in pixels.
NARROW = "width < 420"


def by_width(narrow: object, wide: object) -> alt.ExprRef:
    """A chart property that takes `narrow` on a phone-wide plot and `wide` otherwise (numbers or Vega
    expressions)."""
    return alt.ExprRef(label_by_width(narrow, wide))


def label_by_width(narrow: object, wide: object) -> str:
    """The same choice for an axis's labelExpr, which takes the expression itself."""
    return f"{NARROW} ? {narrow} : {wide}"


# Rotated week or category labels: upright on a phone, where slanted ones run into each other.
SLANTED = by_width(-90, -45)
