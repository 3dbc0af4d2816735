"""Calls-to-Action: rules, one open CTA per account/type/reason, snoozes, the API, the
time-driven rules and the digest (without Slack: messages wait in the outbox)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedback.accounts.models import CSM, Account, EndUser
from feedback.ctas import rules
from feedback.ctas.actions import change_cta, wake_snoozed
from feedback.ctas.models import Cta, CtaEvent, RulesQueue
from feedback.ctas.rule_settings import update_cta_rules
from feedback.ctas.rules import (
    detractor_priority,
    drain_answer_rules,
    evaluate_rules,
    run_answer_rules,
)
from feedback.ctas.signals import Signal, raise_signal, raise_signal_groups
from feedback.db import write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from feedback.outbox.digests import enqueue_digests
from feedback.outbox.models import Outbox
from feedback.responses.models import Response
from feedback.settings import get_settings
from tests.support.factories import ORIGIN, bearer, book, import_csv, token, widget_setup
from tests.support.slack import link_slack_users, slack_env
from tests.support.waiting import eventually

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


async def answer(
    client: httpx.AsyncClient,
    score: int,
    comment: str | None = None,
    user: str = "u1",
    drain: bool = True,
) -> None:
    setup = await widget_setup()
    body = {"user_id": user, "account_id": "a1"}
    shown = await client.post(
        f"/widget/v1/{setup['key']}/eligibility", content=json.dumps(body), headers=TEXT
    )
    display = shown.json()["display_token"]
    scored = await client.post(
        f"/widget/v1/{setup['key']}/responses",
        content=json.dumps(
            {"display_token": display, "client_id": f"client-{user}-0001", "score": score}
        ),
        headers=TEXT,
    )
    assert scored.status_code == 201
    if comment is not None:
        await client.post(
            f"/widget/v1/{setup['key']}/comments",
            content=json.dumps({"display_token": display, "comment": comment}),
            headers=TEXT,
        )
    if drain:
        await drain_answer_rules()  # what the service's rule runner does within a second


async def account_id(external_id: str = "a1") -> int:
    row = await Account.select(Account.id).where(Account.external_id == external_id).first()
    return int(row["id"])


def signal(account: int, reason: str = "Kick-off", detail: str = "") -> Signal:
    return Signal(account, "onboarding", reason, detail, 3, None, {"kind": "test"})


@pytest.mark.parametrize(
    ("score", "comment", "expected"),
    [
        (0, None, ("risk", "Detractor answer")),
        (6, "slow", ("risk", "Detractor answer")),
        (7, "fine", None),
        (8, None, None),
        (9, None, None),  # a promoter without a comment: nothing to ask them about
        (10, "love it", ("advocacy", "Promoter with a comment")),
    ],
)
async def test_answers_raise_the_right_cta(
    client: httpx.AsyncClient, score: int, comment: str | None, expected: tuple[str, str] | None
) -> None:
    await book()
    await answer(client, score, comment)
    rows = await Cta.select(Cta.type, Cta.reason, Cta.status)
    if expected is None:
        assert rows == []
        assert await Outbox.count() == 0
    else:
        assert [(r["type"], r["reason"], r["status"]) for r in rows] == [(*expected, "open")]
        # no Slack configured here: the message waits as unrouted (no channel) for admins
        (message,) = await Outbox.select(Outbox.status)
        assert message["status"] == "unrouted"


def test_detractor_priority_from_score_and_arr() -> None:
    high = 10_000_000
    assert detractor_priority(0, 20_000_000, high) == 1
    assert detractor_priority(2, 100, high) == 2
    assert detractor_priority(6, 20_000_000, high) == 2
    assert detractor_priority(6, None, high) == 3


async def test_a_new_signal_updates_the_open_cta_instead_of_duplicating_it() -> None:
    await book()
    await link_slack_users()
    account = await account_id()
    async with write_transaction():
        first = await raise_signal(signal(account, detail="one"))
        again = await raise_signal(signal(account, detail="one"))
        second = await raise_signal(signal(account, detail="two"))
    assert first[1] == "created" and again == (first[0], "unchanged")
    assert second == (first[0], "updated")
    assert await Cta.count() == 1
    # one pending message per CTA and channel: it will show the latest state
    assert await Outbox.count() == 1
    change = await change_cta(first[0], "close", actor="ann", source="web", reason="done")
    assert change.changed
    async with write_transaction():
        reopened = await raise_signal(signal(account, detail="three"))
    assert reopened[1] == "created" and reopened[0] != first[0]


async def test_a_snoozed_cta_stays_quiet_until_its_snooze_ends() -> None:
    await book()
    await link_slack_users()
    account = await account_id()
    async with write_transaction():
        cta_id, _ = await raise_signal(signal(account, detail="one"))
    await Outbox.update({Outbox.status: "sent"}).where(Outbox.id > 0)
    now = utcnow()
    await change_cta(cta_id, "snooze", actor="ann", source="web", snooze_days=7, now=now)
    await Outbox.update({Outbox.status: "sent"}).where(Outbox.id > 0)
    async with write_transaction():
        what = await raise_signal(signal(account, detail="two"), now + timedelta(days=1))
    assert what == (cta_id, "snoozed")
    assert await Outbox.count().where(Outbox.status != "sent") == 0
    assert await wake_snoozed(now + timedelta(days=6)) == 0
    assert await wake_snoozed(now + timedelta(days=7, seconds=1)) == 1
    cta = await Cta.select(Cta.status).where(Cta.id == cta_id).first()
    assert cta["status"] == "open"
    assert await Outbox.count().where((Outbox.status != "sent") & (Outbox.kind == "cta")) == 1


ACTIONS = st.lists(
    st.sampled_from(["acknowledge", "snooze", "close", "reassign", "reopen"]), max_size=8
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS)
async def test_cta_state_machine_properties(actions: list[str]) -> None:
    """Whatever the sequence: a closed CTA never changes again, each real change bumps the
    version by one and writes one history row, and no-ops write nothing."""
    await Cta.delete(force=True)
    await CSM.delete(force=True)
    await import_csv("csms", "email,name\nx@example.com,X\ny@example.com,Y\n")
    await import_csv("accounts", "external_id,name,csm_email\nq1,Q,x@example.com\n")
    account = await account_id("q1")
    owners = [r["id"] for r in await CSM.select(CSM.id).order_by(CSM.id)]
    async with write_transaction():
        cta_id, _ = await raise_signal(signal(account))
    closed = False
    for index, action in enumerate(actions):
        before = await Cta.select(Cta.version, Cta.status).where(Cta.id == cta_id).first()
        events = await CtaEvent.count()
        change = await change_cta(
            cta_id,
            action,
            actor="t",
            source="api",
            snooze_days=1,
            reason="r",
            owner_id=owners[index % 2],
        )
        after = await Cta.select(Cta.version, Cta.status).where(Cta.id == cta_id).first()
        if closed and action != "reopen":
            assert not change.changed and after["status"] == "closed"
        if change.changed:
            assert after["version"] == before["version"] + 1
            assert await CtaEvent.count() == events + 1
        else:
            assert after == before and await CtaEvent.count() == events
        closed = after["status"] == "closed"


async def test_renewal_and_going_dark_rules(client: httpx.AsyncClient) -> None:
    await book()
    now = utcnow()
    soon = (now + timedelta(days=40)).date()
    await Account.update({Account.renewal_date: soon}).where(Account.external_id == "a1")
    await import_csv(
        "responses",
        "response_id,account_id,user_id,score,answered_at\n"
        f"r1,a1,u1,2,{(now - timedelta(days=30)).isoformat()}\n"
        f"r2,a1,u2,4,{(now - timedelta(days=20)).isoformat()}\n"
        f"r3,a2,u3,10,{(now - timedelta(days=200)).isoformat()}\n",
    )
    await Account.update({Account.created_at: now - timedelta(days=400)}).where(Account.id > 0)
    await EndUser.update({EndUser.last_seen_at: now - timedelta(days=1)}).where(
        EndUser.external_id == "u4"
    )
    created = await evaluate_rules(now)
    rows = await Cta.select(Cta.type, Cta.account.external_id, Cta.priority, Cta.due_on)
    found = {(r["type"], r["account.external_id"]) for r in rows}
    # a1 renews in 40 days with NPS -100; a2's last answer was 200 days ago and nobody uses it;
    # b1 has no answers but a user seen yesterday
    assert found == {("renewal", "a1"), ("going_dark", "a2")}
    assert created == 2
    assert await evaluate_rules(now) == 0  # idempotent
    assert await Cta.count() == 2


async def test_the_daily_digest_is_enqueued_once_per_csm_and_day(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await book()
    await link_slack_users()
    await answer(client, 1, "broken")
    from feedback.health.models import HealthSnapshot

    a2 = await account_id("a2")
    await HealthSnapshot.insert(
        HealthSnapshot(account=a2, day=utcnow().date(), score=28.0, band="red")
    )
    at = utcnow() + timedelta(minutes=1)
    await update_cta_rules({"daily_digest": {"hour_utc": at.hour}}, "test", "api")
    # without Slack no digest waits in the outbox (it would be stale by the time Slack is on)
    assert await enqueue_digests(at) == 0
    for name, value in slack_env("http://127.0.0.1:9/api/").items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert await enqueue_digests(at) == 1  # Ann: one CTA and a detractor; Bob: nothing
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert await enqueue_digests(at + timedelta(minutes=30)) == 0
    digest = await Outbox.select().where(Outbox.kind == "digest").output(load_json=True).first()
    assert digest["channel"] == "UANN"  # a direct message
    text = json.dumps(digest["payload"])
    assert "Detractor answer" in text and "broken" in text
    assert "red band" in text and "Globex: 28" in text
    # the next day, before the digest hour: nothing yet
    await update_cta_rules({"daily_digest": {"hour_utc": 8}}, "test", "api")
    early = (at + timedelta(days=1)).replace(hour=7)
    assert await enqueue_digests(early) == 0


# -- API ------------------------------------------------------------------------------------


async def test_the_cta_api_lists_reads_creates_and_acts(client: httpx.AsyncClient) -> None:
    await book()
    await answer(client, 2, "slow")
    ann = bearer(await token(Role.csm, "ann@example.com"))
    bob = bearer(await token(Role.csm, "bob@example.com"))
    listed = await client.get("/api/v1/ctas", headers=ann)
    assert listed.status_code == 200
    (cta,) = listed.json()
    assert cta["account_external_id"] == "a1" and cta["priority_label"] == "urgent"
    assert (await client.get("/api/v1/ctas", headers=bob)).json() == []
    assert (await client.get(f"/api/v1/ctas/{cta['id']}", headers=bob)).status_code == 404

    acted = await client.post(
        f"/api/v1/ctas/{cta['id']}/actions",
        json={"action": "snooze", "snooze_days": 7, "reason": "on holiday"},
        headers=ann,
    )
    assert acted.status_code == 200 and acted.json()["cta"]["status"] == "snoozed"
    detail = (await client.get(f"/api/v1/ctas/{cta['id']}", headers=ann)).json()
    # the score and the comment arrived before the rule runner ran: one CTA, created with both
    assert [h["action"] for h in detail["history"]] == ["created", "snooze"]
    assert detail["detail"] == "u1 answered 2: slow"
    assert detail["history"][-1]["source"] == "api"

    stale = await client.post(
        f"/api/v1/ctas/{cta['id']}/actions",
        json={"action": "acknowledge", "expected_version": 1},
        headers=ann,
    )
    assert stale.status_code == 200 and stale.json()["changed"] is False

    no_reason = await client.post(
        f"/api/v1/ctas/{cta['id']}/actions", json={"action": "close"}, headers=ann
    )
    assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["field"] == "outcome"
    bad = await client.post(
        f"/api/v1/ctas/{cta['id']}/actions", json={"action": "explode"}, headers=ann
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "action"

    made = await client.post(
        "/api/v1/ctas",
        json={"account": "a2", "type": "business_review", "reason": "QBR", "due_on": "2027-01-15"},
        headers=ann,
    )
    assert made.status_code == 201, made.text
    assert made.json()["cta"]["due_on"] == "2027-01-15"
    theirs = await client.post(
        "/api/v1/ctas", json={"account": "b1", "type": "risk", "reason": "x"}, headers=ann
    )
    assert theirs.status_code == 422 and theirs.json()["detail"][0]["field"] == "account"
    unknown_type = await client.post(
        "/api/v1/ctas", json={"account": "a2", "type": "party", "reason": "x"}, headers=ann
    )
    assert unknown_type.status_code == 422


async def test_admins_tune_rules_and_add_types(client: httpx.AsyncClient) -> None:
    await book()
    admin = bearer(await token(Role.admin))
    rules = (await client.get("/api/v1/cta-rules", headers=admin)).json()
    assert rules["detractor_risk"]["enabled"] is True and rules["going_dark"]["days"] == 60
    changed = await client.put(
        "/api/v1/cta-rules", json={"detractor_risk": {"enabled": False}}, headers=admin
    )
    assert changed.status_code == 200 and changed.json()["detractor_risk"]["enabled"] is False
    await answer(client, 0, "awful")
    assert await Cta.count() == 0  # switched off

    for body, field in [
        ({"detractor_risk": {"enabled": "no"}}, "detractor_risk.enabled"),
        ({"going_dark": {"days": -1}}, "going_dark.days"),
        ({"going_dark": {"colour": 1}}, "going_dark.colour"),
        ({"astrology": {}}, "astrology"),
        ({"default_owner": 999}, "default_owner"),
    ]:
        bad = await client.put("/api/v1/cta-rules", json=body, headers=admin)
        assert bad.status_code == 422, body
        assert bad.json()["detail"][0]["field"] == field

    added = await client.post(
        "/api/v1/cta-types", json={"key": "expansion", "label": "Expansion"}, headers=admin
    )
    assert added.status_code == 201
    again = await client.post(
        "/api/v1/cta-types", json={"key": "expansion", "label": "Expansion"}, headers=admin
    )
    assert again.status_code == 409
    types = (await client.get("/api/v1/cta-types", headers=admin)).json()
    assert types["expansion"] == "Expansion" and types["risk"] == "Risk"


async def test_the_default_owner_takes_accounts_without_a_csm(client: httpx.AsyncClient) -> None:
    await book()
    admin = bearer(await token(Role.admin))
    boss = await CSM.select(CSM.id).where(CSM.email == "boss@example.com").first()
    await Account.update({Account.csm: None}).where(Account.external_id == "a1")
    await client.put("/api/v1/cta-rules", json={"default_owner": boss["id"]}, headers=admin)
    await answer(client, 3)
    cta = await Cta.select(Cta.owner).first()
    assert cta["owner"] == boss["id"]


async def test_without_slack_the_outbox_shows_what_would_be_sent(
    client: httpx.AsyncClient,
) -> None:
    await book()
    await answer(client, 2, "Export <!here> broken")
    admin = bearer(await token(Role.admin))
    listed = await client.get("/api/v1/outbox", headers=admin)
    assert listed.status_code == 200
    (message,) = listed.json()
    assert message["status"] == "unrouted" and "no Slack channel" in message["last_error"]
    rendered = json.dumps(message["preview"]["blocks"])
    assert "Acme" in rendered and "&lt;!here&gt;" in rendered
    # the Slack endpoint says plainly that Slack is off
    off = await client.post("/slack/events", content="payload=%7B%7D")
    assert off.status_code == 404 and off.json()["detail"][0]["field"] == "FEEDBACK_SLACK_BOT_TOKEN"
    # nowhere to send it yet: a retry is refused with the reason
    retry = await client.post(f"/api/v1/outbox/{message['id']}/retry", headers=admin)
    assert retry.status_code == 409
    every = await client.post("/api/v1/outbox/retry?status=unrouted", headers=admin)
    assert every.status_code == 200 and every.json() == {
        "status": "unrouted",
        "queued": 0,
        "stayed": 1,
    }
    wrong = await client.post("/api/v1/outbox/retry?status=sent", headers=admin)
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["field"] == "status"


async def test_health_alerts_for_red_accounts_and_sharp_drops() -> None:
    from feedback.health.models import HealthSnapshot

    await book()
    now = utcnow()
    today = now.date()
    week_ago = today - timedelta(days=7)
    ids = {r["external_id"]: r["id"] for r in await Account.select(Account.id, Account.external_id)}
    rows = [
        ("a1", week_ago, 80.0, "green"),
        ("a1", today, 55.0, "yellow"),  # 25 points down in a week
        ("a2", week_ago, 35.0, "red"),
        ("a2", today, 30.0, "red"),  # red
        ("b1", week_ago, 75.0, "green"),
        ("b1", today, 70.0, "green"),  # fine
    ]
    for account, day, score, band in rows:
        await HealthSnapshot.insert(
            HealthSnapshot(account=ids[account], day=day, score=score, band=band)
        )
    await update_cta_rules(
        {"renewal_risk": {"enabled": False}, "going_dark": {"enabled": False}}, "test", "api"
    )
    assert await evaluate_rules(now) == 2
    alerts = await Cta.select(Cta.account.external_id, Cta.detail, Cta.priority).where(
        Cta.type == "health_alert"
    )
    by_account = {r["account.external_id"]: r for r in alerts}
    assert set(by_account) == {"a1", "a2"}
    assert "down 25 points in 7 days" in by_account["a1"]["detail"]
    assert "red band" in by_account["a2"]["detail"]
    assert await evaluate_rules(now) == 0  # the same signal again changes nothing


async def test_a_cta_shows_its_accounts_newest_health_whatever_the_day() -> None:
    """Each account's own newest snapshot (a2 has none on a1's latest day), not the book's
    latest day; an account without snapshots shows none."""
    from feedback.ctas.reads import list_ctas, load_cta
    from feedback.health.models import HealthSnapshot
    from feedback.kernel.principal import Principal, Role

    await book()
    today = utcnow().date()
    snapshots = [
        ("a1", today - timedelta(days=1), 80.0, "green"),
        ("a1", today, 41.0, "yellow"),
        ("a2", today - timedelta(days=3), 22.0, "red"),
    ]
    for external_id, day, score, band in snapshots:
        await HealthSnapshot.insert(
            HealthSnapshot(account=await account_id(external_id), day=day, score=score, band=band)
        )
    created = {}
    for external_id in ("a1", "a2", "b1"):
        async with write_transaction():
            cta_id, _ = await raise_signal(signal(await account_id(external_id)), utcnow())
        created[external_id] = cta_id
    admin = Principal(role=Role.admin, actor="test", source="api")
    shown = {cta.account_external_id: cta.health for cta in await list_ctas(admin)}
    assert shown == {"a1": "41 (yellow)", "a2": "22 (red)", "b1": None}
    one = await load_cta(created["a2"])
    assert one is not None and one.health == "22 (red)"


async def test_a_renewal_in_the_red_band_raises_a_renewal_cta() -> None:
    from feedback.health.models import HealthSnapshot

    await book()
    now = utcnow()
    await Account.update({Account.renewal_date: (now + timedelta(days=20)).date()}).where(
        Account.external_id == "a2"
    )
    await HealthSnapshot.insert(
        HealthSnapshot(account=await account_id("a2"), day=now.date(), score=31.0, band="red")
    )
    await update_cta_rules(
        {"going_dark": {"enabled": False}, "health_alert": {"enabled": False}}, "test", "api"
    )
    assert await evaluate_rules(now) == 1
    cta = await Cta.select(Cta.type, Cta.detail, Cta.priority).first()
    assert cta["type"] == "renewal" and cta["priority"] == 1  # within 30 days
    assert "health 31 in the red band" in cta["detail"]


async def test_the_rule_runner_raises_the_cta_of_an_answer_by_itself(
    client: httpx.AsyncClient,
) -> None:
    """The loop every serve and worker process runs: woken by the answer, no drain call."""
    await book()
    stop = asyncio.Event()
    runner = asyncio.create_task(run_answer_rules(stop))
    try:
        await asyncio.sleep(0)  # the runner starts and waits for work
        await answer(client, 3, drain=False)
        await eventually(lambda: Cta.count(), what="the runner's CTA")
        assert await Cta.count() == 1
        assert await RulesQueue.count() == 0
    finally:
        stop.set()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


async def test_an_answer_whose_rules_fail_waits_without_holding_back_the_others(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await book()
    for user in ("u1", "u2", "u3"):
        await answer(client, 2, user=user, drain=False)
    broken = (await Response.select(Response.id).order_by(Response.id).first())["id"]
    real = rules.signal_for

    def signal_for(answer: dict[str, Any], *args: Any) -> Any:
        if answer["id"] == broken:
            raise RuntimeError("a bug in a rule")
        return real(answer, *args)

    monkeypatch.setattr(rules, "signal_for", signal_for)
    before = utcnow()
    assert await drain_answer_rules() == 2
    waiting = await RulesQueue.select(RulesQueue.response, RulesQueue.due)
    assert [w["response"] for w in waiting] == [broken]
    assert waiting[0]["due"] >= before + timedelta(minutes=9)  # tried again later
    events = await CtaEvent.select(CtaEvent.data).output(load_json=True)
    assert sorted(e["data"]["user"] for e in events) == ["u2", "u3"]


@pytest.mark.postgres_only
async def test_two_runners_split_the_queue_and_act_on_every_answer_once(
    client: httpx.AsyncClient,
) -> None:
    await book()
    users = [f"user{n:02}" for n in range(30)]
    for user in users:
        await answer(client, 1, user=user, drain=False)
    handled = await asyncio.gather(
        *(rules.apply_answer_rules(limit=4) for _ in range(12)),
    )
    handled_more = await drain_answer_rules()
    assert sum(handled) + handled_more == len(users)
    events = await CtaEvent.select(CtaEvent.data).output(load_json=True)
    # one created and 29 signal events on the account's one open risk CTA: each answer once
    assert sorted(e["data"]["user"] for e in events) == users
    assert await Cta.count() == 1


async def test_a_burst_of_detractors_in_one_account_updates_its_cta_once(
    client: httpx.AsyncClient,
) -> None:
    """The rule runner takes them in one batch: one CTA showing the latest answer with the
    most urgent priority, every answer in its history, one message queued."""
    await book()
    for user, score in (("u1", 5), ("u2", 1), ("u3", 6)):
        await answer(client, score, user=user, drain=False)
    assert await drain_answer_rules() == 3
    (cta,) = await Cta.select(Cta.id, Cta.detail, Cta.priority, Cta.version)
    assert cta["detail"] == "u3 answered 6"
    assert cta["priority"] == 1  # u2's 1 on a large account: urgent, though u3 said 6
    history = await (
        CtaEvent.select(CtaEvent.action, CtaEvent.data).order_by(CtaEvent.id).output(load_json=True)
    )
    assert [(e["action"], e["data"]["user"]) for e in history] == [
        ("created", "u1"),
        ("signal", "u2"),
        ("signal", "u3"),
    ]
    assert await Outbox.count() == 1


async def _signal_scenario(now: Any) -> list[list[Signal]]:
    """CTAs in every state a batch of signals can meet, and the batch (sorted, as the
    runner sorts it): an open CTA, the same signal again, a snoozed CTA, a closed one, none
    at all, a message in another channel than the owner's, and an account without a CSM
    (the default owner's direct messages)."""
    a1, a2, b1 = [await account_id(x) for x in ("a1", "a2", "b1")]
    await Account.insert(Account(external_id="nocsm", name="Orphan")).on_conflict(
        action="DO NOTHING"
    )
    orphan = await account_id("nocsm")
    boss = await CSM.select(CSM.id).where(CSM.email == "boss@example.com").first()
    await update_cta_rules({"default_owner": boss["id"]}, actor="test", source="test")
    before = now - timedelta(hours=1)

    def at(account: int, reason: str, detail: str, priority: int = 3, n: int = 0) -> Signal:
        return Signal(
            account, "onboarding", reason, detail, priority, None, {"kind": "test", "n": n}
        )

    async with write_transaction():
        for account, reason, detail in [
            (a1, "open", "old"),
            (a1, "same", "same"),
            (a2, "closed", "old"),
            (a2, "snoozed", "old"),
            (b1, "moved", "old"),
        ]:
            await raise_signal(at(account, reason, detail), before)
    ids = {row["reason"]: row["id"] for row in await Cta.select(Cta.id, Cta.reason)}
    await change_cta(ids["closed"], "close", actor="ann", source="web", reason="done", now=before)
    await change_cta(ids["snoozed"], "snooze", actor="ann", source="web", snooze_days=7, now=before)
    # the "moved" CTA's card is in another channel; the "open" one's message was sent
    await Cta.update({Cta.slack_channel: "C-OLD", Cta.slack_ts: "1.2"}).where(
        Cta.id == ids["moved"]
    )
    await Outbox.update(
        {Outbox.channel: "C-OLD", Outbox.status: "sent", Outbox.slack_ts: "1.2"}
    ).where(Outbox.cta == ids["moved"])
    await Outbox.update({Outbox.status: "sent"}).where(Outbox.cta.is_in([ids["open"]]))
    return [
        [at(a1, "open", "one", 3, 1), at(a1, "open", "two", 2, 2)],
        [at(a1, "same", "same", 3, 3)],
        [at(a2, "closed", "new", 1, 4)],
        [at(a2, "fresh", "first", 3, 5), at(a2, "fresh", "second", 4, 6)],
        [at(a2, "snoozed", "quiet", 3, 7)],
        [at(b1, "moved", "new", 3, 8)],
        [at(orphan, "fresh", "nobody's", 2, 9)],
    ]


async def _cta_state() -> dict[str, Any]:
    """Every CTA, event and message, with ids replaced by (account, type, reason, nth)."""
    ctas = await Cta.select().order_by(Cta.id).output(load_json=True)
    names: dict[int, tuple[Any, ...]] = {}
    for cta in ctas:
        triple = (cta["account"], cta["type"], cta["reason"])
        names[cta["id"]] = (*triple, sum(name[:3] == triple for name in names.values()))
    events = await CtaEvent.select().order_by(CtaEvent.id).output(load_json=True)
    messages = await Outbox.select().order_by(Outbox.id).output(load_json=True)
    skip = {"id", "cta", "key", "created_at", "updated_at", "closed_at", "snoozed_until", "at"}
    return {
        "ctas": {names[c["id"]]: {k: v for k, v in c.items() if k not in skip} for c in ctas},
        "events": sorted(
            (names[e["cta"]], e["id"] > 0, *(str(e[k]) for k in sorted(e) if k not in skip))
            for e in events
        ),
        "messages": sorted(
            (
                names[m["cta"]],
                # a thread reply's key ends in a random part: one per reply, never reused
                re.sub(
                    r":[0-9a-f]{8}$",
                    "",
                    m["key"].replace(f"cta:{m['cta']}:", "").replace(f"thread:{m['cta']}:", ""),
                ),
                *(str(m[k]) for k in sorted(m) if k not in skip),
            )
            for m in messages
        ),
    }


@pytest.mark.postgres_only
async def test_a_batch_of_signals_ends_as_raising_them_one_by_one() -> None:
    """The answer rule runner's set-based statements (PostgreSQL) against `raise_signal`
    per group, from the same start: the same CTAs, history and messages."""
    await book()
    await link_slack_users()
    now = utcnow()
    groups = await _signal_scenario(now)
    async with write_transaction():
        outcomes = [await raise_signal(g[-1], now, earlier=g[:-1]) for g in groups]
    assert [what for _, what in outcomes] == [
        "updated", "unchanged", "created", "created", "snoozed", "updated", "created"
    ]  # fmt: skip
    one_by_one = await _cta_state()
    for table in (Outbox, CtaEvent, Cta):
        await table.delete(force=True)
    groups = await _signal_scenario(now)
    async with write_transaction():
        await raise_signal_groups(groups, now)
    together = await _cta_state()
    for part in ("ctas", "events", "messages"):
        assert together[part] == one_by_one[part]
    # and the scenario reached every case: a message in the old and the new channel, the
    # default owner's DMs, no message for the snoozed CTA or the same signal again
    # the cards (the people's actions in the scenario also queue their thread replies)
    messages = await Outbox.select(Outbox.cta.reason, Outbox.channel, Outbox.status).where(
        Outbox.kind == "cta"
    )
    pending = {(m["cta.reason"], m["channel"]) for m in messages if m["status"] == "pending"}
    assert {("moved", "C-OLD"), ("moved", "C-BOB"), ("fresh", "UBOSS")} <= pending
    assert [m["cta.reason"] for m in messages].count("same") == 1  # the first signal's
    assert [m["cta.reason"] for m in messages].count("snoozed") == 1
