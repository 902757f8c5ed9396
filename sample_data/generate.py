"""Northwind Analytics: the fictional B2B SaaS company behind OneFunnel's demo data.

    python sample_data/generate.py [--leads N] [--seed S] [--out DIR] [--no-exports]

Writes the five canonical CSVs of PRODUCT.md (leads, opportunities, touches, spend,
targets) for two years of leads (2024-11-01 to 2026-10-31), and with exports three
files in real-tool formats (a HubSpot contacts export and Salesforce lead and
opportunity reports) for the leads of the last three months, which the shipped
presets read. The data is a snapshot taken at the end of 2026-10-31: nothing in it
happens later. The same seed gives byte-identical files at any scale.

Everything is vectorised over whole columns (numpy for the numbers, Arrow for the
text), so a million leads, 200,000 opportunities and five million touches take
well under a minute. The stories the demo has to reveal are described in
sample_data/README.md and checked by tests/test_sample_data.py.
"""

from __future__ import annotations

import argparse
import codecs
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HERE = Path(__file__).resolve().parent

# --- the timeline ---------------------------------------------------------------------------------------------------

START = np.datetime64("2024-11-01T00:00:00", "s")
END = np.datetime64("2026-10-31T23:59:59", "s")  # the moment of the snapshot
EXPORT_FROM = np.datetime64("2026-08-01T00:00:00", "s")
SPRING_EBOOK = "spring-ebook-2026"
SPRING_START = np.datetime64("2026-03-02", "D")  # a Monday
SPRING_END = np.datetime64("2026-05-10", "D")  # ten weeks later, a Sunday
TARGET_LAST_MONTH = np.datetime64("2026-12", "M")  # plans exist a little beyond the data

DAY = 86_400
HOUR = 3_600
BUSINESS_START = 9 * HOUR  # Monday–Friday 09:00–17:00 UTC, the organisation's default
BUSINESS_DAY = 8 * HOUR
_BUSINESS_ORIGIN = np.datetime64("2024-01-01", "D")  # a Monday

# --- the catalogues -------------------------------------------------------------------------------------------------

SOURCES = (
    "paid_search",
    "paid_social",
    "organic_search",
    "email",
    "webinar",
    "events",
    "referral",
    "content_syndication",
    "direct",
)
S = {name: index for index, name in enumerate(SOURCES)}
# Share of the ordinary leads (the spring e-book campaign comes on top), chance of becoming an MQL,
# chance that sales accepts a dispositioned MQL, and the win rate of its opportunities.
SOURCE_SHARE = (0.27, 0.13, 0.16, 0.10, 0.08, 0.08, 0.05, 0.08, 0.05)
MQL_RATE = (0.50, 0.36, 0.38, 0.37, 0.52, 0.48, 0.52, 0.33, 0.45)
ACCEPT_RATE = (0.19, 0.48, 0.60, 0.55, 0.63, 0.58, 0.74, 0.42, 0.62)
WIN_RATE = (0.19, 0.24, 0.27, 0.25, 0.29, 0.27, 0.36, 0.21, 0.28)
SPRING_MQL_RATE, SPRING_ACCEPT_RATE, SPRING_WIN_RATE = 0.62, 0.06, 0.10
# Marketing-sourced opportunities' Salesforce lead source and HubSpot original source.
SALESFORCE_SOURCE = (
    "Paid Search",
    "Social Media",
    "Web",
    "Email",
    "Webinar",
    "Trade Show",
    "Partner Referral",
    "Content Syndication",
    "Phone Inquiry",
)
HUBSPOT_SOURCE = (
    "Paid Search",
    "Paid Social",
    "Organic Search",
    "Email Marketing",
    "Webinar",
    "Offline Sources",
    "Referrals",
    "Other Campaigns",
    "Direct Traffic",
)
OUTBOUND_SOURCE = "Outbound Prospecting"
# Cost per lead of the paid channels (spend.csv); the spring e-book leads are cheap.
COST_PER_LEAD = {
    "paid_search": 185.0,
    "paid_social": 120.0,
    "events": 340.0,
    "content_syndication": 80.0,
    "webinar": 95.0,
    "email": 22.0,
}
SPRING_COST_PER_LEAD = 38.0


@dataclass(frozen=True)
class Campaign:
    source: str
    name: str
    first: str = "2024-11-01"
    last: str = "2026-10-31"


# The first campaign of each source is always on; it also names the later touches on that channel.
CAMPAIGNS = (
    Campaign("paid_search", "brand-search"),
    Campaign("paid_search", "competitor-conquest"),
    Campaign("paid_search", "bi-dashboard-generic", last="2025-12-31"),
    Campaign("paid_search", "brand-search-q1", "2025-01-06", "2025-03-31"),
    Campaign("paid_search", "ai-analytics-keywords-2026", "2026-01-12"),
    Campaign("paid_social", "linkedin-retargeting"),
    Campaign("paid_social", "cfo-lookalike-2025", "2025-01-13", "2025-09-30"),
    Campaign("paid_social", "linkedin-abm-enterprise", "2025-10-01"),
    Campaign("organic_search", "blog-seo"),
    Campaign("organic_search", "dashboard-templates-gallery", "2025-06-02"),
    Campaign("email", "monthly-newsletter"),
    Campaign("email", "nurture-track-a"),
    Campaign("email", "product-launch-2025-09", "2025-09-01", "2025-10-15"),
    Campaign("email", "year-end-review-2025", "2025-12-01", "2026-01-15"),
    Campaign("webinar", "partner-webinar-series"),
    Campaign("webinar", "data-quality-masterclass", "2025-05-05", "2025-06-30"),
    Campaign("webinar", "ai-forecasting-live-2026", "2026-06-01", "2026-07-31"),
    Campaign("referral", "partner-program"),
    Campaign("referral", "customer-referral-2025", "2025-03-01", "2025-12-31"),
    Campaign("referral", "customer-referral-2026", "2026-01-01"),
    Campaign("content_syndication", "techtarget-syndication"),
    Campaign("content_syndication", "ebook-syndication-h1-2025", "2025-01-06", "2025-06-30"),
    Campaign("content_syndication", "ebook-syndication-h2-2025", "2025-07-01", "2025-12-31"),
    Campaign("content_syndication", "ebook-syndication-2026", "2026-01-05"),
)
# Events: the roadshow runs all year; badge scans of a trade show arrive in its days and the three after.
ROADSHOW = "customer-roadshow"
TRADE_SHOWS = (
    ("web-summit-2024", "2024-11-12", 4),
    ("gartner-data-analytics-summit-2025", "2025-03-03", 3),
    ("saas-connect-2025", "2025-05-13", 2),
    ("big-data-london-2025", "2025-09-24", 2),
    ("dreamforce-2025", "2025-10-14", 3),
    ("web-summit-2025", "2025-11-11", 4),
    ("gartner-data-analytics-summit-2026", "2026-03-09", 3),
    ("saas-connect-2026", "2026-05-12", 2),
    ("big-data-london-2026", "2026-09-23", 2),
    ("dreamforce-2026", "2026-10-13", 3),
)
ROADSHOW_SHARE = 0.3
CAMPAIGN_NAMES = (*(c.name for c in CAMPAIGNS), ROADSHOW, *(name for name, _, _ in TRADE_SHOWS), SPRING_EBOOK)
C = {name: index for index, name in enumerate(CAMPAIGN_NAMES)}
CHANNEL_CAMPAIGN = tuple(
    C[ROADSHOW] if source == "events" else next((C[c.name] for c in CAMPAIGNS if c.source == source), -1)
    for source in SOURCES
)

