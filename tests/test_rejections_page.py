"""The Rejections page, driven with AppTest: a hand-counted fixture, filters, the drill-down, the catalogue,
a shared link, and the sample company's spring story."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd
from sqlalchemy import Engine, text
from streamlit.testing.v1 import AppTest

from core.admin.seed import seed_sample_data
from core.definitions import versions
from core.imports.runs import import_csv
from core.permissions import Actor
from tests.conftest import as_read, page_file, run, signed_in_as, signed_in_as_existing

PAGE = page_file("rejections.py")
HEADER = (
    "lead_id,created_at,source,campaign,company_size,mql_at,sql_at,rejected_at,rejection_reason,owner,touch_attempts"
)


def _row(
    lead_id: str,
    day: str,
    *,
    source: str = "paid_social",
    campaign: str = "ebook",
    size: str = "",
    sql: bool = False,
    reason: str | None = None,
    owner: str = "Ana",
    attempts: str = "2",
) -> str:
    mql_at = f"{day} 09:00:00"
    rejected_day = (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
    sql_at = f"{rejected_day} 10:00:00" if sql else ""
    rejected_at = f"{rejected_day} 11:00:00" if reason is not None else ""
    quoted = f'"{reason}"' if reason else ""
    return f"{lead_id},{mql_at},{source},{campaign},{size},{mql_at},{sql_at},{rejected_at},{quoted},{owner},{attempts}"


# Three complete weeks (Mondays 2 Mar, 9 Mar, 16 Mar 2026); each lead is rejected the day after its MQL.
ROWS = [
    # week of 2 Mar: the size family 3, "No budget" 1 (3 attempts: too early), one without a reason (too early)
    _row("R01", "2026-03-02", size="10", reason="Wrong size"),
    _row("R02", "2026-03-03", size="20", reason="wrong size"),
    _row("R03", "2026-03-04", size="30", reason="Wrong company size"),
    _row("R04", "2026-03-02", source="email", campaign="news", size="200", reason="No budget", attempts="3"),
    _row("R05", "2026-03-03", source="email", campaign="news", size="250", reason="", owner="Tom"),
    # week of 9 Mar: the size family 2, "no budget" 1 (6 attempts: enough)
    _row("R06", "2026-03-09", size="15", reason="company too small"),
    _row("R07", "2026-03-10", size="400", reason="Company size too small!"),
    _row("R08", "2026-03-10", source="email", campaign="news", size="120", reason="no budget", attempts="6"),
    # week of 16 Mar: the size family 2, a duplicate (1 attempt: exempt), an unknown reason
    _row("R09", "2026-03-16", size="40", reason="too small co."),
    _row("R10", "2026-03-17", size="", reason="Too  small co"),
    _row("R11", "2026-03-16", source="email", campaign="news", size="90", reason="Duplicate", attempts="1"),
    _row("R12", "2026-03-17", source="email", campaign="", size="60", reason="meh", attempts="7", owner="Tom"),
    # accepted MQLs of the same weeks
    _row("A01", "2026-03-03", source="email", campaign="news", size="100", sql=True),
    _row("A02", "2026-03-10", source="email", campaign="news", size="200", sql=True),
    _row("A03", "2026-03-11", size="300", sql=True),
    _row("A04", "2026-03-17", size="30", sql=True),
]
# Closed by the CRM without ever being an MQL: not a rejection of marketing's leads, counted nowhere.
NEVER_AN_MQL = "X01,2026-03-10 09:00:00,paid_social,ebook,10,,,2026-03-11 11:00:00,Wrong size,Ana,1"
CUSTOM = (dt.date(2026, 3, 2), dt.date(2026, 3, 22))


def load(engine: Engine) -> None:
    handle = io.BytesIO(("\n".join([HEADER, *ROWS, NEVER_AN_MQL]) + "\n").encode())
    handle.name = "leads.csv"
    import_csv(engine, "leads", handle, actor=Actor("test", "admin"))


def sign_icp(engine: Engine, company_size_min: int = 50) -> None:
    version = versions.propose(engine, Actor("ops", "ops"), "icp", {"company_size_min": company_size_min})
    for signer in (Actor("mia", "marketing_lead"), Actor("sam", "sales_lead")):
        version = versions.approve(engine, signer, version.id, revision=version.revision)


def opened(database: Engine, username: str = "erin", *, link: dict[str, str | list[str]] | None = None) -> AppTest:
    app = signed_in_as_existing(database, username, PAGE)
    params = link or {"period": "custom", "from": CUSTOM[0].isoformat(), "to": CUSTOM[1].isoformat()}
    for key, value in params.items():
        app.query_params[key] = value
    return run(app)


def frame_with(app: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page with this column."""
    return next(frame.value for frame in app.dataframe if column in frame.value.columns)


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def sql_count(engine: Engine, where: str, **params: object) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM leads WHERE rejected_day BETWEEN :first AND :last AND mql_at IS NOT NULL AND "
                    + where
                ),
                {"first": CUSTOM[0], "last": CUSTOM[1], **params},
            ).scalar_one()
        )


