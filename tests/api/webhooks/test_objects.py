"""The object of each event is the API's own JSON for it (the payload a receiver gets is
what the API would have answered), and None once the object is gone."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from feedback.accounts.models import Account
from feedback.health.snapshot import compute_snapshot
from feedback.kernel.principal import Role
from feedback.mail.admin import add_suppression, remove_suppression
from feedback.mail.models import Suppression
from feedback.programs.runner import run_due
from feedback.programs.services import create_program, enrol_by_hand
from feedback.responses.models import Response
from feedback.webhooks.objects import render_object
from tests.support.factories import ORIGIN, bearer, book, token, widget_setup

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


@pytest.fixture
async def headers() -> dict[str, str]:
    await book()
    return bearer(await token(Role.admin))


async def widget(client: Any, key: str, endpoint: str, body: dict[str, Any]) -> Any:
    answer = await client.post(
        f"/widget/v1/{key}/{endpoint}", content=json.dumps(body), headers=TEXT
    )
    assert answer.status_code < 300, answer.text
    return answer


async def test_an_answer_is_the_explorers_answer_with_its_id(
    client: Any, headers: dict[str, str]
) -> None:
    setup = await widget_setup()
    shown = await widget(client, setup["key"], "eligibility", {"user_id": "u1", "account_id": "a1"})
    display = shown.json()["display_token"]
    await widget(
        client,
        setup["key"],
        "responses",
        {"display_token": display, "client_id": "client-0001", "score": 4},
    )
    await widget(client, setup["key"], "comments", {"display_token": display, "comment": "Slow"})
    answer = await Response.select(Response.id).first()
    api = await client.get("/api/v1/reports/responses", params={"account": "a1"}, headers=headers)
    [listed] = api.json()["responses"]
    for kind in ("response.created", "response.commented"):
        shown_object = await render_object(kind, str(answer["id"]))
        assert shown_object == {"id": answer["id"], **listed}
    assert listed["comment"] == "Slow" and listed["score"] == 4


async def test_a_cta_is_the_apis_cta_with_its_history(client: Any, headers: dict[str, str]) -> None:
    raised = await client.post(
        "/api/v1/ctas",
        json={"account": "a1", "type": "onboarding", "reason": "Kick-off call"},
        headers=headers,
    )
    cta = raised.json()["cta"]["id"]
    await client.post(
        f"/api/v1/ctas/{cta}/actions", json={"action": "acknowledge"}, headers=headers
    )
    api = (await client.get(f"/api/v1/ctas/{cta}", headers=headers)).json()
    assert await render_object("cta.changed", str(cta)) == api
    assert [h["action"] for h in api["history"]] == ["created", "acknowledge"]


async def test_a_band_change_is_the_accounts_day_with_the_band_before(
    client: Any, headers: dict[str, str]
) -> None:
    day = datetime.now(UTC).date() + timedelta(days=1)
    await compute_snapshot(day - timedelta(days=1))
    await compute_snapshot(day)
    account = await Account.select(Account.id).where(Account.external_id == "a1").first()
    shown = await render_object("health.band_changed", f"{account['id']}:{day.isoformat()}")
    api = (await client.get("/api/v1/health/accounts/a1", headers=headers)).json()
    before, now = api["days"][-2], api["days"][-1]
    assert shown == {
        "account_id": "a1",
        "name": api["name"],
        "day": now["day"],
        "from_band": before["band"],
        "to_band": now["band"],
        "score": now["score"],
        "components": now["components"],
    }
    assert await render_object("health.band_changed", f"{account['id']}:2001-01-01") is None


async def test_a_completed_participant_is_the_apis_participant_with_its_program(
    client: Any, headers: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    program = await create_program(
        {
            "name": "Kick-off",
            "trigger": {"kind": "manual"},
            "steps": [{"kind": "slack", "channel": "#cs", "text": "Kick-off"}],
        },
        now,
        enabled=True,
    )
    participant = await enrol_by_hand(program.id, "a1", "u1", None, "admin@example.com", now)
    await run_due(now + timedelta(seconds=1))
    api = await client.get(f"/api/v1/programs/{program.id}/participants", headers=headers)
    [listed] = api.json()
    assert listed["state"] == "completed"
    assert await render_object("program.completed", str(participant)) == {
        **listed,
        "program": {"id": program.id, "name": "Kick-off"},
    }


async def test_an_unsubscribed_person_names_their_users_as_the_api_shows_them(
    client: Any, headers: dict[str, str]
) -> None:
    await add_suppression("U1@acme.test", "admin@example.com")
    row = await Suppression.select(Suppression.id, Suppression.created_at).first()
    shown = await render_object("person.unsubscribed", str(row["id"]))
    user = (await client.get("/api/v1/users/u1", headers=headers)).json()
    assert shown is not None
    assert shown["email"] == "u1@acme.test" and shown["reason"] == "added_by_admin"
    assert shown["user_ids"] == ["u1"] and shown["users"] == [user]
    assert shown["unsubscribed_at"].startswith(row["created_at"].date().isoformat())
    await remove_suppression("u1@acme.test", "admin@example.com")
    assert await render_object("person.unsubscribed", str(row["id"])) is None


@pytest.mark.parametrize(
    "kind", ["response.created", "cta.created", "program.completed", "person.unsubscribed"]
)
async def test_an_object_that_is_gone_is_none(kind: str) -> None:
    assert await render_object(kind, "999999") is None
    assert await render_object(kind, "not-a-number") is None