# (title, seniority, department, weight, HubSpot seniority label)
TITLES = (
    ("Data Analyst", "ic", "Data & Analytics", 8, "Entry"),
    ("Senior Data Analyst", "ic", "Data & Analytics", 5, "Senior"),
    ("BI Developer", "ic", "Data & Analytics", 4, "Senior"),
    ("Analytics Engineer", "ic", "Data & Analytics", 4, "Senior"),
    ("Data Engineer", "ic", "Engineering", 4, "Senior"),
    ("Marketing Operations Specialist", "ic", "Marketing", 4, "Entry"),
    ("Financial Analyst", "ic", "Finance", 5, "Entry"),
    ("Operations Analyst", "ic", "Operations", 4, "Entry"),
    ("Sales Operations Analyst", "ic", "Sales", 3, "Entry"),
    ("MBA Student", "ic", "Other", 1, "Entry"),
    ("Analytics Manager", "manager", "Data & Analytics", 5, "Manager"),
    ("BI Manager", "manager", "Data & Analytics", 4, "Manager"),
    ("Marketing Manager", "manager", "Marketing", 4, "Manager"),
    ("Finance Manager", "manager", "Finance", 4, "Manager"),
    ("Operations Manager", "manager", "Operations", 4, "Manager"),
    ("Revenue Operations Manager", "manager", "Sales", 3, "Manager"),
    ("IT Manager", "manager", "IT", 3, "Manager"),
    ("Director of Analytics", "director", "Data & Analytics", 4, "Director"),
    ("Head of Data", "director", "Data & Analytics", 3, "Director"),
    ("Director of Finance", "director", "Finance", 3, "Director"),
    ("Marketing Director", "director", "Marketing", 3, "Director"),
    ("Director of Operations", "director", "Operations", 2, "Director"),
    ("IT Director", "director", "IT", 2, "Director"),
    ("VP of Finance", "vp", "Finance", 2, "VP"),
    ("VP Marketing", "vp", "Marketing", 2, "VP"),
    ("VP of Engineering", "vp", "Engineering", 1.5, "VP"),
    ("VP Sales", "vp", "Sales", 1.5, "VP"),
    ("Chief Data Officer", "cxo", "Data & Analytics", 1, "Executive"),
    ("CFO", "cxo", "Finance", 1.5, "Executive"),
    ("CTO", "cxo", "Engineering", 1, "Executive"),
    ("COO", "cxo", "Operations", 1, "Executive"),
    ("CEO", "cxo", "Executive", 1.5, "Executive"),
    ("Founder", "cxo", "Executive", 1, "Owner"),
)
SENIORITIES = ("ic", "manager", "director", "vp", "cxo")
SALESFORCE_SENIORITY = ("IC", "Manager", "Director", "VP", "CXO")
STUDENT_TITLE = 9
SMALL_COMPANY_TITLES = (5, 12, 20, 24, 31, 32)  # who downloads a free e-book at a five-person company

INDUSTRIES = (
    ("Software & SaaS", 20),
    ("Financial Services", 12),
    ("Retail & E-commerce", 11),
    ("Manufacturing", 10),
    ("Professional Services", 10),
    ("Healthcare", 9),
    ("Logistics & Transportation", 7),
    ("Education", 5),
    ("Media & Entertainment", 5),
    ("Telecommunications", 4),
    ("Nonprofit", 4),
    ("Energy & Utilities", 3),
)
COUNTRIES = (
    ("United States", 42),
    ("United Kingdom", 12),
    ("Germany", 9),
    ("Canada", 7),
    ("France", 5),
    ("Netherlands", 5),
    ("Australia", 5),
    ("Sweden", 3),
    ("Ireland", 3),
    ("Spain", 3),
    ("India", 3),
    ("Brazil", 3),
)
NAME_STEMS = (
    "Bright", "Blue", "Cedar", "Clear", "Copper", "Crest", "Delta", "Ever", "Fair", "Falcon", "Fern", "Flint",
    "Fox", "Gold", "Granite", "Green", "Harbor", "Hawk", "High", "Iron", "Juniper", "Kestrel", "Lake", "Lumen",
    "Maple", "Meadow", "Nimbus", "North", "Oak", "Orbit", "Pine", "Pioneer", "Prism", "Quarry", "Raven", "Red",
    "River", "Rock", "Sage", "Silver", "Sky", "Solar", "Spring", "Star", "Stone", "Summit", "Swift", "Terra",
    "Tide", "True", "Vale", "Vector", "West", "Willow", "Wind", "Zephyr", "Apex", "Beacon", "Cobalt", "Drift",
)  # fmt: skip
NAME_ENDINGS = (
    "path", "point", "field", "wave", "line", "bridge", "stone", "ridge", "view", "works", "gate", "light",
    "forge", "well", "mark", "brook", "port", "leaf", "crest", "side", "spark", "stack", "hub", "dale", "vista",
    "loop", "shore", "base", "wing", "rise", "peak", "trail", "yard", "mill", "grove", "haven", "scape", "frame",
    "cast", "bay", "star", "ware", "link", "sphere", "ledger",
)  # fmt: skip
NAME_KINDS = (
    "Analytics", "Labs", "Logistics", "Health", "Capital", "Foods", "Systems", "Retail", "Partners", "Media",
    "Energy", "Software", "Manufacturing", "Consulting", "Group", "Networks", "Financial", "Learning", "Motors",
    "Apparel", "Pharma", "Insurance", "Travel", "Security", "Robotics", "Studios", "Supply", "Dynamics",
    "Solutions", "Technologies",
)  # fmt: skip
NAME_REGIONS = (" Europe", " North America", " APAC", " Holdings", " International")
FIRST_NAMES = (
    "James", "Mary", "John", "Patricia", "Robert", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Daniel", "Karen",
    "Matthew", "Lisa", "Anthony", "Nancy", "Mark", "Sandra", "Steven", "Ashley", "Andrew", "Emily", "Paul",
    "Michelle", "Joshua", "Amanda", "Kevin", "Melissa", "Brian", "Laura", "George", "Rebecca", "Olivia",
    "Noah", "Emma", "Liam", "Sophie", "Lukas", "Hannah", "Felix", "Chloe", "Oscar", "Aditi", "Rahul", "Mei",
    "Wei", "Yuki", "Kenji", "Fatima", "Omar", "Lucia", "Mateo", "Ingrid", "Lars", "Amelie", "Hugo", "Zara",
    "Ethan", "Maya", "Leon", "Clara", "Ravi",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee",
    "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Mitchell", "Campbell", "Roberts", "Schmidt",
    "Muller", "Schneider", "Fischer", "Weber", "Dubois", "Laurent", "Bernard", "Jansen", "de Vries", "Bakker",
    "Andersson", "Johansson", "Nilsson", "Murphy", "Kelly", "Walsh", "Sharma", "Patel", "Singh", "Tanaka",
    "Sato", "Kim", "Park", "Silva", "Santos", "Costa", "Rossi", "Russo", "O'Brien",
)  # fmt: skip

SDRS = (
    "Dana Ortiz",
    "Marcus Chen",
    "Priya Nair",
    "Tom Becker",
    "Aisha Bello",
    "Lucas Moreau",
    "Sofia Rossi",
    "Ben Carter",
)
SLOW_RESPONDER = SDRS.index("Dana Ortiz")
SILENT_REJECTERS = (SDRS.index("Tom Becker"), SDRS.index("Lucas Moreau"))
AES = ("Rachel Kim", "David Okafor", "Emma Lindqvist", "James Walsh", "Nina Patel", "Carlos Mendes")

# Rejection reasons as sales types them: one family per reason, with the spellings found in the wild.
SIZE_FAMILY = (
    ("Wrong company size", 45),
    ("company too small", 20),
    ("Company size too small", 15),
    ("too small co.", 10),
    ("wrong size", 10),
)
OTHER_REASONS = (
    ("No budget", 27),
    ("Not a decision maker", 14),
    ("No response after 6 attempts", 14),
    ("Bad contact data", 9),
    ("Bad timing", 6),
    ("Duplicate", 7),
    ("Student / job seeker", 4),
    ("Already a customer", 6),
    ("Competitor", 4),
)
REASON_TEXTS = (
    *(text for text, _ in SIZE_FAMILY),
    *(text for text, _ in OTHER_REASONS),
    "no budget",
    "No Budget",
    "not a decision maker",
    "duplicate",
)
R = {text: index for index, text in enumerate(REASON_TEXTS)}
NO_RESPONSE_REASON = R["No response after 6 attempts"]

INTENTS = ("demo_request", "pricing_page_3plus", "free_trial", "content_download", "webinar_attended")
I = {name: index for index, name in enumerate(INTENTS)}  # noqa: E741
TOUCH_TYPES = ("ad_click", "form_fill", "email_open", "webinar", "event_scan", "sales_call")
T = {name: index for index, name in enumerate(TOUCH_TYPES)}
CHANNEL_TOUCH_TYPE = tuple(
    T[
        {
            "paid_search": "ad_click",
            "paid_social": "ad_click",
            "email": "email_open",
            "webinar": "webinar",
            "events": "event_scan",
        }.get(source, "form_fill")
    ]
    for source in SOURCES
)
# Channels of the touches after the first one that are not on the lead's own source.
OTHER_TOUCH_MIX = (0.08, 0.08, 0.20, 0.30, 0.12, 0.03, 0.0, 0.04, 0.15)
STAGES = ("Prospecting", "Discovery", "Proposal", "Negotiation", "Closed Won", "Closed Lost")

HUBSPOT_RECORD_OFFSET = 51_300_000_000
HUBSPOT_BANDS = (
    (1000, "1000+"),
    (500, "500-1000"),
    (100, "100-500"),
    (50, "50-100"),
    (25, "25-50"),
    (5, "5-25"),
    (0, "1-5"),
)
SALESFORCE_LEAD_PREFIX = "00Q8a00000"
SALESFORCE_OPPORTUNITY_PREFIX = "0068a00000"
US_STAMP = "%m/%d/%Y %I:%M %p"
US_DATE = "%m/%d/%Y"
ISO_STAMP = "%Y-%m-%d %H:%M:%S"
HUBSPOT_STAMP = "%Y-%m-%d %H:%M"
CHUNK_ROWS = 500_000

