"""A small hand-made company whose every KPI is computed by hand in test_kpis.py.

January 2025, UTC, business hours Mon–Fri 09:00–17:00, SLA 4 business hours.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from core.imports.runs import import_csv
from tests.conftest import TESTER, csv_file

LEADS = """lead_id,created_at,email,company,company_size,title,source,campaign,intent_signal,mql_at,sql_at,rejected_at,rejection_reason,first_response_at,owner,touch_attempts
L1,2025-01-06 08:00:00,a@acme.io,Acme,120,VP Sales,paid_search,ps-brand,demo_request,2025-01-06 10:00:00,2025-01-08 10:00:00,,,2025-01-06 11:00:00,Alex,3
L2,2025-01-10 08:00:00,b@beta.io,Beta,20,,paid_search,ps-generic,pricing_page_3plus,2025-01-10 16:00:00,,2025-01-14 10:00:00,Wrong size,2025-01-13 10:00:00,Dana,2
L3,2025-01-13 08:00:00,c@gamma.io,Gamma,5000,CTO,webinar,wb-jan,,2025-01-13 09:00:00,,2025-01-15 10:00:00,,2025-01-14 12:00:00,Dana,7
L4,2025-01-15 08:00:00,d@delta.io,Delta,300,Head of Data,webinar,wb-jan,contact_sales,2025-01-15 10:00:00,2025-01-16 10:00:00,,,2025-01-15 09:30:00,Alex,1
L5,2025-01-20 08:00:00,,Epsilon,,,events,ev-expo,,2025-01-20 10:00:00,,,,,Alex,0
L6,2025-01-31 08:00:00,f@zeta.io,Zeta,40,,events,ev-expo,,2025-01-31 16:00:00,,,,,Dana,0
L7,2025-01-07 08:00:00,g@eta.io,Eta,10,,organic_search,,,,,,,,,
L8,2025-02-03 08:00:00,h@theta.io,Theta,800,CFO,paid_search,ps-brand,demo_request,2025-02-03 10:00:00,2025-02-04 10:00:00,,,2025-02-03 10:30:00,Alex,2
"""

OPPORTUNITIES = """opportunity_id,lead_id,account,created_at,stage,amount,closed_at,is_won,origin,owner
O1,L1,Acme,2025-01-09 10:00:00,Closed Won,10000,2025-01-29 10:00:00,true,marketing,Sam
O2,,Omega,2025-01-12 10:00:00,Closed Lost,5000,2025-01-22 10:00:00,false,sales,Sam
O3,L4,Delta,2025-01-20 10:00:00,Closed Won,20000,2025-01-30 10:00:00,true,,Kim
O4,,Sigma,2025-01-25 10:00:00,Discovery,,,,,Kim
O5,,Tau,2024-12-10 10:00:00,Closed Won,3000,2025-01-10 10:00:00,true,sales,Sam
"""

TOUCHES = """lead_id,opportunity_id,touched_at,channel,campaign,touch_type
L1,,2025-01-01 10:00:00,paid_search,ps-brand,ad_click
L1,,2025-01-05 10:00:00,webinar,wb-jan,webinar
L1,O1,2025-01-12 10:00:00,email,nurture,email_open
L1,,2025-01-22 10:00:00,events,ev-expo,event_visit
L1,,2025-01-30 10:00:00,paid_social,late,ad_click
L4,,2025-01-14 10:00:00,paid_social,ps-jan,ad_click
,O3,2025-01-16 10:00:00,email,nurture,email_open
,O5,2025-01-05 10:00:00,events,ev-expo,event_visit
"""

SPEND = """month,channel,amount
2025-01,paid_search,5000
2025-01,events,2000
"""

TARGETS = """month,metric,value
2025-01,mqls,5
2025-01,pipeline,40000
2025-02,mqls,6
"""


# In import order: leads first so that opportunities find their leads.
FILES = {"leads": LEADS, "opportunities": OPPORTUNITIES, "touches": TOUCHES, "spend": SPEND, "targets": TARGETS}


def load_fixture(engine: Engine) -> None:
    for kind, content in FILES.items():
        import_csv(engine, kind, csv_file(content, f"{kind}.csv"), actor=TESTER)


# A lead export with no date column at all (the shape of a common public "lead scoring" export): a 0/1
# Converted flag, "Select" where the form's drop-down was left alone, a Lead Source in mixed case, and the
# reason a lead was dropped in Tags. Every lead in it was passed to sales.
UNDATED_LEADS = """Prospect ID,Lead Number,Lead Origin,Lead Source,Converted,TotalVisits,Specialization,Tags,City
p-01,660737,API,Olark Chat,0,0,Select,Interested in other courses,Select
p-02,660728,API,Organic Search,0,5,Select,Ringing,Select
p-03,660727,Landing Page Submission,Direct Traffic,1,2,Business Administration,Will revert after reading the email,Mumbai
p-04,660719,Landing Page Submission,Direct Traffic,0,1,Media and Advertising,Ringing,Mumbai
p-05,660681,Landing Page Submission,Google,1,2,Select,Will revert after reading the email,Mumbai
p-06,660680,API,google,0,3,Select,Ringing,Thane & Outskirts
p-07,660673,Landing Page Submission,Google,1,2,Finance Management,Will revert after reading the email,Mumbai
p-08,660664,API,Olark Chat,0,0,Select,Interested in other courses,Select
p-09,660624,Landing Page Submission,Direct Traffic,0,4,IT Projects Management,Ringing,Mumbai
p-10,660616,API,Google ,0,2,Select,Already a student,Other Cities
p-11,660608,API,Organic Search,1,4,Finance Management,Will revert after reading the email,Mumbai
p-12,660570,Landing Page Submission,Direct Traffic,1,2,Human Resource Management,Closed by Horizzon,Mumbai
p-13,660562,API,Olark Chat,0,0,Select,,Select
p-14,660558,Landing Page Submission,Reference,1,6,Supply Chain Management,Closed by Horizzon,Mumbai
"""
# The mapping a person builds for it on the Data page: every row an MQL on the day it is imported, an SQL on
# that day where Converted is 1, rejected that day (the reason in Tags) where it is 0.
UNDATED_LEADS_MAPPING = {
    "name": "lead scoring export",
    "kind": "leads",
    "null_values": ["Select"],
    "fields": {
        "lead_id": {"column": "Prospect ID"},
        "created_at": {"import_day": True},
        "mql_at": {"import_day": True},
        "source": {"column": "Lead Source", "fold_case": True},
        "industry": {"column": "Specialization"},
        "sql_at": {"import_day": True, "when": {"column": "Converted", "in": ["1"]}},
        "rejected_at": {"import_day": True, "when": {"column": "Converted", "in": ["0"]}},
        "rejection_reason": {"column": "Tags", "when": {"column": "Converted", "in": ["0"]}},
    },
    "ignore_columns": ["Lead Number", "Lead Origin", "TotalVisits", "City"],
}


# A mapping of a CRM's own column names, shared by the importer's tests and its fuzzer.
CRM_MAPPING_YAML = """name: crm
kind: leads
date_format: "%d.%m.%Y %H:%M"
null_values: [N/A, Select]
skip_rows: [{column: Status, in: [Test], reason: test records}]
fields:
  lead_id: {column: [Id, Lead Id]}
  created_at: {column: Created}
  source: {column: Channel, map: {Google: paid_search, google ads: paid_search}, map_other: other}
  company: {column: Firm, default: unknown company}
  rejected_at: {column: Changed, when: {column: Status, in: [Disqualified]}}
  rejection_reason: {column: Reason, when: {column: Status, in: [Disqualified]}}
  country: {constant: DE}
"""


# Markup planted by outsiders: in an imported source, a typed reason and a sync note (issue 18's probe).
LINK = "[click](https://evil.example/x)"
IMAGE = "![pixel](https://evil.example/p.png)"
HTML = "<img src=https://evil.example/h.png>"
WEEK = dt.date(2026, 10, 19)


def planted_leads() -> str:
    """25 MQLs a week of a source named with a link, all rejected with an image for a reason (the weeks of
    October, so that the source is flagged and the reason tops three complete weeks)."""
    rows = []
    for week in range(4):
        for n in range(25):
            day = dt.date(2026, 10, 5) + dt.timedelta(weeks=week, days=n % 5)
            rows.append(f'P{week}-{n},{day} 09:00,"{LINK}",{day} 10:00,,{day} 15:00,"{IMAGE} {HTML}",{day} 11:00')
    header = "lead_id,created_at,source,mql_at,sql_at,rejected_at,rejection_reason,first_response_at"
    return header + "\n" + "\n".join(rows) + "\n"