def test_the_hand_counted_weeks(database: Engine) -> None:
    load(database)
    sign_icp(database)
    app = opened(database)
    # 12 rejections: 1 blank, 1 unknown ("meh"); too early: R04 (3 attempts) and R05 (blank reason, 2 attempts);
    # the size family and the duplicate need no attempts. 16 MQLs, all dispositioned, 12 rejected: 75%.
    assert metrics(app) == {
        "Unqualified share": "75%",
        "Rejections logged": "12",
        "No reason given": "1",
        "Before 6 attempts": "2",
        "Unmapped reasons": "1",
    }
    assert metrics(app)["Rejections logged"] == str(sql_count(database, "1 = 1"))
    assert metrics(app)["No reason given"] == str(
        sql_count(database, "(rejection_reason IS NULL OR trim(rejection_reason) = '')")
    )
    assert "75%, above the 30% gate" in app.error[0].value
    # The size family tops all three complete weeks: one flag naming the reason and the weeks, and what the
    # leads have in common: 5 of the 6 with a size are under 50; of the 4 accepted, 1 (size 30) is.
    [flag] = [warning.value for warning in app.warning]
    assert "“Wrong company size” topped the rejection reasons 3 complete weeks in a row" in flag
    assert "02 Mar, 09 Mar, 16 Mar" in flag
    assert "83% of “Wrong company size” rejections have under 50 employees; the ICP starts at 50" in flag
    assert "against 25% of the leads sales accepted" in flag
    pareto = frame_with(app, "cumulative_share")
    assert list(pareto["reason"][:2]) == ["Wrong company size", "No budget"]
    assert pareto.set_index("reason")["rejections"].to_dict() == {
        "Wrong company size": 7,
        "No budget": 2,
        "(no reason)": 1,
        "Duplicate": 1,
        "Unmapped: meh": 1,
    }
    owners = frame_with(app, "premature").set_index("owner")
    assert owners.loc["Tom", "no_reason"] == 1 and owners.loc["Ana", "no_reason"] == 0
    assert owners.loc["Ana", "premature"] == 1 and owners.loc["Tom", "premature"] == 1


def test_filters_narrow_every_count(database: Engine) -> None:
    load(database)
    app = opened(database)
    app.multiselect(key="rj_sources").select("email")
    run(app)
    # email: R04, R05, R08, R11, R12 rejected; A01, A02 accepted -> 5 of 7.
    assert metrics(app)["Rejections logged"] == "5" == str(sql_count(database, "source = 'email'"))
    assert metrics(app)["Unqualified share"] == "71%"
    assert not app.warning  # no reason tops three weeks among email's rejections
    assert app.query_params["source"] == "email"
    app.multiselect(key="rj_size_bands").select("50-199")
    run(app)
    # email and 50-199 employees: R08 (120), R11 (90), R12 (60).
    assert metrics(app)["Rejections logged"] == "3"
    # A blank campaign is a value to filter on, as the heat map shows it: R12 only.
    app.multiselect(key="rj_campaigns").select("(not set)")
    run(app)
    assert metrics(app)["Rejections logged"] == "1"
    app.selectbox(key="rj_drill_campaign").select("(not set)")
    run(app)
    assert list(app.dataframe[-1].value["lead_id"]) == ["R12"]


def test_the_drill_down_lists_the_leads_behind_a_pick(database: Engine) -> None:
    load(database)
    app = opened(database)
    app.selectbox(key="rj_drill_reason").select("Wrong company size")
    run(app)
    leads = app.dataframe[-1].value
    assert sorted(leads["lead_id"]) == ["R01", "R02", "R03", "R06", "R07", "R09", "R10"]
    assert set(leads["typed_reason"]) == {
        "Wrong size",
        "wrong size",
        "Wrong company size",
        "company too small",
        "Company size too small!",
        "too small co.",
        "Too  small co",
    }
    assert "**7 rejected leads**" in next(md.value for md in app.markdown if "rejected leads" in md.value)
    app.selectbox(key="rj_sort").select("company_size")
    app.toggle(key="rj_desc").set_value(False)
    run(app)
    sizes = list(app.dataframe[-1].value["company_size"].dropna())
    assert sizes == sorted(sizes)
    app.selectbox(key="rj_drill_reason").select("(all)")
    app.selectbox(key="rj_drill_only").select("premature")
    run(app)
    assert sorted(app.dataframe[-1].value["lead_id"]) == ["R04", "R05"]
    app.selectbox(key="rj_drill_only").select("no_reason")
    app.selectbox(key="rj_drill_owner").select("Tom")
    run(app)
    assert list(app.dataframe[-1].value["lead_id"]) == ["R05"]
    app.button[-1].click()  # prepare the CSV
    run(app)
    assert app.get("download_button")


