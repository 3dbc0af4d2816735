"""Pendo's NPS responses read into a moving-in plan (docs/moving-in.md#pendo).

The NPS dashboard's CSV export, or the same rows as JSON: one row per answer with the
visitor id, the account id, the score, the follow-up answer and the time. Pendo gives an
answer no id of its own, so the key is the visitor, the time and the guide, hashed.
Every other column (visitor metadata) becomes a trait.
"""

from __future__ import annotations

import hashlib

from feedback.imports.moving_in import Answer, Cells, Facts, Plan, Record, read_part

VISITOR = ("visitor_id", "visitorid", "visitor")
SCORE = ("nps_score", "score", "nps", "nps_rating", "rating", "pollresponse", "poll_response")
COMMENT = (
    "comment",
    "nps_reason",
    "reason",
    "feedback",
    "written_response",
    "text",
    "response",
    "follow_up_response",
)
TIME = (
    "browser_time",
    "browsertime",
    "date",
    "time",
    "timestamp",
    "submitted_at",
    "response_date",
    "created_at",
    "day",
)
GUIDE = ("guide_id", "guideid", "poll_id", "pollid")
LEFT_OUT = ("guide_name", "nps_category", "category", "sentiment", "app_id", "appid")


def _answer(plan: Plan, record: Record) -> None:
    cells = Cells(plan, "responses", record)
    visitor = cells.ident(*VISITOR, required=True)
    score = cells.score(*SCORE)
    comment = cells.comment(*COMMENT)
    answered_at = cells.moment(*TIME, required=True)
    own_id = cells.ident("response_id", "id", "event_id")
    guide = cells.text(*GUIDE) or ""
    email = cells.email("visitor_email", "email")
    cells.used.update(LEFT_OUT)
    properties = cells.leftovers()
    if not cells.ok or visitor is None or score is None or answered_at is None:
        return
    if own_id is None:
        source = "\x1f".join((visitor, answered_at.isoformat(), guide))
        own_id = hashlib.sha256(source.encode()).hexdigest()[:32]
    facts = Facts(record.line, "responses", external_id=visitor, email=email, properties=properties)
    plan.answers.append(
        Answer(record.line, "responses", own_id, score, comment, answered_at, facts)
    )


def read_pendo(files: dict[str, bytes]) -> Plan:
    plan = Plan("pendo")
    for record in read_part(plan, "responses", files.get("responses")):
        _answer(plan, record)
    return plan
