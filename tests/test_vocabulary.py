"""Display names: what a person reads for a machine key."""

from __future__ import annotations

from core.vocabulary import humanise, kpi_label, rule_label, value_name


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
