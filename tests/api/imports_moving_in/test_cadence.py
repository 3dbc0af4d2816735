"""A person the old tool asked recently is not asked again before the schedule allows."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from feedback.kernel.clock import utcnow
from tests.api.imports_moving_in.helpers import move
from tests.support.factories import ORIGIN, widget_setup

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


def people_asked(days_ago: int) -> bytes:
    sent = int((utcnow() - timedelta(days=days_ago)).timestamp())
    person = {
        "id": "p-1",
        "email": "u-1@acme.test",
        "last_sent_at": sent,
        "properties": {"customer_id": "u-1", "account_id": "acct-1"},
    }
    return json.dumps([person]).encode()


async def eligibility(client: Any, key: str) -> dict[str, Any]:
    body = {"user_id": "u-1", "account_id": "acct-1", "url": "https://app.example.com/"}
    answer = await client.post(
        f"/widget/v1/{key}/eligibility", content=json.dumps(body), headers=TEXT
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_a_person_asked_20_days_ago_is_not_asked_now(client: Any) -> None:
    setup = await widget_setup(cadence_days=90)
    result = await move("delighted", people=people_asked(20))
    assert result.ok, result.errors
    assert (await eligibility(client, setup["key"]))["show"] is False


async def test_a_person_asked_long_ago_is_asked(client: Any) -> None:
    setup = await widget_setup(cadence_days=90)
    await move("delighted", people=people_asked(200))
    assert (await eligibility(client, setup["key"]))["show"] is True
