"""Moving in from Wootric: responses, end users and declines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from feedback.accounts.models import EndUser
from feedback.mail.models import Suppression
from feedback.responses.models import Response
from tests.api.imports_moving_in.helpers import move, user


async def test_responses_and_end_users_become_users_answers_and_a_cadence() -> None:
    result = await move(
        "wootric",
        responses="wootric-responses.json",
        people="wootric-end-users.json",
        declines="wootric-declines.jsonl",
    )
    assert result.ok and result.written, result.errors
    dee = await user("user-dee")  # the external id names the user
    assert dee["account_id"] == "acc-tail" and dee["traits"] == {"seat": "pro"}
    answer = await Response.select().where(Response.idempotency_key == "wootric:9001").first()
    assert answer["comment"] == "Exports are slow" and answer["source"] == "wootric"
    pacific = timezone(timedelta(hours=-8))
    assert answer["answered_at"] == datetime(2026, 1, 20, 10, 0, tzinfo=pacific)
    # the answer names only end user 72: the end users file says who that is
    rae = await user("rae@tailspin.test")
    assert rae["traits"] == {"department": "finance"}
    # the latest ask: the decline after the last survey and the answer
    assert rae["asked_elsewhere_at"] == datetime.fromtimestamp(1769600000, UTC)
    assert (await user("user-max"))["asked_elsewhere_at"] == datetime.fromtimestamp(1769500000, UTC)
    # surveys switched off in Wootric: never mailed here either
    assert await Suppression.exists().where(Suppression.address == "max@tailspin.test")
    assert await EndUser.count() == 3  # the decline of an unknown end user adds nobody


async def test_importing_again_changes_nothing() -> None:
    files = {"responses": "wootric-responses.json", "people": "wootric-end-users.json"}
    await move("wootric", **files)
    again = await move("wootric", **files)
    assert (again.created, again.updated) == (0, 0) and again.unchanged > 0


async def test_a_bad_file_names_lines_and_writes_nothing() -> None:
    result = await move("wootric", responses="wootric-responses-bad.json")
    assert [(e.line, e.column) for e in result.errors] == [
        (2, "score"),
        (3, "email"),
        (4, "account_id"),
    ]
    assert not result.written and await Response.count() == 0
    skipped = await move(
        "wootric", responses="wootric-responses-bad.json", options={"skip_invalid": True}
    )
    assert skipped.written and await Response.count() == 1


async def test_an_unreadable_file_is_refused_naming_it() -> None:
    result = await move("wootric", responses="wootric-responses.json", people=b"[1, 2]")
    assert not result.written
    assert result.errors[0].column == "people"
