"""A user corrects a mis-tapped score (same display, same client, within the follow-up
window): the CTAs the rules raised for the earlier score follow the last one. Rules are
drained as the service's runner would within a second; nothing sleeps."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from devtools.slack_standin import SlackStandIn
from feedback.app import create_app
from feedback.ctas import rules
from feedback.ctas.actions import change_cta
from feedback.ctas.models import Cta, CtaEvent
from feedback.ctas.rule_settings import update_cta_rules
from feedback.ctas.rules import drain_answer_rules
from feedback.outbox.models import Outbox
from feedback.settings import Settings, get_settings
from tests.support.factories import ORIGIN, book, widget_setup
from tests.support.slack import link_slack_users, slack_deliverer, slack_env

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


class Answered:
    """A user's answer through the widget, which the same client may then change."""

    def __init__(self, client: httpx.AsyncClient, key: str, token: str, user: str) -> None:
        self.client, self.key, self.token, self.user = client, key, token, user

    async def _post(self, endpoint: str, body: dict[str, Any]) -> httpx.Response:
        return await self.client.post(
            f"/widget/v1/{self.key}/{endpoint}", content=json.dumps(body), headers=TEXT
        )

    async def score(self, score: int) -> None:
        body = {"display_token": self.token, "client_id": f"client-{self.user}-01", "score": score}
        sent = await self._post("responses", body)
        assert sent.status_code in (200, 201), sent.text
        await drain_answer_rules()  # what the service's rule runner does within a second

    async def comment(self, comment: str) -> None:
        sent = await self._post("comments", {"display_token": self.token, "comment": comment})
        assert sent.status_code == 200, sent.text
        await drain_answer_rules()


async def answered(
    client: httpx.AsyncClient, score: int, user: str = "u1", comment: str | None = None
) -> Answered:
    setup = await widget_setup()
    body = {"user_id": user, "account_id": "a1"}
    shown = await client.post(
        f"/widget/v1/{setup['key']}/eligibility", content=json.dumps(body), headers=TEXT
    )
    assert shown.json()["show"] is True, shown.text
    answer = Answered(client, setup["key"], shown.json()["display_token"], user)
    await answer.score(score)
    if comment is not None:
        await answer.comment(comment)
    return answer


async def ctas() -> list[dict[str, Any]]:
    return list(
        await Cta.select(
            Cta.id, Cta.type, Cta.status, Cta.detail, Cta.priority, Cta.close_reason
        ).order_by(Cta.id)
    )


async def history(cta_id: int) -> list[dict[str, Any]]:
    return list(
        await CtaEvent.select(
            CtaEvent.actor, CtaEvent.source, CtaEvent.action, CtaEvent.to_status, CtaEvent.note
        )
        .where(CtaEvent.cta == cta_id)
        .order_by(CtaEvent.id)
    )


async def test_a_detractor_who_corrects_0_to_10_closes_the_risk_cta(
    client: httpx.AsyncClient,
) -> None:
    await book()
    answer = await answered(client, 0)
    (risk,) = await ctas()
    assert risk["status"] == "open"
    await answer.score(10)
    (risk,) = await ctas()
    assert risk["status"] == "closed"
    assert risk["close_reason"] == "u1 changed their score from 0 to 10"
    last = (await history(risk["id"]))[-1]
    assert last == {
        "actor": "rule:detractor_risk",
        "source": "rule",
        "action": "close",
        "to_status": "closed",
        "note": "u1 changed their score from 0 to 10",
    }
    # the card's message is queued (the deliverer renders the CTA as it is: closed)
    assert await Outbox.count() == 1


async def test_a_correction_that_is_still_a_detractor_updates_the_same_cta(
    client: httpx.AsyncClient,
) -> None:
    await book()
    answer = await answered(client, 0)
    (before,) = await ctas()
    assert before["priority"] == 1  # a 0 on a large account
    await answer.score(4)
    (after,) = await ctas()
    assert (after["id"], after["status"]) == (before["id"], "open")
    assert after["detail"] == "u1 answered 4"
    assert after["priority"] == 2  # a 4 on a large account: no longer the harshest score
    last = (await history(after["id"]))[-1]
    assert (last["actor"], last["action"], last["to_status"]) == (
        "rule:detractor_risk",
        "score_changed",
        "open",
    )
    assert last["note"] == "u1 changed their score from 0 to 4"


