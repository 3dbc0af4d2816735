"""What changes record for the webhooks, in their own transactions: answers and comments
(with the environment of their widget key), CTAs raised and changed, programs completed,
people unsubscribing, health bands moving; and nothing while no endpoint is switched on."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from feedback.ctas.models import Cta
from feedback.ctas.rules import drain_answer_rules
from feedback.health.models import HealthSnapshot
from feedback.health.snapshot import compute_snapshot
from feedback.kernel.principal import Role
from feedback.mail.admin import add_suppression
from feedback.mail.enqueue import suppress, unsubscribe_token
from feedback.programs.runner import run_due
from feedback.programs.services import create_program, enrol_by_hand
from feedback.responses.models import Response
from tests.api.webhooks.support import an_endpoint, recorded
from tests.support.factories import ORIGIN, bearer, book, token, widget_setup

ENGINE = os.environ.get("TEST_DATABASE_ENGINE", "sqlite")
TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


async def call(client: Any, key: str, endpoint: str, body: dict[str, Any]) -> Any:
    return await client.post(f"/widget/v1/{key}/{endpoint}", content=json.dumps(body), headers=TEXT)


async def answered(
    client: Any, score: int, environment: str = "production", user: str = "u1"
) -> tuple[str, str]:
    """A survey shown to `user` on a key of `environment` and answered; (key, token)."""
    setup = await widget_setup(environment=environment)
    shown = await call(client, setup["key"], "eligibility", {"user_id": user, "account_id": "a1"})
    assert shown.json()["show"] is True, shown.text
    display = shown.json()["display_token"]
    given = await call(
        client,
        setup["key"],
        "responses",
        {"display_token": display, "client_id": f"client-{user}-{environment}", "score": score},
    )
    assert given.status_code == 201, given.text
    return setup["key"], display


async def answer_id() -> str:
    row = await Response.select(Response.id).order_by(Response.id, ascending=False).first()
    return str(row["id"])


async def test_a_production_answer_records_response_created_in_production(client: Any) -> None:
    await book()
    await an_endpoint()
    await answered(client, 9)
    assert await recorded() == [
        {"type": "response.created", "object_id": await answer_id(), "environment": "production"}
    ]


async def test_an_answer_on_a_staging_key_records_it_in_staging(client: Any) -> None:
    await book()
    await an_endpoint(environment="staging")
    await answered(client, 3, environment="staging")
    await drain_answer_rules()
    # staging answers raise no CTA, so a staging answer is its one event
    assert await recorded() == [
        {"type": "response.created", "object_id": await answer_id(), "environment": "staging"}
    ]


async def test_a_retried_answer_records_nothing_twice(client: Any) -> None:
    await book()
    await an_endpoint()
    key, display = await answered(client, 8)
    again = await call(
        client,
        key,
        "responses",
        {"display_token": display, "client_id": "client-u1-production", "score": 8},
    )
    assert again.status_code in (200, 201)
    assert len(await recorded("response.created")) == 1


async def test_a_comment_and_its_edit_record_response_commented(client: Any) -> None:
    await book()
    await an_endpoint()
    key, display = await answered(client, 7)
    first = await call(client, key, "comments", {"display_token": display, "comment": "Slow"})
    edit = await call(client, key, "comments", {"display_token": display, "comment": "Slow UI"})
    assert first.status_code < 300 and edit.status_code < 300, (first.text, edit.text)
    commented = await recorded("response.commented")
    assert commented == 2 * [
        {"type": "response.commented", "object_id": await answer_id(), "environment": "production"}
    ]


async def test_nothing_is_recorded_while_no_endpoint_is_switched_on(client: Any) -> None:
    await book()
    await an_endpoint(active=False)
    key, display = await answered(client, 2)
    await call(client, key, "comments", {"display_token": display, "comment": "Broken"})
    await drain_answer_rules()
    assert await Cta.count() == 1  # the detractor's CTA was raised all the same
    await add_suppression("u1@acme.test", "admin@example.com")
    assert await recorded() == []


async def test_a_detractor_answers_cta_is_recorded_as_created_in_production(client: Any) -> None:
    await book()
    await an_endpoint()
    await answered(client, 2)
    await drain_answer_rules()
    cta = await Cta.select(Cta.id).first()
    assert {"type": "cta.created", "object_id": str(cta["id"]), "environment": "production"} in (
        await recorded()
    )


async def test_raising_and_changing_a_cta_records_created_then_changed(client: Any) -> None:
    await book()
    await an_endpoint()
    headers = bearer(await token(Role.admin))
    raised = await client.post(
        "/api/v1/ctas",
        json={"account": "a1", "type": "onboarding", "reason": "Kick-off call"},
        headers=headers,
    )
    assert raised.status_code == 201, raised.text
    cta = raised.json()["cta"]["id"]
    acted = await client.post(
        f"/api/v1/ctas/{cta}/actions", json={"action": "acknowledge"}, headers=headers
    )
    assert acted.status_code == 200, acted.text
    assert [(e["type"], e["object_id"]) for e in await recorded()] == [
        ("cta.created", str(cta)),
        ("cta.changed", str(cta)),
    ]


async def test_a_participant_completing_a_program_records_program_completed() -> None:
    await book()
    await an_endpoint()
    now = datetime.now(UTC)
    program = await create_program(
        {
            "name": "Kick-off",
            "trigger": {"kind": "manual"},
            "steps": [
                {"kind": "slack", "channel": "#cs", "text": "Kick-off for {{ account.name }}"}
            ],
        },
        now,
        enabled=True,
    )
    participant = await enrol_by_hand(program.id, "a1", None, None, "admin@example.com", now)
    assert await recorded() == []
    await run_due(now + timedelta(seconds=1))
    assert await recorded() == [
        {"type": "program.completed", "object_id": str(participant), "environment": "production"}
    ]


async def test_unsubscribing_by_link_or_by_an_admin_records_it_but_an_import_does_not(
    client: Any,
) -> None:
    await an_endpoint()
    page = await client.post(
        f"/unsubscribe/{unsubscribe_token('hana@customer.example')}",
        data={"List-Unsubscribe": "One-Click"},
    )
    assert page.status_code == 200
    await add_suppression("Ken@Customer.example", "admin@example.com")
    await suppress("imported@customer.example", "imported", "import delighted", datetime.now(UTC))
    again = await client.post(f"/unsubscribe/{unsubscribe_token('hana@customer.example')}")
    assert again.status_code == 200
    assert [e["type"] for e in await recorded()] == 2 * ["person.unsubscribed"]


async def test_a_band_change_in_the_daily_snapshot_records_health_band_changed(
    client: Any,
) -> None:
    await book()
    await an_endpoint()
    day = datetime.now(UTC).date() + timedelta(days=1)  # the accounts exist by then
    await compute_snapshot(day - timedelta(days=1))
    before = {r["account"]: r["band"] for r in await HealthSnapshot.select()}
    assert len(before) == 3
    # yesterday the accounts were in another band than today's computation gives them
    other = {band: ("red" if band != "red" else "green") for band in set(before.values())}
    for account, band in before.items():
        await HealthSnapshot.update({HealthSnapshot.band: other[band]}).where(
            HealthSnapshot.account == account
        )
    await compute_snapshot(day)
    events = await recorded()
    assert sorted(e["object_id"] for e in events) == sorted(
        f"{account}:{day.isoformat()}" for account in before
    )
    assert {e["type"] for e in events} == {"health.band_changed"}
    await compute_snapshot(day)  # the day again: nothing new to tell
    assert len(await recorded()) == len(events)
