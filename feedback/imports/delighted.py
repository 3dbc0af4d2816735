"""Delighted's exports read into a moving-in plan (docs/moving-in.md#delighted).

Responses: the dashboard's CSV export or `GET /v1/survey_responses.json?expand[]=person`
(id, person, score, comment, created_at in Unix seconds, person_properties, tags, notes).
People: `GET /v1/people.json` (id, email, name, last_sent_at, last_responded_at,
properties). Unsubscribes and bounces: `GET /v1/unsubscribes.json` (person_id, email,
unsubscribed_at) and `GET /v1/bounces.json` (person_id, email, bounced_at).
"""

from __future__ import annotations

from typing import Any

from feedback.imports.moving_in import (
    Answer,
    Cells,
    Facts,
    OptOut,
    Plan,
    Record,
    read_part,
)

# Delighted's own metadata among the properties ("Delighted Source", "Delighted Browser"):
# facts about the survey page, not the person
OWN_PREFIX = "delighted_"
RESPONSE_FIELDS = (
    "permalink",
    "updated_at",
    "updated",
    "notes",
    "additional_answers",
    "survey_type",
    "phone_number",
    "person_phone_number",
)


def _person_traits(cells: Cells, properties: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in properties.items() if not k.startswith(OWN_PREFIX)}


def _person(cells: Cells, value: Any) -> Facts:
    """A response's person: an id, or the object `expand[]=person` puts there."""
    facts = Facts(cells.line, cells.part)
    if isinstance(value, dict):
        inner = Cells(cells.plan, cells.part, Record(cells.line, value))
        facts.tool_id = inner.text("id")
        facts.email = inner.email("email")
        facts.name = inner.text("name")
        facts.asked_at = inner.moment("last_sent_at")
        facts.properties = _person_traits(
            inner, inner.properties(value.get("properties"), "person.properties")
        )
        cells.ok = cells.ok and inner.ok
    else:
        facts.tool_id = cells.text("person", "person_id")
    return facts


def _response(plan: Plan, record: Record) -> None:
    cells = Cells(plan, "responses", record)
    response_id = cells.ident("id", "response_id", required=True)
    _, survey_type = cells.raw("survey_type")
    if survey_type is not None and str(survey_type).strip().lower() not in ("nps", "enps"):
        cells.error("survey_type", f"a {survey_type} answer is not an NPS score; leave it out")
    score = cells.score("score")
    comment = cells.comment("comment")
    answered_at = cells.moment("created_at", "created", "date", "response_date", required=True)
    _, person = cells.raw("person")
    facts = _person(cells, person)
    facts.tool_id = facts.tool_id or cells.text("person_id")
    facts.email = facts.email or cells.email("person_email", "email")
    facts.name = facts.name or cells.text("person_name", "name")
    _, tags = cells.raw("tags")
    tag_list = [t.strip() for t in (tags if isinstance(tags, list) else str(tags or "").split(","))]
    tag_list = [str(t) for t in tag_list if t]
    _, properties = cells.raw("person_properties", "properties")
    cells.used.update(RESPONSE_FIELDS)
    snapshot = cells.properties(properties, "person_properties") if properties else {}
    snapshot = {**cells.leftovers(), **snapshot}  # a CSV export's property columns
    facts.properties = {**facts.properties, **_person_traits(cells, snapshot)}
    if not cells.ok or response_id is None or score is None or answered_at is None:
        return
    plan.answers.append(
        Answer(record.line, "responses", response_id, score, comment, answered_at, facts, tag_list)
    )


def _people(plan: Plan, record: Record) -> None:
    cells = Cells(plan, "people", record)
    facts = Facts(record.line, "people")
    facts.tool_id = cells.text("id", "person_id")
    facts.email = cells.email("email", "person_email")
    facts.name = cells.text("name", "person_name")
    sent = cells.moment("last_sent_at", "last_sent")
    responded = cells.moment("last_responded_at", "last_responded")
    cells.used.update(
        ("created_at", "next_survey_scheduled_at", "phone_number", "survey_scheduled_at")
    )
    _, properties = cells.raw("properties")
    traits = cells.properties(properties, "properties") if properties else cells.leftovers()
    facts.properties = _person_traits(cells, traits)
    facts.asked_at = max((m for m in (sent, responded) if m), default=None)
    if cells.ok:
        plan.people.append(facts)


def _opt_out(plan: Plan, record: Record, part: str) -> None:
    cells = Cells(plan, part, record)
    address = cells.email("email", "person_email")
    if address is None and cells.ok:
        cells.error("email", "required value is empty")
    if cells.ok and address:
        kind = "unsubscribe" if part == "unsubscribes" else "bounce"
        plan.opt_outs.append(OptOut(record.line, part, address, f"delighted {kind}"))


def read_delighted(files: dict[str, bytes]) -> Plan:
    plan = Plan("delighted")
    for record in read_part(plan, "responses", files.get("responses")):
        _response(plan, record)
    for record in read_part(plan, "people", files.get("people")):
        _people(plan, record)
    for part in ("unsubscribes", "bounces"):
        for record in read_part(plan, part, files.get(part)):
            _opt_out(plan, record, part)
    return plan