async def test_a_cta_carrying_two_detractors_stays_open_when_one_corrects(
    client: httpx.AsyncClient,
) -> None:
    await book()
    first = await answered(client, 0, user="u1")
    await answered(client, 4, user="u2")
    (risk,) = await ctas()
    assert (risk["detail"], risk["priority"]) == ("u2 answered 4", 1)
    await first.score(10)
    (risk,) = await ctas()
    assert risk["status"] == "open"
    # what remains is u2's 4: its detail and its priority
    assert (risk["detail"], risk["priority"]) == ("u2 answered 4", 2)
    last = (await history(risk["id"]))[-1]
    assert (last["action"], last["to_status"]) == ("score_changed", "open")
    assert last["note"].startswith("u1 changed their score from 0 to 10")


async def test_the_last_of_two_detractors_to_correct_closes_the_cta(
    client: httpx.AsyncClient,
) -> None:
    await book()
    first = await answered(client, 0, user="u1")
    second = await answered(client, 4, user="u2")
    await first.score(10)
    await second.score(9)
    (risk,) = await ctas()
    assert risk["status"] == "closed"
    assert risk["close_reason"] == "u2 changed their score from 4 to 9"


async def test_a_cta_a_csm_acknowledged_or_closed_is_left_as_it_is(
    client: httpx.AsyncClient,
) -> None:
    await book()
    acknowledged = await answered(client, 0, user="u1")
    (risk,) = await ctas()
    await change_cta(risk["id"], "acknowledge", actor="ann@example.com", source="web")
    events = await history(risk["id"])
    await acknowledged.score(10)
    await acknowledged.score(3)
    (after,) = await ctas()
    assert after == {**risk, "status": "acknowledged"}
    assert await history(risk["id"]) == events

    await change_cta(
        risk["id"],
        "close",
        actor="ann@example.com",
        source="web",
        reason="called them",
        outcome="resolved",
    )
    closed = await ctas()
    events = await history(risk["id"])
    await acknowledged.score(10)
    assert await ctas() == closed
    assert await history(risk["id"]) == events


async def test_a_promoter_who_corrects_10_to_3_turns_advocacy_into_risk(
    client: httpx.AsyncClient,
) -> None:
    await book()
    answer = await answered(client, 10, comment="love it")
    (advocacy,) = await ctas()
    assert (advocacy["type"], advocacy["status"]) == ("advocacy", "open")
    await answer.score(3)
    advocacy, risk = await ctas()
    assert (advocacy["type"], advocacy["status"]) == ("advocacy", "closed")
    assert advocacy["close_reason"] == "u1 changed their score from 10 to 3"
    assert (risk["type"], risk["status"], risk["detail"]) == (
        "risk",
        "open",
        "u1 answered 3: love it",
    )
    (closing,) = [e for e in await history(advocacy["id"]) if e["action"] == "close"]
    assert closing["actor"] == "rule:promoter_advocacy"


async def test_a_cta_whose_rule_was_switched_off_is_left_as_it_is(
    client: httpx.AsyncClient,
) -> None:
    await book()
    answer = await answered(client, 0)
    before = await ctas()
    await update_cta_rules({"detractor_risk": {"enabled": False}}, "test", "api")
    await answer.score(4)
    assert await ctas() == before


async def test_first_answers_cost_no_look_up_of_the_ctas_they_might_have_changed(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The usual batch (first answers only) keeps to the statements that raise CTAs."""
    await book()

    async def never(accounts: list[int]) -> list[Any]:
        raise AssertionError(f"looked up the CTAs of {accounts}")

    monkeypatch.setattr(rules, "_answer_rule_ctas", never)
    await answered(client, 0, user="u1")
    await answered(client, 2, user="u2")
    (risk,) = await ctas()
    assert risk["detail"] == "u2 answered 2"


@pytest.fixture
def slack_settings(standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for name, value in slack_env(standin.api_url).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
async def slack_client(slack_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(slack_settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c


async def test_the_slack_card_of_a_risk_cta_shows_it_closed_by_the_changed_score(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, slack_settings: Settings
) -> None:
    await book()
    await link_slack_users()
    answer = await answered(slack_client, 0)
    sender = slack_deliverer(slack_settings)
    assert (await sender.deliver_once()).sent == 1
    ((channel, ts),) = standin.messages
    assert any(block["type"] == "actions" for block in standin.messages[channel, ts]["blocks"])
    await answer.score(10)
    assert (await sender.deliver_once()).sent == 1
    (update,) = standin.calls_to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == (channel, ts)
    blocks = standin.messages[channel, ts]["blocks"]
    assert "Closed: u1 changed their score from 0 to 10" in json.dumps(blocks)
    assert not any(block["type"] == "actions" for block in blocks)  # nothing left to act on
