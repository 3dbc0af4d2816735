"""Wootric's exports read into a moving-in plan (docs/moving-in.md#wootric).

Responses: `GET /v1/responses` (id, end_user_id, score, text, created_at, and the
end_user object or its email, external_id and end_user_properties) or the dashboard's CSV
export. End users: `GET /v1/end_users` (id, email, external_id, last_surveyed,
surveys_disabled, properties). Declines: `GET /v1/declines` (end_user_id, created_at): an
ask the person turned down, which seeds the cadence like an answer.
"""

from __future__ import annotations

from typing import Any

from feedback.imports.moving_in import Answer, Cells, Facts, OptOut, Plan, Record, read_part

LEFT_OUT = (
    "ip_address",
    "origin_url",
    "survey_id",
    "completed",
    "excluded_from_calculations",
    "updated_at",
    "created_at",
    "external_created_at",
    "tags",
    "notes",
)


def _end_user(cells: Cells, value: Any, part: str, own_id: tuple[str, ...]) -> Facts:
    """The person of a row: an embedded end_user object, or the row's own fields."""
    inner = cells
    if isinstance(value, dict):
        inner = Cells(cells.plan, cells.part, Record(cells.line, value))
    facts = Facts(cells.line, part)
    facts.tool_id = inner.text(*(("id",) if inner is not cells else own_id))
    facts.email = inner.email("email", "end_user_email")
    facts.external_id = inner.ident("external_id", "end_user_external_id")
    facts.asked_at = inner.moment("last_surveyed")
    _, properties = inner.raw("properties", "end_user_properties")
    if properties:
        facts.properties = inner.properties(properties, "properties")
    if inner is not cells:
        cells.ok = cells.ok and inner.ok
        if facts.tool_id is None:
            facts.tool_id = cells.text("end_user_id")
    return facts


def _response(plan: Plan, record: Record) -> None:
    cells = Cells(plan, "responses", record)
    response_id = cells.ident("id", "response_id", required=True)
    score = cells.score("score", "nps_score")
    comment = cells.comment("text", "comment", "feedback")
    answered_at = cells.moment("created_at", "date", "response_date", required=True)
    _, end_user = cells.raw("end_user")
    facts = _end_user(cells, end_user, "responses", ("end_user_id",))
    cells.used.update(("end_user_id", "email", "end_user_email", "external_id"))
    _, tags = cells.raw("tags")
    cells.used.update(LEFT_OUT)
    facts.properties = {**cells.leftovers(), **facts.properties}
    if not cells.ok or response_id is None or score is None or answered_at is None:
        return
    tag_list = [t for t in (str(x).strip() for x in tags)] if isinstance(tags, list) else []
    plan.answers.append(
        Answer(
            record.line,
            "responses",
            response_id,
            score,
            comment,
            answered_at,
            facts,
            [t for t in tag_list if t],
        )
    )


def _person(plan: Plan, record: Record) -> None:
    cells = Cells(plan, "people", record)
    facts = _end_user(cells, None, "people", ("id", "end_user_id"))
    _, disabled = cells.raw("surveys_disabled")
    cells.used.update(LEFT_OUT)
    if not facts.properties:
        facts.properties = cells.leftovers()
    if not cells.ok:
        return
    plan.people.append(facts)
    if str(disabled).strip().lower() in ("true", "1", "yes") and facts.email:
        plan.opt_outs.append(OptOut(record.line, "people", facts.email, "wootric surveys disabled"))


def _decline(plan: Plan, record: Record) -> None:
    cells = Cells(plan, "declines", record)
    facts = Facts(record.line, "declines")
    facts.tool_id = cells.text("end_user_id")
    facts.email = cells.email("email", "end_user_email")
    facts.asked_at = cells.moment("created_at", "date", required=True)
    if facts.tool_id is None and facts.email is None:
        cells.error("end_user_id", "required value is empty")
    if cells.ok:
        plan.people.append(facts)


def read_wootric(files: dict[str, bytes]) -> Plan:
    plan = Plan("wootric")
    for record in read_part(plan, "responses", files.get("responses")):
        _response(plan, record)
    for record in read_part(plan, "people", files.get("people")):
        _person(plan, record)
    for record in read_part(plan, "declines", files.get("declines")):
        _decline(plan, record)
    return plan
