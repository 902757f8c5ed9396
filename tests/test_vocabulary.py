"""Display names: what a person reads for a machine key."""

from __future__ import annotations

import ast

from core.vocabulary import humanise, kpi_label, rule_label, value_name
from tests.conftest import ROOT


def test_machine_keys_read_as_words_and_typed_names_stay_as_typed() -> None:
    assert humanise("content_syndication") == "Content syndication"
    assert humanise("pricing_page_3plus") == "Pricing page 3+"
    assert humanise("LinkedIn Ads") == "LinkedIn Ads"  # already words: left as typed
    assert kpi_label("mql_attainment") == "MQL attainment"
    assert rule_label("score_threshold") == "Score threshold"


def test_ops_display_names_win_over_the_humanised_key() -> None:
    names = {"paid_search": "Google Ads"}
    assert value_name("paid_search", names) == "Google Ads"
    assert value_name("paid_social", names) == "Paid social"
    assert value_name(None, names) == "—"


def screen_tables() -> list[tuple[str, int, bool]]:
    """Every table drawn in pages/ and ui/: file, line, whether a missing value shows as the one mark (a
    st.dataframe or st.data_editor given the placeholder, or ui.tables.show_table, which gives it)."""
    found = []
    for path in sorted([*ROOT.glob("pages/*.py"), *ROOT.glob("ui/**/*.py")]):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("dataframe", "data_editor", "show_table"):
                placeholder = name == "show_table" or any(keyword.arg == "placeholder" for keyword in node.keywords)
                found.append((str(path.relative_to(ROOT)), node.lineno, placeholder))
    return found


def test_every_table_on_screen_draws_a_missing_value_as_the_one_mark() -> None:
    # Streamlit writes "None" in an empty cell unless told otherwise; the one missing mark is "—".
    tables = screen_tables()
    assert len(tables) >= 25  # the scan finds the app's tables (it would pass vacuously on a wrong path)
    assert [(path, line) for path, line, placeholder in tables if not placeholder] == []
