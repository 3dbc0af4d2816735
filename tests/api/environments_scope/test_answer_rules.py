"""The CTA rules act on production answers only: a detractor on a staging key raises no CTA
and queues no Slack message, yet leaves the rules' queue; the time-driven rules count
production answers only."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from feedback.accounts.models import Account, EndUser
from feedback.ctas.models import Cta, CtaEvent, RulesQueue
from feedback.ctas.rule_settings import update_cta_rules
from feedback.ctas.rules import acted_on, drain_answer_rules, evaluate_rules
from feedback.kernel.clock import utcnow
from feedback.outbox.models import Outbox
from feedback.responses.models import Response
from tests.api.environments_scope.support import answer, book_and_staging_key, two_detractors


def test_the_rules_act_on_production_answers_only() -> None:
    assert acted_on({"environment": "production"})
    assert not acted_on({"environment": "staging"})
    assert not acted_on({"environment": "development"})


async def test_a_staging_detractor_raises_no_cta_and_no_slack_message(client: Any) -> None:
    answered = await two_detractors(client)
    assert await RulesQueue.count() >= 1
    await drain_answer_rules()
    assert await RulesQueue.count() == 0  # the staging answer left the queue too
    ctas = await Cta.select(Cta.id, Cta.account.external_id, Cta.type, Cta.detail)
    assert [(c["account.external_id"], c["type"]) for c in ctas] == [("a1", "risk")]
    assert "slow every morning" in ctas[0]["detail"]
    events = await CtaEvent.select(CtaEvent.data).where(CtaEvent.cta == ctas[0]["id"])
    carried = {e["data"].get("response_id") for e in events if isinstance(e["data"], dict)}
    assert answered.staging_response not in carried
    outbox = await Outbox.select(Outbox.kind, Outbox.cta)
    assert outbox and {row["cta"] for row in outbox} == {ctas[0]["id"]}


async def test_a_staging_detractor_queued_again_by_its_comment_raises_nothing(client: Any) -> None:
    key = await book_and_staging_key()
    await answer(client, key, "u3", "a2", 1, "broken on staging")
    await drain_answer_rules()
    await drain_answer_rules()
    assert await Cta.count() == 0
    assert await Outbox.count() == 0


async def test_a_staging_answer_does_not_stop_an_account_going_dark(client: Any) -> None:
    key = await book_and_staging_key()
    await answer(client, key, "u3", "a2", 9)
    await drain_answer_rules()
    now = utcnow()
    long_ago = now - timedelta(days=200)
    await Account.update({Account.created_at: long_ago}, force=True)
    # the widget saw u3 now: that is product activity, so it is moved back with the rest;
    # what remains is the staging answer given now
    await EndUser.update({EndUser.last_seen_at: long_ago}, force=True)
    rules = await update_cta_rules(
        {"health_alert": {"enabled": False}, "renewal_risk": {"enabled": False}}, "test", "test"
    )
    assert rules["going_dark"]["enabled"]
    await evaluate_rules(now)
    dark = await Cta.select(Cta.account.external_id).where(Cta.type == "going_dark")
    assert "a2" in {row["account.external_id"] for row in dark}


async def test_a_staging_detractor_does_not_put_a_renewal_at_risk(client: Any) -> None:
    key = await book_and_staging_key()
    await answer(client, key, "u1", "a1", 0)
    soon = (utcnow() + timedelta(days=20)).date()
    await Account.update({Account.renewal_date: soon}, force=True)
    await update_cta_rules(
        {"health_alert": {"enabled": False}, "going_dark": {"enabled": False}}, "test", "test"
    )
    await evaluate_rules(utcnow())
    assert await Cta.count().where(Cta.type == "renewal") == 0
    # the same answer in production does
    await Response.update({Response.environment: "production"}, force=True)
    await evaluate_rules(utcnow())
    assert await Cta.count().where(Cta.type == "renewal") == 1
