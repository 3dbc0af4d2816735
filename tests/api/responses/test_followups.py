"""What the widget may still do after a display: comment, edit the comment, dismiss and
change the score, each only for a while (settings `widget_followup_hours` and
`widget_comment_edit_minutes`). The intake clock is moved; nothing sleeps."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from feedback.ctas.models import Cta
from feedback.ctas.rules import drain_answer_rules
from feedback.kernel.clock import utcnow
from feedback.responses import intake
from feedback.responses.models import Response
from feedback.surveys.models import Display
from tests.support.factories import ORIGIN, book, widget_setup

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}
Later = Callable[[timedelta], datetime]


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Later:
    """Moves answer intake's clock this far past the real now (the display's time)."""

    def move(by: timedelta) -> datetime:
        moment = utcnow() + by
        monkeypatch.setattr(intake, "clock", lambda: moment)
        return moment

    return move


async def call(client: Any, key: str, endpoint: str, body: dict[str, Any]) -> Any:
    return await client.post(f"/widget/v1/{key}/{endpoint}", content=json.dumps(body), headers=TEXT)


async def shown(client: Any, user: str = "u1", account: str = "a1") -> tuple[str, str]:
    """A key and the token of a survey just shown to the user."""
    setup = await widget_setup()
    answer = await call(
        client, setup["key"], "eligibility", {"user_id": user, "account_id": account}
    )
    assert answer.json()["show"] is True, answer.text
    return setup["key"], answer.json()["display_token"]


async def scored(client: Any, score: int = 6, client_id: str = "client-0001") -> tuple[str, str]:
    key, token = await shown(client)
    answer = await call(
        client, key, "responses", {"display_token": token, "client_id": client_id, "score": score}
    )
    assert answer.status_code == 201, answer.text
    return key, token


def problem(answer: Any) -> dict[str, str]:
    """The one field a refusal names (the error body's list of fields at fault)."""
    assert 400 <= answer.status_code < 500, answer.text
    body = answer.json()
    (named,) = body["detail"] if isinstance(body.get("detail"), list) else body["errors"]
    assert named["message"]
    return dict(named)


def refused_field(answer: Any) -> str:
    return problem(answer)["field"]


async def stored() -> tuple[int, str | None]:
    row = await Response.select(Response.score, Response.comment).first()
    return row["score"], row["comment"]


async def test_a_comment_25_hours_after_the_display_is_refused(client: Any, later: Later) -> None:
    key, token = await scored(client)
    later(timedelta(hours=25))
    answer = await call(client, key, "comments", {"display_token": token, "comment": "late"})
    assert refused_field(answer) == "display_token"
    assert "24 hours" in problem(answer)["message"]
    assert await stored() == (6, None)


async def test_a_comment_23_hours_after_the_display_is_taken(client: Any, later: Later) -> None:
    key, token = await scored(client)
    later(timedelta(hours=23))
    answer = await call(client, key, "comments", {"display_token": token, "comment": "slow"})
    assert answer.status_code == 200, answer.text
    assert await stored() == (6, "slow")


async def test_a_comment_edited_within_minutes_replaces_it(client: Any, later: Later) -> None:
    key, token = await scored(client)
    later(timedelta(minutes=1))
    await call(client, key, "comments", {"display_token": token, "comment": "slwo"})
    later(timedelta(minutes=9))
    answer = await call(client, key, "comments", {"display_token": token, "comment": "slow"})
    assert answer.status_code == 200, answer.text
    assert await stored() == (6, "slow")


async def test_a_second_comment_after_the_edit_window_is_refused_and_the_first_kept(
    client: Any, later: Later
) -> None:
    key, token = await scored(client)
    later(timedelta(minutes=1))
    first = await call(client, key, "comments", {"display_token": token, "comment": "slow"})
    assert first.status_code == 200
    later(timedelta(minutes=12))
    again = await call(client, key, "comments", {"display_token": token, "comment": "replaced"})
    assert refused_field(again) == "comment"
    assert "10 minutes" in problem(again)["message"]
    assert await stored() == (6, "slow")
    # and the same again an hour later: the comment is never replaced
    later(timedelta(hours=1))
    again = await call(client, key, "comments", {"display_token": token, "comment": "replaced"})
    assert refused_field(again) == "comment"
    assert await stored() == (6, "slow")


async def test_a_dismissal_after_the_window_is_refused(client: Any, later: Later) -> None:
    key, token = await shown(client)
    later(timedelta(hours=25))
    answer = await call(client, key, "dismissals", {"display_token": token})
    assert refused_field(answer) == "display_token"
    assert (await Display.select(Display.status).first())["status"] == "shown"


async def test_a_dismissal_within_the_window_is_recorded(client: Any, later: Later) -> None:
    key, token = await shown(client)
    later(timedelta(minutes=30))
    answer = await call(client, key, "dismissals", {"display_token": token})
    assert answer.json() == {"dismissed": True}


async def test_an_unknown_token_is_still_named(client: Any) -> None:
    key, _ = await shown(client)
    for endpoint, body in (
        ("comments", {"display_token": "nope", "comment": "x"}),
        ("dismissals", {"display_token": "nope"}),
    ):
        assert refused_field(await call(client, key, endpoint, body)) == "display_token"


async def test_the_same_client_changing_its_score_replaces_it_and_the_rules_see_the_last(
    client: Any,
) -> None:
    await book()
    key, token = await scored(client, score=3)
    change = {"display_token": token, "client_id": "client-0001", "score": 9}
    changed = await call(client, key, "responses", change)
    assert changed.status_code == 200, changed.text
    assert changed.json()["category"] == "promoter"
    assert await Response.count() == 1
    assert await stored() == (9, None)
    await drain_answer_rules()
    assert await Cta.count() == 0  # the mis-tapped 3 raised nothing


async def test_a_score_changed_to_a_detractor_raises_the_cta_with_the_last_score(
    client: Any,
) -> None:
    await book()
    key, token = await scored(client, score=9)
    for score in (8, 2):
        change = {"display_token": token, "client_id": "client-0001", "score": score}
        assert (await call(client, key, "responses", change)).status_code == 200
    await drain_answer_rules()
    (cta,) = await Cta.select(Cta.type, Cta.detail)
    assert cta["type"] == "risk" and "answered 2" in cta["detail"]
    assert await stored() == (2, None)


async def test_another_client_cannot_change_an_answered_display(client: Any) -> None:
    key, token = await scored(client, score=3)
    other = {"display_token": token, "client_id": "client-0002", "score": 10}
    answer = await call(client, key, "responses", other)
    assert answer.status_code == 200
    assert answer.json()["category"] == "detractor"  # the answer that stands
    assert await stored() == (3, None)


async def test_a_score_change_after_the_window_is_refused(client: Any, later: Later) -> None:
    key, token = await scored(client, score=3)
    later(timedelta(hours=25))
    change = {"display_token": token, "client_id": "client-0001", "score": 9}
    answer = await call(client, key, "responses", change)
    assert refused_field(answer) == "display_token"
    assert await stored() == (3, None)