def test_ops_map_an_unknown_reason_and_the_counts_follow(database: Engine) -> None:
    load(database)
    exec_view = opened(database)
    assert "rj_map_to" not in [box.key for box in exec_view.selectbox]  # an exec reads the catalogue only
    app = signed_in_as(database, "olu", "ops", PAGE)
    for key, value in {"period": "custom", "from": CUSTOM[0].isoformat(), "to": CUSTOM[1].isoformat()}.items():
        app.query_params[key] = value
    run(app)
    assert metrics(app)["Unmapped reasons"] == "1"
    app.selectbox(key="rj_map_spelling").select("meh")
    app.selectbox(key="rj_map_to").select("Bad timing")
    app.button(key="rj_map_submit").click()
    run(app)
    assert metrics(app)["Unmapped reasons"] == "0"
    pareto = frame_with(app, "cumulative_share").set_index("reason")["rejections"]
    assert pareto["Bad timing"] == 1 and "Unmapped: meh" not in pareto
    assert any("“meh” now means “Bad timing”" in success.value for success in app.success)
    with database.connect() as connection:
        assert connection.execute(text("SELECT rejection_reason FROM leads WHERE lead_id = 'R12'")).scalar() == "meh"
        assert (
            connection.execute(
                text("SELECT count(*) FROM audit_log WHERE entity = 'reason_synonym' AND actor = 'olu'")
            ).scalar_one()
            == 1
        )


def test_a_shared_link_reopens_the_same_view(database: Engine) -> None:
    load(database)
    link = {
        "period": "custom",
        "from": "2026-03-09",
        "to": "2026-03-15",
        "source": ["email", "no-such-source"],
    }
    app = opened(database, link=link)
    assert app.selectbox(key="rj_period").value == "custom"
    assert app.multiselect(key="rj_sources").value == ["email"]
    assert metrics(app)["Rejections logged"] == "1"  # R08


def test_nothing_to_show_says_so(database: Engine) -> None:
    load(database)
    app = opened(database, link={"period": "custom", "from": "2025-01-01", "to": "2025-01-31"})
    assert any("No rejections and no dispositioned MQLs" in info.value for info in app.info)


def test_the_sample_company_shows_the_spring_ebook_story(database: Engine) -> None:
    seed_sample_data(database)
    app = opened(database, link={"period": "custom", "from": "2026-02-02", "to": "2026-05-31"})
    flags = [warning.value for warning in app.warning]
    size_flags = [flag for flag in flags if flag.startswith("“Wrong company size” topped")]
    assert len(size_flags) == 1
    flag = size_flags[0]
    # README of the sample: the size family tops every week from the week of 9 March to that of 4 May.
    assert "9 complete weeks in a row" in flag and "09 Mar 2026" in flag and "04 May 2026" in flag
    assert "rejections have under 50 employees; the ICP starts at 50" in flag
    # Climbing after the campaign: the share of the size family in the weeks before it against the weeks in it.
    with database.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT rejected_day >= '2026-03-09', count(*), "
                "sum(CASE WHEN reason_key IN (SELECT key FROM reason_synonyms s JOIN rejection_reasons r "
                "ON r.id = s.reason_id WHERE r.name = 'Wrong company size') THEN 1 ELSE 0 END) "
                "FROM leads WHERE rejected_day BETWEEN '2026-02-02' AND '2026-05-10' GROUP BY 1"
            )
        ).all()
    share = {bool(after): size / total for after, total, size in rows}
    assert share[True] > 2 * share[False]
    # Most of them came from one campaign, which the page calls out (in red, only at 40% or more).
    assert any(as_read(md.value).startswith(":red[**Top campaign: spring-ebook-2026") for md in app.markdown)


def test_ops_add_a_reason_and_rename_one(database: Engine) -> None:
    load(database)
    app = signed_in_as(database, "olu", "ops", PAGE)
    run(app)
    [add_name, edit_name] = [box for box in app.text_input if box.label == "Name"]
    add_name.input("Wrong tech stack")
    next(button for button in app.button if button.label == "Add").click()
    run(app)
    assert any("Added the reason “Wrong tech stack”" in success.value for success in app.success)
    app.selectbox(key="rj_edit_pick").select("Duplicate")
    run(app)
    edit_name = [box for box in app.text_input if box.label == "Name"][1]
    assert edit_name.value == "Duplicate"
    edit_name.input("Duplicate lead record")
    next(button for button in app.button if button.label == "Save").click()
    run(app)
    catalogue = frame_with(app, "spellings").set_index("reason")
    assert "Wrong tech stack" in catalogue.index
    # Renamed, and the old name still matches what sales typed (R11 "Duplicate").
    assert "duplicate" in catalogue.loc["Duplicate lead record", "spellings"].split(", ")
    with database.connect() as connection:
        actions = connection.execute(
            text("SELECT action FROM audit_log WHERE entity = 'rejection_reason' AND actor = 'olu' ORDER BY id")
        ).scalars()
        assert list(actions) == ["create", "update"]