NaT = np.datetime64("NaT", "s")
_GROUP_SPAN = 10**10  # seconds; wider than any offset, to run a cumulative maximum per group in one pass


# --- small vectorised helpers ---------------------------------------------------------------------------------------


def _weights(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array / array.sum()


def _seconds(values: np.ndarray) -> np.ndarray:
    return np.asarray(np.round(values), dtype=np.int64).astype("timedelta64[s]")


def _day(text: str) -> np.datetime64:
    return np.datetime64(text, "D")


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 for datetime64[D] values (1970-01-01 was a Thursday)."""
    return (days.astype(np.int64) + 3) % 7


def business_seconds(stamps: np.ndarray) -> np.ndarray:
    """Seconds on a line where only Monday–Friday 09:00–17:00 advances (no NaT)."""
    days = stamps.astype("datetime64[D]")
    second_of_day = (stamps - days.astype("datetime64[s]")).astype(np.int64)
    whole_days = np.busday_count(_BUSINESS_ORIGIN, days)
    within = np.clip(second_of_day - BUSINESS_START, 0, BUSINESS_DAY) * np.is_busday(days)
    return whole_days.astype(np.int64) * BUSINESS_DAY + within


def from_business_seconds(line: np.ndarray) -> np.ndarray:
    """The moment a business-seconds value is reached (the inverse of business_seconds)."""
    line = np.asarray(line, dtype=np.int64)
    day_index = (line - 1) // BUSINESS_DAY
    within = line - day_index * BUSINESS_DAY
    days = np.busday_offset(_BUSINESS_ORIGIN, day_index, roll="forward")
    return days.astype("datetime64[s]") + (BUSINESS_START + within).astype("timedelta64[s]")


def after_business(stamps: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """`seconds` business seconds after each stamp; NaT stays NaT."""
    result = np.full(len(stamps), NaT)
    valid = ~np.isnat(stamps)
    if valid.any():
        result[valid] = from_business_seconds(business_seconds(stamps[valid]) + np.round(seconds[valid]))
    return result


def _occurrence(keys: np.ndarray) -> np.ndarray:
    """0 for the first row with each key, 1 for the second, … (in row order)."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(len(keys)), 0))
    result = np.empty(len(keys), dtype=np.int64)
    result[order] = np.arange(len(keys)) - group_start
    return result


def _choose_active(rng: np.random.Generator, active: np.ndarray) -> np.ndarray:
    """For each row, the index of one True column of `active`, uniformly; -1 where none is."""
    counts = active.sum(axis=1)
    pick = np.floor(rng.random(len(active)) * counts).astype(np.int64)
    rank = np.cumsum(active, axis=1) - 1
    chosen = np.argmax(active & (rank == pick[:, None]), axis=1)
    return np.where(counts > 0, chosen, -1)


def _positions(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For groups of the given sizes laid end to end: the group of each row and its position in the group."""
    owner = np.repeat(np.arange(len(counts)), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(int(counts.sum())) - starts[owner]


# --- text columns and the CSV writer --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Text:
    """Ready strings (nulls are blanks)."""

    values: pa.Array

    def render(self, rows: slice) -> pa.Array:
        return self.values.slice(rows.start, rows.stop - rows.start)


@dataclass(frozen=True)
class Codes:
    """Indices into a list of labels; negative is blank."""

    codes: np.ndarray
    labels: Sequence[str]

    def render(self, rows: slice) -> pa.Array:
        labels = pa.array([*self.labels, None], pa.string())
        codes = self.codes[rows]
        return labels.take(pa.array(np.where(codes < 0, len(self.labels), codes)))


@dataclass(frozen=True)
class Number:
    """Whole numbers; blank where `blank` is set."""

    values: np.ndarray
    blank: np.ndarray | None = None

    def render(self, rows: slice) -> pa.Array:
        mask = None if self.blank is None else self.blank[rows]
        return pa.array(np.asarray(self.values[rows], dtype=np.int64), mask=mask).cast(pa.string())


@dataclass(frozen=True)
class Cents:
    """Money as whole cents, written with two decimals."""

    values: np.ndarray

    def render(self, rows: slice) -> pa.Array:
        cents = pa.array(np.asarray(self.values[rows], dtype=np.int64))
        units = pc.cast(pc.divide(cents, 100), pa.string())
        fraction = pc.utf8_lpad(
            pc.cast(pc.subtract(cents, pc.multiply(pc.divide(cents, 100), 100)), pa.string()), 2, "0"
        )
        return pc.binary_join_element_wise(units, fraction, ".")


@dataclass(frozen=True)
class Stamp:
    """datetime64[s] values (NaT is blank) in a strftime format."""

    values: np.ndarray
    format: str = ISO_STAMP

    def render(self, rows: slice) -> pa.Array:
        return pc.strftime(pa.array(self.values[rows]), format=self.format)


Column = Text | Codes | Number | Cents | Stamp
_NEEDS_QUOTES = r'[,"\r\n]'


def _quoted(values: pa.Array) -> pa.Array:
    """RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled."""
    values = pc.fill_null(values, "")
    needs = pc.match_substring_regex(values, _NEEDS_QUOTES)
    if not pc.any(needs).as_py():
        return values
    escaped = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(needs, escaped, values)


def write_csv(path: Path, columns: dict[str, Column], *, bom: bool = False) -> int:
    """Write the columns as CSV, a chunk of rows at a time; returns the number of rows."""
    lengths = {_length(column) for column in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"columns of {path.name} differ in length: {sorted(lengths)}")
    rows = lengths.pop()
    with path.open("wb") as handle:
        if bom:
            handle.write(codecs.BOM_UTF8)
        header = _quoted(pa.array(list(columns), pa.string())).to_pylist()
        handle.write((",".join(header) + "\n").encode("utf-8"))
        for first in range(0, rows, CHUNK_ROWS):
            chunk = slice(first, min(first + CHUNK_ROWS, rows))
            fields = [_quoted(column.render(chunk)) for column in columns.values()]
            lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, ","), "\n", "")
            if isinstance(lines, pa.ChunkedArray):
                lines = lines.combine_chunks()
            offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=4 * lines.offset)
            handle.write(memoryview(lines.buffers()[2])[offsets[0] : offsets[-1]])
    return rows


def _length(column: Column) -> int:
    if isinstance(column, Text):
        return len(column.values)
    if isinstance(column, Codes):
        return len(column.codes)
    return len(column.values)


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pa.array(np.asarray(numbers, dtype=np.int64)).cast(pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


_BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_CHECKSUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)


def salesforce_ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    """18-character Salesforce ids: a 10-character prefix, the number in 5 base-62 digits, the case checksum."""
    numbers = np.asarray(numbers, dtype=np.int64)
    chars = np.empty((len(numbers), 18), dtype=np.uint8)
    chars[:, :10] = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    rest = numbers.copy()
    for position in range(14, 9, -1):
        chars[:, position] = _BASE62[rest % 62]
        rest //= 62
    upper = (chars[:, :15] >= ord("A")) & (chars[:, :15] <= ord("Z"))
    bits = upper.reshape(-1, 3, 5) * (1 << np.arange(5))
    chars[:, 15:] = _CHECKSUM[bits.sum(axis=2)]
    return pa.array(chars.reshape(-1).view("S18")).cast(pa.string())


# --- the company ----------------------------------------------------------------------------------------------------


@dataclass
class Companies:
    name: pa.Array
    domain: pa.Array
    size: np.ndarray
    industry: np.ndarray
    country: np.ndarray


def make_companies(rng: np.random.Generator, count: int) -> Companies:
    stems, endings, kinds = len(NAME_STEMS), len(NAME_ENDINGS), len(NAME_KINDS)
    space = stems * endings * kinds
    code = rng.permutation(space)[np.arange(count) % space]
    region = np.arange(count) // space - 1  # past the plain names, a regional entity of the same group
    stem, ending, kind = code // (endings * kinds), (code // kinds) % endings, code % kinds
    compound = pc.binary_join_element_wise(
        pa.array(NAME_STEMS).take(pa.array(stem)), pa.array(NAME_ENDINGS).take(pa.array(ending)), ""
    )
    kind_text = pa.array(NAME_KINDS).take(pa.array(kind))
    region_text = pa.array([*NAME_REGIONS, ""]).take(pa.array(np.where(region < 0, len(NAME_REGIONS), region)))
    name = pc.binary_join_element_wise(compound, " ", kind_text, region_text, "")
    tld = pa.array([".com", ".io", ".co", ".com", ".net", ".com"]).take(pa.array(code % 6))
    region_slug = pa.array(["-eu", "-na", "-apac", "-holdings", "-intl", ""]).take(
        pa.array(np.where(region < 0, len(NAME_REGIONS), region))
    )
    domain = pc.binary_join_element_wise(pc.utf8_lower(compound), pc.utf8_lower(kind_text), region_slug, tld, "")
    size = np.clip(np.round(rng.lognormal(np.log(130), 1.6, count)), 1, 60_000).astype(np.int64)
    industry = rng.choice(len(INDUSTRIES), count, p=_weights([w for _, w in INDUSTRIES]))
    country = rng.choice(len(COUNTRIES), count, p=_weights([w for _, w in COUNTRIES]))
    return Companies(name, domain, size, industry, country)


def _day_weights(days: np.ndarray) -> np.ndarray:
    """Modest growth, quiet weekends, holiday and summer dips, busy autumns."""
    progress = (days - days[0]).astype(float) / max(len(days) - 1, 1)
    weekday = _weekday(days)
    month = days.astype("datetime64[M]").astype(np.int64) % 12
    seasonal = np.array([1.0, 1.0, 1.05, 1.0, 1.0, 0.95, 0.9, 0.8, 1.08, 1.1, 1.05, 0.85])[month]
    day_of_month = (days - days.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1
    holidays = ((month == 11) & (day_of_month >= 20)) | ((month == 0) & (day_of_month <= 2))
    return (1.0 + 0.55 * progress) * np.where(weekday < 5, 1.0, 0.2) * seasonal * np.where(holidays, 0.45, 1.0)


def _time_of_day(rng: np.random.Generator, count: int, office_share: float = 0.82) -> np.ndarray:
    """Seconds after midnight: mostly office hours, some evenings and nights (never the last 10 minutes)."""
    office = BUSINESS_START + rng.random(count) * BUSINESS_DAY
    anytime = rng.random(count) * (DAY - 600)
    return np.where(rng.random(count) < office_share, office, anytime)


def _stamps(days: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[s]") + _seconds(seconds)


# --- leads ----------------------------------------------------------------------------------------------------------


@dataclass
class Leads:
    count: int
    created_at: np.ndarray
    company: np.ndarray  # index into Companies
    first_name: np.ndarray
    last_name: np.ndarray
    email: pa.Array
    title: np.ndarray  # -1 blank
    source: np.ndarray
    campaign: np.ndarray  # -1 blank
    score: np.ndarray
    intent: np.ndarray  # -1 blank
    mql_at: np.ndarray
    sql_at: np.ndarray
    rejected_at: np.ndarray
    reason: np.ndarray  # -1 blank
    first_response_at: np.ndarray
    owner: np.ndarray  # -1 blank
    touch_attempts: np.ndarray
    company_blank: np.ndarray
    spring: np.ndarray

    @property
    def ids(self) -> pa.Array:
        return _ids("L", np.arange(1, self.count + 1), 7)


def _campaigns(rng: np.random.Generator, source: np.ndarray, created: np.ndarray) -> np.ndarray:
    campaign = np.full(len(source), -1, dtype=np.int64)
    created_day = created.astype("datetime64[D]")
    for name in SOURCES:
        chosen = np.flatnonzero(source == S[name])
        options = [c for c in CAMPAIGNS if c.source == name]
        if not options or not len(chosen):
            continue
        first = np.array([_day(c.first) for c in options])
        last = np.array([_day(c.last) for c in options])
        day = created_day[chosen][:, None]
        pick = _choose_active(rng, (day >= first) & (day <= last))
        campaign[chosen] = np.array([*(C[c.name] for c in options), -1])[pick]
    return campaign


def make_leads(rng: np.random.Generator, count: int, companies: Companies) -> Leads:
    days = np.arange(START.astype("datetime64[D]"), END.astype("datetime64[D]") + 1)
    spring_count = round(count * 0.025)
    base = count - spring_count

    # When and where each lead came from.
    day = rng.choice(days, base, p=_weights(_day_weights(days)))
    source = rng.choice(len(SOURCES), base, p=_weights(SOURCE_SHARE))
    events = np.flatnonzero(source == S["events"])
    show_start = np.array([_day(start) for _, start, _ in TRADE_SHOWS])
    show_days = np.array([length for _, _, length in TRADE_SHOWS])
    show = rng.choice(len(TRADE_SHOWS), len(events), p=_weights(1.0 + 0.5 * np.arange(len(TRADE_SHOWS)) / 9))
    at_show = rng.random(len(events)) >= ROADSHOW_SHARE
    show_day = show_start[show] + np.floor(rng.random(len(events)) * (show_days[show] + 3)).astype(np.int64)
    day[events] = np.where(at_show, show_day, day[events])
    spring_days = np.arange(SPRING_START, SPRING_END + 1)
    ramp = np.interp(np.arange(len(spring_days)), [0, 10, 45, 69], [0.6, 1.2, 1.0, 0.5])
    spring_day = rng.choice(spring_days, spring_count, p=_weights(ramp * np.where(_weekday(spring_days) < 5, 1, 0.4)))
    all_days = np.concatenate([day, spring_day])
    created = _stamps(all_days, _time_of_day(rng, count))
    spring = np.r_[np.zeros(base, bool), np.ones(spring_count, bool)]
    source = np.r_[source, np.full(spring_count, S["paid_social"])]
    campaign = _campaigns(rng, source, created)
    campaign[events] = np.where(at_show, C[TRADE_SHOWS[0][0]] + show, C[ROADSHOW])
    campaign[spring] = C[SPRING_EBOOK]

    order = np.argsort(created, kind="stable")
    created, source, campaign, spring = created[order], source[order], campaign[order], spring[order]
    is_events = source == S["events"]

    # Who they are: the spring e-book pulled in micro companies.
    small = np.flatnonzero(companies.size < 50)
    pick_small = spring & (rng.random(count) < 0.88)
    company_weight = _weights(np.log1p(companies.size) + 2.0)
    company = rng.choice(len(companies.size), count, p=company_weight)
    company[pick_small] = small[rng.integers(0, len(small), int(pick_small.sum()))]
    title = rng.choice(len(TITLES), count, p=_weights([t[3] for t in TITLES]))
    small_titles = np.array(SMALL_COMPANY_TITLES)
    title[pick_small] = small_titles[rng.integers(0, len(small_titles), int(pick_small.sum()))]
    first_name = rng.integers(0, len(FIRST_NAMES), count)
    last_name = rng.integers(0, len(LAST_NAMES), count)
    size = companies.size[company]

    # Marketing's view: MQL when the score crosses 60 or a hand-raise intent arrives.
    mql_rate = np.asarray(MQL_RATE)[source] * np.where(title == STUDENT_TITLE, 0.5, 1.0)
    mql_rate = np.where(spring, SPRING_MQL_RATE, mql_rate)
    is_mql = rng.random(count) < mql_rate
    immediate = rng.random(count) < np.where(spring, 0.85, 0.45)
    later = created + _seconds(rng.exponential(6.0, count) * DAY)
    delayed = np.maximum(_stamps(later.astype("datetime64[D]"), _time_of_day(rng, count, 0.7)), created + 60)
    mql_at = np.where(immediate, created + _seconds(rng.uniform(30, 600, count)), delayed)
    mql_at = np.where(is_mql & (mql_at <= END), mql_at, NaT)
    is_mql = ~np.isnat(mql_at)

    hand_raise = rng.choice(len(INTENTS), count, p=[0.30, 0.20, 0.15, 0.25, 0.10])
    hand_raise = np.where(
        source == S["webinar"], np.where(rng.random(count) < 0.7, I["webinar_attended"], hand_raise), hand_raise
    )
    hand_raise = np.where(spring, I["content_download"], hand_raise)
    browsing = rng.choice(
        [-1, I["content_download"], I["webinar_attended"], I["free_trial"]], count, p=[0.6, 0.2, 0.1, 0.1]
    )
    intent = np.where(is_mql, np.where(rng.random(count) < 0.92, hand_raise, -1), browsing)
    intent = np.where(is_events & (rng.random(count) < 0.65), -1, intent)
    raised = np.isin(intent, [I["demo_request"], I["pricing_page_3plus"]])
    score = np.where(
        is_mql,
        np.where(raised, rng.integers(35, 101, count), rng.integers(60, 101, count)),
        rng.integers(0, 60, count),
    )
    score = np.where(~is_mql & raised, np.minimum(score, 59), score)
    intent = np.where(~is_mql & raised, -1, intent)

    # Handoff data: event badge scans arrive without email, title or intent; a few others lack a title.
    email_blank = is_events & (rng.random(count) < 0.3)
    title = np.where((rng.random(count) < np.where(is_events, 0.35, 0.03)), -1, title)
    company_blank = (rng.random(count) < np.where(is_events, 0.04, 0.005)) & ~pick_small

    # Sales' view: owner, first response, disposition.
    owner = np.where(is_mql, rng.integers(0, len(SDRS), count), -1)
    slow = owner == SLOW_RESPONDER
    response_business = np.where(
        slow, rng.lognormal(np.log(12 * HOUR), 0.6, count), rng.lognormal(np.log(1.4 * HOUR), 0.85, count)
    )
    first_response = after_business(mql_at, np.maximum(response_business, 120))
    gap = (mql_at - created).astype(np.int64)
    early = is_mql & (gap > DAY) & (rng.random(count) < 0.03)
    early_at = created + _seconds(gap * rng.uniform(0.3, 0.9, count))
    first_response = np.where(early, early_at, first_response)
    silent = is_mql & (rng.random(count) < 0.03)
    first_response = np.where(silent | (first_response > END), NaT, first_response)
    responded = ~np.isnat(first_response)

    accept = np.asarray(ACCEPT_RATE)[source]
    accept = np.where(spring, SPRING_ACCEPT_RATE, accept) * np.where(slow, 0.85, 1.0)
    accept = accept * np.where(size < 25, 0.55, 1.0) * np.where(title == STUDENT_TITLE, 0.2, 1.0)
    outcome = rng.random(count)
    stays_open = rng.random(count) < 0.06
    accepted = responded & ~stays_open & (outcome < accept)
    rejected = responded & ~stays_open & ~accepted

    reason = _rejection_reasons(rng, count, size, title, spring, owner)
    worked_from = np.where(first_response > mql_at, first_response, mql_at)
    sql_at = after_business(worked_from, rng.lognormal(np.log(10 * HOUR), 0.8, count))
    quick = np.isin(reason, [R[text] for text, _ in SIZE_FAMILY]) | (reason == R["Duplicate"])
    reject_delay = np.where(
        quick, rng.lognormal(np.log(3 * HOUR), 0.7, count), rng.lognormal(np.log(9 * HOUR), 0.8, count)
    )
    rejected_at = after_business(worked_from, reject_delay)
    gave_up = mql_at + _seconds(rng.uniform(14, 21, count) * DAY)
    rejected_at = np.where(
        reason == NO_RESPONSE_REASON, after_business(gave_up, rng.uniform(600, 7 * HOUR, count)), rejected_at
    )
    sql_at = np.where(accepted & (sql_at <= END), sql_at, NaT)
    rejected_at = np.where(rejected & (rejected_at <= END), rejected_at, NaT)
    reason = np.where(np.isnat(rejected_at), -1, reason)

    attempts = np.where(
        reason == NO_RESPONSE_REASON,
        rng.integers(6, 9, count),
        np.where(~np.isnat(sql_at), rng.integers(1, 5, count), rng.integers(1, 6, count)),
    )
    attempts = np.where(responded, attempts, 0)

    email = _emails(first_name, last_name, company, companies)
    email = pc.if_else(pa.array(email_blank), pa.scalar(None, pa.string()), email)
    return Leads(
        count=count,
        created_at=created,
        company=company,
        first_name=first_name,
        last_name=last_name,
        email=email,
        title=title,
        source=source,
        campaign=campaign,
        score=score,
        intent=intent,
        mql_at=mql_at,
        sql_at=sql_at,
        rejected_at=rejected_at,
        reason=reason,
        first_response_at=first_response,
        owner=owner,
        touch_attempts=attempts,
        company_blank=company_blank & np.isnat(sql_at),  # sales fills in the company of every lead it accepts
        spring=spring,
    )


def _rejection_reasons(
    rng: np.random.Generator, count: int, size: np.ndarray, title: np.ndarray, spring: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    """The reason sales would type if it rejected the lead (blank for two owners who skip the field)."""
    size_texts = np.array([R[text] for text, _ in SIZE_FAMILY])
    other_texts = np.array([R[text] for text, _ in OTHER_REASONS])
    size_reason = size_texts[rng.choice(len(SIZE_FAMILY), count, p=_weights([w for _, w in SIZE_FAMILY]))]
    reason = other_texts[rng.choice(len(OTHER_REASONS), count, p=_weights([w for _, w in OTHER_REASONS]))]
    seniority = np.array([SENIORITIES.index(t[1]) for t in TITLES])[np.maximum(title, 0)]
    reason = np.where((seniority == 0) & (title >= 0) & (rng.random(count) < 0.25), R["Not a decision maker"], reason)
    senior = (seniority >= SENIORITIES.index("vp")) & (title >= 0)
    reason = np.where(senior & (reason == R["Not a decision maker"]), R["No budget"], reason)
    reason = np.where((title == STUDENT_TITLE) & (rng.random(count) < 0.8), R["Student / job seeker"], reason)
    too_small = np.where(spring, 0.9, np.where(size < 25, 0.4, np.where(size < 50, 0.15, 0.0)))
    reason = np.where(rng.random(count) < too_small, size_reason, reason)
    # The same reasons typed by hand: some in lower case.
    variants = {
        R["No budget"]: (R["no budget"], R["No Budget"]),
        R["Duplicate"]: (R["duplicate"],),
        R["Not a decision maker"]: (R["not a decision maker"],),
    }
    roll = rng.random(count)
    for text, spellings in variants.items():
        for position, spelling in enumerate(spellings):
            reason = np.where(
                (reason == text) & (roll >= 0.8 - 0.1 * position) & (roll < 0.9 - 0.1 * position), spelling, reason
            )
    skips = np.isin(owner, SILENT_REJECTERS)
    return np.where(rng.random(count) < np.where(skips, 0.30, 0.008), -1, reason)


def _emails(first: np.ndarray, last: np.ndarray, company: np.ndarray, companies: Companies) -> pa.Array:
    """first.last@domain, with a number for the second person of the same name at the same company."""
    key = (company.astype(np.int64) * len(FIRST_NAMES) + first) * len(LAST_NAMES) + last
    seen = _occurrence(key)
    slug = pc.utf8_lower(pc.replace_substring_regex(pa.array(LAST_NAMES), r"[^A-Za-z]", ""))
    suffix = pc.if_else(pa.array(seen > 0), pa.array(seen + 1).cast(pa.string()), "")
    return pc.binary_join_element_wise(
        pc.utf8_lower(pa.array(FIRST_NAMES)).take(pa.array(first)),
        ".",
        slug.take(pa.array(last)),
        suffix,
        "@",
        companies.domain.take(pa.array(company)),
        "",
    )


# --- opportunities --------------------------------------------------------------------------------------------------


@dataclass
class Opportunities:
    count: int
    lead: np.ndarray  # lead index, -1 for sales-sourced
    company: np.ndarray
    created_at: np.ndarray
    amount: np.ndarray
    stage: np.ndarray
    closed_at: np.ndarray
    expected_close: np.ndarray
    won: np.ndarray
    owner: np.ndarray

    @property
    def ids(self) -> pa.Array:
        return _ids("O", np.arange(1, self.count + 1), 7)


def _amounts(rng: np.random.Generator, size: np.ndarray) -> np.ndarray:
    raw = 6_000 * (np.maximum(size, 1) / 20) ** 0.36 * rng.lognormal(0.0, 0.35, len(size))
    return (np.clip(np.round(raw / 500) * 500, 5_000, 150_000)).astype(np.int64)


def make_opportunities(rng: np.random.Generator, leads: Leads, companies: Companies) -> Opportunities:
    sqls = np.flatnonzero(~np.isnat(leads.sql_at))
    opened = sqls[rng.random(len(sqls)) < 0.98]
    lead_created = after_business(leads.sql_at[opened], rng.lognormal(np.log(6 * HOUR), 0.9, len(opened)))
    keep = lead_created <= END
    opened, lead_created = opened[keep], lead_created[keep]

    target = round(0.2 * leads.count)
    outbound = int(np.clip(target - len(opened), round(0.15 * len(opened)), round(0.21 * len(opened))))
    days = np.arange(START.astype("datetime64[D]"), END.astype("datetime64[D]") + 1)
    weights = _day_weights(days) * (_weekday(days) < 5)
    outbound_created = after_business(
        _stamps(rng.choice(days, outbound, p=_weights(weights)), np.full(outbound, BUSINESS_START)),
        rng.uniform(60, BUSINESS_DAY - 60, outbound),
    )
    outbound_created = np.minimum(outbound_created, END - 3600)
    large = np.flatnonzero(companies.size >= 100)
    outbound_company = large[rng.integers(0, len(large), outbound)]

    lead = np.r_[opened, np.full(outbound, -1)]
    company = np.r_[leads.company[opened], outbound_company]
    created = np.r_[lead_created, outbound_created]
    order = np.argsort(created, kind="stable")
    lead, company, created = lead[order], company[order], created[order]
    count = len(lead)
    from_lead = lead >= 0
    source = np.where(from_lead, leads.source[np.maximum(lead, 0)], -1)
    spring = from_lead & leads.spring[np.maximum(lead, 0)]

    amount = _amounts(rng, companies.size[company] * np.where(from_lead, 1, 2))
    win_rate = np.where(from_lead, np.asarray(WIN_RATE)[np.maximum(source, 0)], 0.22)
    win_rate = np.where(spring, SPRING_WIN_RATE, win_rate)
    won = rng.random(count) < win_rate
    # 20 to 120 days: at most 117 before the close is moved into business hours (over a weekend at worst).
    cycle_days = np.clip((20 + rng.gamma(2.2, 19.0, count)) * np.where(won, 1.0, 0.85), 20, 117)
    close_at = after_business(created + _seconds(cycle_days * DAY), rng.uniform(0, BUSINESS_DAY, count))
    closed = close_at <= END
    progress = (END - created).astype(float) / np.maximum((close_at - created).astype(float), 1)
    open_stage = np.searchsorted([0.25, 0.5, 0.8], np.clip(progress, 0, 0.999), side="right")
    stage = np.where(closed, np.where(won, 4, 5), open_stage)
    return Opportunities(
        count=count,
        lead=lead,
        company=company,
        created_at=created,
        amount=amount,
        stage=stage,
        closed_at=np.where(closed, close_at, NaT),
        expected_close=close_at,
        won=np.where(closed, won, False),
        owner=rng.integers(0, len(AES), count),
    )


# --- touches --------------------------------------------------------------------------------------------------------


@dataclass
class Touches:
    lead: np.ndarray  # -1 blank
    opportunity: np.ndarray  # -1 blank
    touched_at: np.ndarray
    channel: np.ndarray
    campaign: np.ndarray
    touch_type: np.ndarray


def _apart(group: np.ndarray, position: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Sorted seconds within each group, nudged forward where needed so that no two in a group are equal."""
    shifted = seconds - position + group.astype(np.int64) * _GROUP_SPAN
    return np.maximum.accumulate(shifted) - group.astype(np.int64) * _GROUP_SPAN + position


def make_touches(rng: np.random.Generator, leads: Leads, opportunities: Opportunities) -> Touches:
    """Every lead's path (1–10 touches, the first one created it), plus a few on outbound opportunities."""
    count = leads.count
    per_lead = 1 + rng.binomial(9, 0.445, count)
    lead, position = _positions(per_lead)
    total = len(lead)
    created = leads.created_at[lead]
    mql_at = leads.mql_at[lead]
    horizon = np.where(
        np.isnat(mql_at), created + np.timedelta64(60 * DAY, "s"), mql_at + np.timedelta64(21 * DAY, "s")
    )
    horizon = np.minimum(horizon, END - 60)
    window = np.maximum((horizon - created).astype(np.int64), 0)
    offset = np.floor(rng.random(total) * window).astype(np.int64)
    before = (position == 1) & (rng.random(total) < 0.3)
    offset = np.where(before, -rng.integers(HOUR, 21 * DAY, total), offset)
    offset = np.where(position == 0, 0, offset)

    source = leads.source[lead]
    other = rng.choice(len(SOURCES), total, p=_weights(OTHER_TOUCH_MIX))
    channel = np.where((position == 0) | (rng.random(total) < 0.5), source, other)
    own = channel == source
    campaign = np.where(own, leads.campaign[lead], np.asarray(CHANNEL_CAMPAIGN)[channel])
    campaign = np.where(own & (campaign < 0), np.asarray(CHANNEL_CAMPAIGN)[channel], campaign)
    touch_type = np.asarray(CHANNEL_TOUCH_TYPE)[channel]
    origin_type = np.where(
        source == S["events"], T["event_scan"], np.where(source == S["webinar"], T["webinar"], T["form_fill"])
    )
    touch_type = np.where(position == 0, origin_type, touch_type)

    # In time order within each lead.
    order = np.lexsort((offset, lead))
    lead, offset = lead[order], offset[order]
    channel, campaign, touch_type = channel[order], campaign[order], touch_type[order]
    touched = leads.created_at[lead] + _apart(lead, position, offset).astype("timedelta64[s]")

    outbound = np.flatnonzero((opportunities.lead < 0) & (rng.random(opportunities.count) < 0.35))
    per_opportunity = rng.integers(1, 4, len(outbound))
    which, step = _positions(per_opportunity)
    opportunity = outbound[which]
    opened = opportunities.created_at[opportunity]
    room = np.maximum((END - 60 - opened).astype(np.int64), 0)
    spread = np.minimum(rng.integers(-30 * DAY, 10 * DAY, len(opportunity)), room)
    sales_channels = np.array([S["events"], S["webinar"], S["email"], S["direct"]])
    sales_channel = sales_channels[rng.integers(0, 4, len(opportunity))]
    sales_type = np.where(sales_channel == S["direct"], T["sales_call"], np.asarray(CHANNEL_TOUCH_TYPE)[sales_channel])
    in_order = np.sort(spread + which * _GROUP_SPAN) - which * _GROUP_SPAN
    sales_touched = opened + _apart(which, step, in_order).astype("timedelta64[s]")

    return Touches(
        lead=np.r_[lead, np.full(len(opportunity), -1)],
        opportunity=np.r_[np.full(total, -1), opportunity],
        touched_at=np.r_[touched, sales_touched],
        channel=np.r_[channel, sales_channel],
        campaign=np.r_[campaign, np.asarray(CHANNEL_CAMPAIGN)[sales_channel]],
        touch_type=np.r_[touch_type, sales_type],
    )


# --- spend and targets ----------------------------------------------------------------------------------------------


def _months() -> np.ndarray:
    return np.arange(START.astype("datetime64[M]"), END.astype("datetime64[M]") + 1)


def _month_index(stamps: np.ndarray, months: np.ndarray) -> np.ndarray:
    return (stamps.astype("datetime64[M]") - months[0]).astype(np.int64)


def make_spend(rng: np.random.Generator, leads: Leads) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    months = _months()
    month = _month_index(leads.created_at, months)
    channels = [S[name] for name in COST_PER_LEAD]
    rows_month, rows_channel, rows_cents = [], [], []
    for position, channel in enumerate(channels):
        ordinary = np.bincount(month[(leads.source == channel) & ~leads.spring], minlength=len(months))
        cost = ordinary * COST_PER_LEAD[SOURCES[channel]]
        if SOURCES[channel] == "paid_social":
            cost = cost + np.bincount(month[leads.spring], minlength=len(months)) * SPRING_COST_PER_LEAD
        noise = rng.uniform(0.9, 1.1, len(months))
        rows_month.append(months)
        rows_channel.append(np.full(len(months), position))
        rows_cents.append(np.round(cost * noise * 100).astype(np.int64))
    order = np.lexsort((np.concatenate(rows_channel), np.concatenate(rows_month)))
    return (
        np.concatenate(rows_month)[order],
        np.asarray(channels)[np.concatenate(rows_channel)[order]],
        np.concatenate(rows_cents)[order],
    )


def _rounded(value: np.ndarray) -> np.ndarray:
    """Plan-like numbers: three significant figures at most."""
    value = np.maximum(value, 1.0)
    step = 10.0 ** np.maximum(np.floor(np.log10(value)) - 2, 0)
    return np.round(value / step) * step


def _trend(actual: np.ndarray, length: int) -> np.ndarray:
    """The linear trend of the monthly actuals (the first and the last month left out), over `length` months."""
    x = np.arange(len(actual), dtype=float)
    fit = slice(1, len(actual) - 1)
    slope, intercept = np.polyfit(x[fit], actual[fit].astype(float), 1)
    return intercept + slope * np.arange(length, dtype=float)


def make_targets(
    rng: np.random.Generator, leads: Leads, opportunities: Opportunities
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Monthly plans. Marketing's MQL plan is set a little under what it delivers, except in the summer and
    holiday dips; sales' SQL plan assumes the 36% conversion it asks for; revenue plans follow the trend."""
    months = _months()
    plan_months = np.arange(months[0], TARGET_LAST_MONTH + 1)
    future = len(plan_months) - len(months)
    valid = ~np.isnat(leads.mql_at)
    mqls = np.bincount(_month_index(leads.mql_at[valid], months), minlength=len(months)).astype(float)
    mql_trend = _trend(mqls, len(plan_months))
    calendar_month = plan_months.astype(np.int64) % 12
    factor = np.where(
        np.isin(calendar_month, [7, 11]),
        rng.uniform(1.04, 1.08, len(plan_months)),
        rng.uniform(0.90, 0.95, len(plan_months)),
    )
    mql_plan = np.r_[mqls, mql_trend[len(months) :]] * factor
    mql_plan[len(months) :] = mql_trend[len(months) :] * 0.93
    created = _month_index(opportunities.created_at, months)
    count = np.bincount(created, minlength=len(months))
    pipeline = np.bincount(created, weights=opportunities.amount.astype(float), minlength=len(months))
    closed = ~np.isnat(opportunities.closed_at) & opportunities.won
    won = np.bincount(
        _month_index(opportunities.closed_at[closed], months),
        weights=opportunities.amount[closed].astype(float),
        minlength=len(months),
    )
    plans = {
        "mqls": _rounded(mql_plan),
        "sqls": _rounded(mql_plan * 0.36),
        "opportunities": _rounded(_trend(count, len(plan_months))),
        "pipeline": _rounded(_trend(pipeline, len(plan_months))),
        "won_revenue": _rounded(_trend(won, len(plan_months)) * 1.05),
    }
    assert future >= 0
    month_column = np.repeat(plan_months, len(plans))
    metric_column = np.tile(np.arange(len(plans)), len(plan_months))
    value_column = np.stack(list(plans.values()), axis=1).reshape(-1)
    return month_column, metric_column, value_column.astype(np.int64)


# --- the canonical files --------------------------------------------------------------------------------------------


def _lead_columns(leads: Leads, companies: Companies) -> dict[str, Column]:
    company = leads.company
    title = leads.title
    seniority = np.array([SENIORITIES.index(t[1]) for t in TITLES])
    departments = sorted({t[2] for t in TITLES})
    department = np.array([departments.index(t[2]) for t in TITLES])
    company_name = pc.if_else(
        pa.array(leads.company_blank), pa.scalar(None, pa.string()), companies.name.take(pa.array(company))
    )
    return {
        "lead_id": Text(leads.ids),
        "created_at": Stamp(leads.created_at),
        "email": Text(leads.email),
        "company": Text(company_name),
        "company_size": Number(companies.size[company], leads.company_blank),
        "industry": Codes(np.where(leads.company_blank, -1, companies.industry[company]), [n for n, _ in INDUSTRIES]),
        "country": Codes(companies.country[company], [n for n, _ in COUNTRIES]),
        "title": Codes(title, [t[0] for t in TITLES]),
        "seniority": Codes(np.where(title < 0, -1, seniority[np.maximum(title, 0)]), SENIORITIES),
        "department": Codes(np.where(title < 0, -1, department[np.maximum(title, 0)]), departments),
        "source": Codes(leads.source, SOURCES),
        "campaign": Codes(leads.campaign, CAMPAIGN_NAMES),
        "score": Number(leads.score),
        "intent_signal": Codes(leads.intent, INTENTS),
        "mql_at": Stamp(leads.mql_at),
        "sql_at": Stamp(leads.sql_at),
        "rejected_at": Stamp(leads.rejected_at),
        "rejection_reason": Codes(leads.reason, REASON_TEXTS),
        "first_response_at": Stamp(leads.first_response_at),
        "owner": Codes(leads.owner, SDRS),
        "touch_attempts": Number(leads.touch_attempts),
    }


def _opportunity_columns(opportunities: Opportunities, leads: Leads, companies: Companies) -> dict[str, Column]:
    from_lead = opportunities.lead >= 0
    lead_ids = leads.ids.take(pa.array(np.maximum(opportunities.lead, 0)))
    closed = ~np.isnat(opportunities.closed_at)
    return {
        "opportunity_id": Text(opportunities.ids),
        "lead_id": Text(pc.if_else(pa.array(from_lead), lead_ids, pa.scalar(None, pa.string()))),
        "account": Text(companies.name.take(pa.array(opportunities.company))),
        "created_at": Stamp(opportunities.created_at),
        "stage": Codes(opportunities.stage, STAGES),
        "amount": Number(opportunities.amount),
        "closed_at": Stamp(opportunities.closed_at),
        "is_won": Codes(np.where(closed, np.where(opportunities.won, 0, 1), -1), ["true", "false"]),
        "origin": Codes(np.where(from_lead, 0, 1), ["marketing", "sales"]),
        "owner": Codes(opportunities.owner, AES),
    }


def _touch_columns(touches: Touches, leads: Leads, opportunities: Opportunities) -> dict[str, Column]:
    lead_ids = leads.ids.take(pa.array(np.maximum(touches.lead, 0)))
    opportunity_ids = opportunities.ids.take(pa.array(np.maximum(touches.opportunity, 0)))
    none = pa.scalar(None, pa.string())
    return {
        "lead_id": Text(pc.if_else(pa.array(touches.lead >= 0), lead_ids, none)),
        "opportunity_id": Text(pc.if_else(pa.array(touches.opportunity >= 0), opportunity_ids, none)),
        "touched_at": Stamp(touches.touched_at),
        "channel": Codes(touches.channel, SOURCES),
        "campaign": Codes(touches.campaign, CAMPAIGN_NAMES),
        "touch_type": Codes(touches.touch_type, TOUCH_TYPES),
    }


def _month_text(months: np.ndarray) -> Text:
    return Text(pa.array(np.datetime_as_string(months, unit="M").astype(object), pa.string()))


# --- the export slices ----------------------------------------------------------------------------------------------


def _band(size: np.ndarray) -> np.ndarray:
    bounds = np.array([bound for bound, _ in reversed(HUBSPOT_BANDS)])
    return len(HUBSPOT_BANDS) - np.searchsorted(bounds, size, side="right")


def _last_modified(leads: Leads, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The rejection for rejected leads; otherwise a little after the latest thing that happened."""
    stamps = [leads.created_at[rows], leads.mql_at[rows], leads.sql_at[rows], leads.first_response_at[rows]]
    latest = np.max(np.stack([np.where(np.isnat(s), leads.created_at[rows], s) for s in stamps]), axis=0)
    later = np.minimum(latest + _seconds(rng.uniform(600, 5 * DAY, len(rows))), END)
    return np.where(np.isnat(leads.rejected_at[rows]), later, leads.rejected_at[rows])


def _hubspot_columns(
    leads: Leads,
    rows: np.ndarray,
    companies: Companies,
    has_opportunity: np.ndarray,
    won: np.ndarray,
    modified: np.ndarray,
) -> dict[str, Column]:
    company = leads.company[rows]
    title = leads.title[rows]
    blank_company = leads.company_blank[rows]
    mql, sql = ~np.isnat(leads.mql_at[rows]), ~np.isnat(leads.sql_at[rows])
    rejected, responded = ~np.isnat(leads.rejected_at[rows]), ~np.isnat(leads.first_response_at[rows])
    status = np.select([rejected, sql, mql & responded, mql], [0, 1, 2, 3], 4)
    lifecycle = np.select([won[rows], has_opportunity[rows], sql, mql], [0, 1, 2, 3], 4)
    hubspot_seniority = [t[4] for t in TITLES]
    return {
        "Record ID": Number(HUBSPOT_RECORD_OFFSET + rows + 1),
        "First Name": Codes(leads.first_name[rows], FIRST_NAMES),
        "Last Name": Codes(leads.last_name[rows], LAST_NAMES),
        "Email": Text(leads.email.take(pa.array(rows))),
        "Company Name": Text(
            pc.if_else(pa.array(blank_company), pa.scalar(None, pa.string()), companies.name.take(pa.array(company)))
        ),
        "Number of Employees": Codes(
            np.where(blank_company, -1, _band(companies.size[company])), [label for _, label in HUBSPOT_BANDS]
        ),
        "Industry": Codes(np.where(blank_company, -1, companies.industry[company]), [n for n, _ in INDUSTRIES]),
        "Country/Region": Codes(companies.country[company], [n for n, _ in COUNTRIES]),
        "Job Title": Codes(title, [t[0] for t in TITLES]),
        "Seniority": Codes(title, hubspot_seniority),
        "Lifecycle Stage": Codes(
            lifecycle, ["Customer", "Opportunity", "Sales Qualified Lead", "Marketing Qualified Lead", "Lead"]
        ),
        "Original Source": Codes(leads.source[rows], HUBSPOT_SOURCE),
        "Original Source Drill-Down 2": Codes(leads.campaign[rows], CAMPAIGN_NAMES),
        "HubSpot Score": Number(leads.score[rows]),
        "Intent Signal": Codes(leads.intent[rows], INTENTS),
        "Create Date": Stamp(leads.created_at[rows], HUBSPOT_STAMP),
        "Became a Marketing Qualified Lead Date": Stamp(leads.mql_at[rows], HUBSPOT_STAMP),
        "Became a Sales Qualified Lead Date": Stamp(leads.sql_at[rows], HUBSPOT_STAMP),
        "Lead Status": Codes(status, ["Unqualified", "Connected", "In Progress", "Open", "New"]),
        "Disqualification Reason": Codes(leads.reason[rows], REASON_TEXTS),
        "Date of first engagement": Stamp(leads.first_response_at[rows], HUBSPOT_STAMP),
        "Contact owner": Codes(leads.owner[rows], SDRS),
        "Number of Sales Activities": Number(leads.touch_attempts[rows]),
        "Last Modified Date": Stamp(modified, HUBSPOT_STAMP),
    }


def _salesforce_lead_columns(
    leads: Leads, rows: np.ndarray, companies: Companies, modified: np.ndarray
) -> dict[str, Column]:
    company = leads.company[rows]
    title = leads.title[rows]
    blank_company = leads.company_blank[rows]
    sql = ~np.isnat(leads.sql_at[rows])
    rejected, responded = ~np.isnat(leads.rejected_at[rows]), ~np.isnat(leads.first_response_at[rows])
    status = np.select([rejected, sql, responded], [0, 1, 2], 3)
    seniority = np.array([SENIORITIES.index(t[1]) for t in TITLES])
    return {
        "Lead ID": Text(salesforce_ids(SALESFORCE_LEAD_PREFIX, rows + 1)),
        "First Name": Codes(leads.first_name[rows], FIRST_NAMES),
        "Last Name": Codes(leads.last_name[rows], LAST_NAMES),
        "Title": Codes(title, [t[0] for t in TITLES]),
        "Company / Account": Text(
            pc.if_else(pa.array(blank_company), pa.scalar(None, pa.string()), companies.name.take(pa.array(company)))
        ),
        "Email": Text(leads.email.take(pa.array(rows))),
        "Lead Source": Codes(leads.source[rows], SALESFORCE_SOURCE),
        "Campaign Name": Codes(leads.campaign[rows], CAMPAIGN_NAMES),
        "Lead Status": Codes(
            status, ["Closed - Not Converted", "Qualified", "Working - Contacted", "Open - Not Contacted"]
        ),
        "Lead Owner": Codes(leads.owner[rows], SDRS),
        "Create Date": Stamp(leads.created_at[rows], US_STAMP),
        "Last Modified Date": Stamp(modified, US_STAMP),
        "No. of Employees": Number(companies.size[company], blank_company),
        "Industry": Codes(np.where(blank_company, -1, companies.industry[company]), [n for n, _ in INDUSTRIES]),
        "Country": Codes(companies.country[company], [n for n, _ in COUNTRIES]),
        "Seniority": Codes(np.where(title < 0, -1, seniority[np.maximum(title, 0)]), SALESFORCE_SENIORITY),
        "Lead Score": Number(leads.score[rows]),
        "Intent Signal": Codes(leads.intent[rows], INTENTS),
        "MQL Date": Stamp(leads.mql_at[rows], US_STAMP),
        "Converted": Number(sql.astype(np.int64)),
        "Converted Date": Stamp(leads.sql_at[rows], US_DATE),
        "Disqualified Reason": Codes(leads.reason[rows], REASON_TEXTS),
        "First Response Date": Stamp(leads.first_response_at[rows], US_STAMP),
        "Call Attempts": Number(leads.touch_attempts[rows]),
    }


def _salesforce_opportunity_columns(
    opportunities: Opportunities, rows: np.ndarray, leads: Leads, companies: Companies
) -> dict[str, Column]:
    lead = opportunities.lead[rows]
    from_lead = lead >= 0
    closed = ~np.isnat(opportunities.closed_at[rows])
    lead_ids = salesforce_ids(SALESFORCE_LEAD_PREFIX, np.maximum(lead, 0) + 1)
    close = np.where(closed, opportunities.closed_at[rows], opportunities.expected_close[rows])
    source = np.where(from_lead, leads.source[np.maximum(lead, 0)], len(SALESFORCE_SOURCE))
    return {
        "Opportunity ID": Text(salesforce_ids(SALESFORCE_OPPORTUNITY_PREFIX, rows + 1)),
        "Opportunity Name": Text(
            pc.binary_join_element_wise(
                companies.name.take(pa.array(opportunities.company[rows])), " - Northwind platform", ""
            )
        ),
        "Account Name": Text(companies.name.take(pa.array(opportunities.company[rows]))),
        "Lead ID": Text(pc.if_else(pa.array(from_lead), lead_ids, pa.scalar(None, pa.string()))),
        "Opportunity Owner": Codes(opportunities.owner[rows], AES),
        "Lead Source": Codes(source, [*SALESFORCE_SOURCE, OUTBOUND_SOURCE]),
        "Stage": Codes(opportunities.stage[rows], STAGES),
        "Amount": Number(opportunities.amount[rows]),
        "Created Date": Stamp(opportunities.created_at[rows], US_STAMP),
        "Close Date": Stamp(close, US_DATE),
        "Closed": Number(closed.astype(np.int64)),
        "Won": Number(opportunities.won[rows].astype(np.int64)),
    }


# --- the entry point ------------------------------------------------------------------------------------------------


def generate(out_dir: Path, leads: int = 20_000, seed: int = 7, exports: bool = True) -> dict[str, int]:
    """Write the sample company's CSVs into out_dir; returns the number of rows of each file."""
    if leads < 1_000:
        raise ValueError("the sample company needs at least 1,000 leads for its stories to show")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    companies = make_companies(rng, max(400, round(leads * 0.35)))
    lead_rows = make_leads(rng, leads, companies)
    opportunity_rows = make_opportunities(rng, lead_rows, companies)
    touch_rows = make_touches(rng, lead_rows, opportunity_rows)
    spend_month, spend_channel, spend_cents = make_spend(rng, lead_rows)
    target_month, target_metric, target_value = make_targets(rng, lead_rows, opportunity_rows)

    counts = {
        "leads.csv": write_csv(out_dir / "leads.csv", _lead_columns(lead_rows, companies)),
        "opportunities.csv": write_csv(
            out_dir / "opportunities.csv", _opportunity_columns(opportunity_rows, lead_rows, companies)
        ),
        "touches.csv": write_csv(out_dir / "touches.csv", _touch_columns(touch_rows, lead_rows, opportunity_rows)),
        "spend.csv": write_csv(
            out_dir / "spend.csv",
            {"month": _month_text(spend_month), "channel": Codes(spend_channel, SOURCES), "amount": Cents(spend_cents)},
        ),
        "targets.csv": write_csv(
            out_dir / "targets.csv",
            {
                "month": _month_text(target_month),
                "metric": Codes(target_metric, ["mqls", "sqls", "opportunities", "pipeline", "won_revenue"]),
                "value": Number(target_value),
            },
        ),
    }
    if exports:
        counts.update(_write_exports(out_dir, rng, lead_rows, opportunity_rows, companies))
        # The sample company's past self-diagnostic rounds; the benchmark's big companies need none.
        try:
            from sample_data.generate_survey import SURVEY_FILE, write_survey
        except ImportError:  # run as a script from sample_data/
            from generate_survey import SURVEY_FILE, write_survey  # type: ignore[no-redef]
        counts[SURVEY_FILE] = write_survey(out_dir)
    return counts


def _write_exports(
    out_dir: Path, rng: np.random.Generator, leads: Leads, opportunities: Opportunities, companies: Companies
) -> dict[str, int]:
    rows = np.flatnonzero(leads.created_at >= EXPORT_FROM)
    modified = _last_modified(leads, rows, rng)
    has_opportunity = np.zeros(leads.count, dtype=bool)
    has_opportunity[opportunities.lead[opportunities.lead >= 0]] = True
    won = np.zeros(leads.count, dtype=bool)
    won[opportunities.lead[(opportunities.lead >= 0) & opportunities.won]] = True
    in_slice = np.zeros(leads.count, dtype=bool)
    in_slice[rows] = True
    opportunity_rows = np.flatnonzero(
        np.where(
            opportunities.lead >= 0,
            in_slice[np.maximum(opportunities.lead, 0)],
            opportunities.created_at >= EXPORT_FROM,
        )
    )
    return {
        "hubspot_contacts_export.csv": write_csv(
            out_dir / "hubspot_contacts_export.csv",
            _hubspot_columns(leads, rows, companies, has_opportunity, won, modified),
        ),
        "salesforce_leads_report.csv": write_csv(
            out_dir / "salesforce_leads_report.csv",
            _salesforce_lead_columns(leads, rows, companies, modified),
            bom=True,
        ),
        "salesforce_opportunities_report.csv": write_csv(
            out_dir / "salesforce_opportunities_report.csv",
            _salesforce_opportunity_columns(opportunities, opportunity_rows, leads, companies),
            bom=True,
        ),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Generate the Northwind Analytics sample data for OneFunnel.")
    parser.add_argument("--leads", type=int, default=20_000, help="number of leads (default 20,000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: this folder)")
    parser.add_argument("--no-exports", action="store_true", help="skip the HubSpot and Salesforce export files")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = generate(args.out, leads=args.leads, seed=args.seed, exports=not args.no_exports)
    for name, rows in counts.items():
        size = (args.out / name).stat().st_size
        print(f"{name:38} {rows:>10,} rows {size / 1e6:>8.1f} MB")
    print(f"written to {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
