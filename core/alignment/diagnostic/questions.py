"""What the self-diagnostic asks: the areas where marketing and sales drift apart, each tied to a step of the
seven-step alignment framework ("Sales and Marketing Alignment: How to Turn Two Teams Into One Revenue Engine")
and to the OneFunnel page that does that step; the statements people score from 1 to 5; the teams and levels
they answer as.
"""

from __future__ import annotations

from dataclasses import dataclass

HEALTHY, TROUBLED = 3.5, 3.0  # mean agreement at or above HEALTHY reads as fine; below TROUBLED as a problem
SCALE = {1: "Strongly disagree", 2: "Disagree", 3: "Neither agree nor disagree", 4: "Agree", 5: "Strongly agree"}
TEAMS: dict[str, str] = {"marketing": "Marketing", "sales": "Sales", "ops": "Ops", "other": "Other"}
LEVELS: dict[str, str] = {
    "executive": "Executives",
    "manager": "Managers",
    "individual_contributor": "Individual contributors",
}


@dataclass(frozen=True)
class Area:
    key: str
    name: str
    step: int  # of FRAMEWORK
    action: str  # the fix, as the action plan words it
    page: str  # the OneFunnel page that does it
    page_label: str
    # (sign key, the fix instead): when that sign measures fine, the problem is understanding, not the missing thing
    instead: tuple[str, str] | None = None


@dataclass(frozen=True)
class Statement:
    key: str
    area: str
    text: str


FRAMEWORK = {
    1: "Set shared revenue goals both teams own",
    2: "Agree on one ICP and detailed buyer personas",
    3: "Define shared language and lead-qualification criteria",
    4: "Map the buyer journey and define handoffs",
    5: "Unify the tech stack around one source of truth",
    6: "Establish a communication cadence",
    7: "Start small, prove it, then scale",
}

AREAS: dict[str, Area] = {
    area.key: area
    for area in (
        Area(
            "goals",
            "Shared goals and metrics",
            1,
            "Put both teams on the same numbers: review MQL→SQL conversion and pipeline together, not MQL volume alone",
            "pages/scoreboard.py",
            "Scoreboard",
        ),
        Area(
            "definitions",
            "Shared definition of a qualified lead",
            3,
            "Write the ICP, MQL and SQL definitions together and have both leads sign them",
            "pages/definitions.py",
            "Definitions",
            (
                "definitions_review",
                "Walk both teams through the signed definitions, and tighten the MQL rule where sales keeps rejecting",
            ),
        ),
        Area(
            "handoff",
            "Handoff and follow-up",
            4,
            "Fix the SLA: response hours and the attempts owed before a rejection, then hold sales to it",
            "pages/definitions.py",
            "Definitions (SLA)",
        ),
        Area(
            "data",
            "Shared data and systems",
            5,
            "Bring both teams' exports into one database and fix missing handoff fields at the source",
            "pages/data.py",
            "Data",
        ),
        Area(
            "feedback",
            "Feedback loops and communication",
            6,
            "Run the weekly sync: go through rejection reasons with marketing and feed them back into targeting",
            "pages/weekly_sync.py",
            "Weekly sync",
        ),
        Area(
            "content",
            "Content",
            2,
            "Build the ICP and buyer personas together, and brief content from the objections sales hears",
            "pages/definitions.py",
            "Definitions (ICP)",
        ),
        Area(
            "leadership",
            "Leadership and structure",
            7,
            "Have both leaders review one scoreboard together and pilot changes in one segment before rolling out",
            "pages/scoreboard.py",
            "Scoreboard",
        ),
    )
}
ALIGNED = "aligned"  # the statement asked on its own, outside the areas
STATEMENTS: tuple[Statement, ...] = (
    Statement(
        "goals_shared_number",
        "goals",
        "Marketing and sales are measured on at least one number they share, such as pipeline or revenue.",
    ),
    Statement(
        "goals_quality_over_volume",
        "goals",
        "Marketing is judged on how many of its leads convert, not only on how many it brings in.",
    ),
    Statement(
        "definitions_written",
        "definitions",
        "Our definition of a qualified lead is written down and signed by both teams.",
    ),
    Statement("definitions_no_disputes", "definitions", "Marketing and sales rarely argue about the quality of leads."),
    Statement("handoff_follow_up", "handoff", "Sales follows up on marketing's leads within the agreed time."),
    Statement(
        "handoff_context", "handoff", "When a lead is handed over, sales gets its source, intent and history with it."
    ),
    Statement("data_same_numbers", "data", "Both teams work from the same numbers; our reports reconcile."),
    Statement("data_one_system", "data", "Our CRM is one system of record that both teams trust."),
    Statement("feedback_rejections", "feedback", "When sales turns a lead away, marketing hears why."),
    Statement("feedback_cadence", "feedback", "Marketing and sales meet regularly to review leads and pipeline."),
    Statement("content_used", "content", "Sales uses the content marketing produces."),
    Statement("content_message", "content", "What our campaigns say matches what reps say on calls."),
    Statement(
        "leadership_priorities",
        "leadership",
        "Marketing and sales leaders agree on priorities and settle conflicts together.",
    ),
    Statement(
        "leadership_retrospective",
        "leadership",
        "After a missed target, we hold one shared review instead of blaming each other.",
    ),
    Statement(ALIGNED, ALIGNED, "Our sales and marketing teams are aligned."),
)
STATEMENT_BY_KEY = {statement.key: statement for statement in STATEMENTS}


# What a role usually is, to pre-fill the form; each person says what they are, since roles do not say level.
_TEAM_OF_ROLE = {"marketing": "marketing", "marketing_lead": "marketing", "sales": "sales", "sales_lead": "sales"}
_LEVEL_OF_ROLE = {"exec": "executive", "marketing_lead": "executive", "sales_lead": "executive"}


def suggested_tags(role: str) -> tuple[str, str | None]:
    """(team, level) to pre-fill for a role: the leads are VPs, so executives; ops are ops; the rest unknown."""
    team = _TEAM_OF_ROLE.get(role, "ops" if role == "ops" else "other")
    return team, _LEVEL_OF_ROLE.get(role)


def area_name(key: str) -> str:
    return AREAS[key].name if key in AREAS else '"We are aligned"'
