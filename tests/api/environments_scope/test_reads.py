"""Health, Today, the account page, the daily digest and the programs' answer triggers count
the production answer and leave the staging one out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from feedback.accounts.models import EndUser
from feedback.ctas.rule_settings import update_cta_rules
from feedback.health.models import HealthSnapshot
from feedback.health.snapshot import compute_snapshot
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from feedback.outbox.digests import enqueue_digests
from feedback.outbox.models import Outbox
from feedback.programs.models import Participant
from feedback.programs.shipped import POOR_NPS
from feedback.programs.triggers import scan_triggers
from feedback.responses.models import Response
from feedback.runtime import use_slack_messages
from feedback.settings import get_settings
from tests.api.environments_scope.support import (
    PRODUCTION_COMMENT,
    STAGING_COMMENT,
    Answered,
    two_detractors,
)
from tests.support.factories import bearer, token
from tests.support.slack import link_slack_users, slack_env
from tests.support.web import signed_in_admin


@pytest.fixture
async def answered(client: Any) -> Answered:
    return await two_detractors(client)


async def snapshot_of(account: str) -> dict[str, Any]:
    row = (
        await HealthSnapshot.select()
        .where(HealthSnapshot.account.external_id == account)
        .output(load_json=True)
        .first()
    )
    assert row is not None
    return row


async def test_health_counts_the_production_answer_only(answered: Answered) -> None:
    await compute_snapshot(utcnow().date())
    a1, a2 = await snapshot_of("a1"), await snapshot_of("a2")
    assert a1["components"]["nps"] is not None
    assert a2["components"].get("nps") is None  # the staging 2 is no answer of a2's
    assert a1["components"]["coverage"] > 0
    assert not a2["components"].get("coverage")


async def test_today_lists_the_production_detractor_only(client: Any, answered: Answered) -> None:
    got = await client.get(
        "/api/v1/today", headers=bearer(await token(Role.csm, "ann@example.com"))
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["counts"]["new_detractors"] == 1
    assert [d["response_id"] for d in body["new_detractors"]] == [answered.production_response]


async def test_the_account_page_counts_production_and_says_what_it_left_out(
    client: Any, answered: Answered
) -> None:
    await signed_in_admin(client)
    a2 = await client.get("/accounts/a2")
    assert a2.status_code == 200, a2.text
    assert STAGING_COMMENT not in a2.text
    assert "1 answer on staging keys not counted" in a2.text
    a1 = await client.get("/accounts/a1")
    assert PRODUCTION_COMMENT in a1.text
    assert "not counted here" not in a1.text


@pytest.fixture
async def slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Slack configured (digests are only queued then) and its Block Kit installed."""
    await link_slack_users()
    for name, value in slack_env("http://127.0.0.1:9/api/").items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    use_slack_messages()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


async def test_the_digest_tells_of_the_production_detractor_only(
    answered: Answered, slack: None
) -> None:
    await update_cta_rules({"daily_digest": {"hour_utc": 0}}, "test", "test")
    assert await enqueue_digests(utcnow()) >= 1
    rows = await Outbox.select(Outbox.payload).where(Outbox.kind == "digest").output(load_json=True)
    text = " ".join(str(row["payload"]) for row in rows)
    assert "slow every morning" in text
    assert "Staging is slow" not in text


async def test_a_detractor_program_enrols_the_production_person_only(
    client: Any, answered: Answered
) -> None:
    headers = bearer(await token(Role.admin))
    created = await client.post("/api/v1/programs", json={**POOR_NPS, "name": "F"}, headers=headers)
    assert created.status_code == 201, created.text
    program = created.json()["id"]
    assert (await client.post(f"/api/v1/programs/{program}/enable", headers=headers)).is_success
    await scan_triggers(utcnow())
    people = {
        row["external_id"]
        for row in await EndUser.select(EndUser.external_id).where(
            EndUser.id.is_in(Participant.select(Participant.end_user))
        )
    }
    assert people == {"u1"}
    # the same answer in production would have enrolled its person
    await Response.update({Response.environment: "production"}, force=True)
    await scan_triggers(utcnow())
    assert await Participant.count() == 2
