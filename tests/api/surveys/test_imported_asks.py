"""Imported history seeds the cadence: someone the previous tool asked or whose answer was
imported is not asked again before the schedule allows."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from feedback.accounts.models import Account, EndUser
from feedback.kernel.clock import utcnow
from feedback.responses.models import Response
from feedback.surveys.eligibility import check_eligibility
from feedback.surveys.keys import load_key
from feedback.surveys.models import Display
from tests.support.factories import ORIGIN, widget_setup

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


async def imported_user(user_id: str, asked_elsewhere_at: datetime | None = None) -> int:
    account = await Account.select(Account.id).where(Account.external_id == "acct-1").first()
    if account is None:
        row = Account(external_id="acct-1", name="Acme")
        await row.save()
        account = {"id": row.id}
    user = EndUser(
        external_id=user_id,
        account=account["id"],
        first_seen_at=utcnow() - timedelta(days=400),
        asked_elsewhere_at=asked_elsewhere_at,
    )
    await user.save()
    return int(user.id)


async def check(client: Any, key: str, user_id: str) -> dict[str, Any]:
    answer = await client.post(
        f"/widget/v1/{key}/eligibility",
        content=json.dumps({"user_id": user_id, "account_id": "acct-1"}),
        headers=TEXT,
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


async def test_an_ask_by_the_previous_tool_delays_the_first_survey_by_a_cadence(
    client: Any,
) -> None:
    setup = await widget_setup(cadence_days=90)
    asked = utcnow() - timedelta(days=10)
    await imported_user("asked-before", asked)
    await imported_user("never-asked")
    assert (await check(client, setup["key"], "asked-before"))["show"] is False
    assert (await check(client, setup["key"], "never-asked"))["show"] is True
    # later on (the service's clock moved on): still nothing a day before the cadence ends,
    # a survey once it has
    key = await load_key(setup["key"])
    almost = await check_eligibility(
        key, "asked-before", "acct-1", {}, None, now=asked + timedelta(days=89)
    )
    assert (
        almost.show is False
        and await Display.count().where(Display.end_user == (await user_pk("asked-before"))) == 0
    )
    after = await check_eligibility(
        key, "asked-before", "acct-1", {}, None, now=asked + timedelta(days=90, minutes=1)
    )
    assert after.show is True


async def user_pk(external_id: str) -> int:
    row = await EndUser.select(EndUser.id).where(EndUser.external_id == external_id).first()
    return int(row["id"])


async def test_the_wait_ends_a_cadence_after_the_previous_tools_ask(client: Any) -> None:
    setup = await widget_setup(cadence_days=30)
    await imported_user("long-ago", utcnow() - timedelta(days=31))
    assert (await check(client, setup["key"], "long-ago"))["show"] is True


async def test_an_imported_answer_counts_as_an_answer(client: Any) -> None:
    setup = await widget_setup(cadence_days=90)
    user = await imported_user("answered-in-delighted")
    account = await Account.select(Account.id).first()
    await Response(
        idempotency_key="delighted:123",
        source="delighted",
        end_user=user,
        account=account["id"],
        score=9,
        answered_at=utcnow() - timedelta(days=20),
    ).save()
    assert (await check(client, setup["key"], "answered-in-delighted"))["show"] is False
