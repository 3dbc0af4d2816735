"""Moving in from Pendo: the NPS responses export."""

from __future__ import annotations

from datetime import UTC, datetime

from feedback.accounts.models import Account, EndUser
from feedback.ctas.models import RulesQueue
from feedback.responses.models import Response
from tests.api.imports_moving_in.helpers import move, user


async def test_the_nps_export_becomes_visitors_in_their_accounts() -> None:
    result = await move("pendo", responses="pendo-nps.csv")
    assert result.ok and result.written, result.errors
    assert result.parts["accounts"] == {"created": 2}
    visitor = await user("visitor-2")
    assert visitor["account_id"] == "acct-7" and visitor["email"] == "v2@adatum.test"
    assert visitor["traits"] == {"role": "approver"}
    assert visitor["asked_elsewhere_at"] == datetime(2026, 2, 11, 16, 45, 30, tzinfo=UTC)
    answer = await Response.select().where(Response.end_user == visitor["id"]).first()
    assert answer["source"] == "pendo" and answer["score"] == 4
    assert answer["comment"] == "Too many clicks to approve, please fix"
    assert answer["idempotency_key"].startswith("pendo:")
    assert await RulesQueue.count() == 0


async def test_importing_again_changes_nothing() -> None:
    await move("pendo", responses="pendo-nps.csv")
    again = await move("pendo", responses="pendo-nps.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 6)
    assert await Response.count() == 3 and await EndUser.count() == 3


async def test_a_bad_export_names_lines_and_fields_and_writes_nothing() -> None:
    result = await move("pendo", responses="pendo-nps-bad.csv")
    assert [(e.line, e.column) for e in result.errors] == [
        (3, "visitor_id"),
        (4, "nps_score"),
        (5, "account_id"),
    ]
    assert not result.written and await Account.count() == 0


async def test_skip_invalid_writes_the_good_answer() -> None:
    result = await move("pendo", responses="pendo-nps-bad.csv", options={"skip_invalid": True})
    assert result.written and await Response.count() == 1


async def test_the_json_rows_of_the_api_take_milliseconds() -> None:
    body = (
        b'[{"visitorId": "v-9", "accountId": "acct-1", "browserTime": 1770000000000,'
        b' "pollResponse": 9}]'
    )
    result = await move("pendo", responses=body)
    assert result.ok, result.errors
    answer = await Response.select().first()
    assert answer["answered_at"] == datetime.fromtimestamp(1770000000, UTC)
