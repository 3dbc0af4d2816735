"""The Slack bot over real HTTP: the service's /slack/events with signed requests, and the
outbox deliverer talking to a local stand-in of the Slack Web API (devtools/slack_standin.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.transport import make_client
from devtools.slack_standin import SlackStandIn
from feedback.accounts.models import CSM, Account
from feedback.ctas.models import Cta, CtaEvent
from feedback.ctas.rules import drain_answer_rules
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from feedback.outbox import queries
from feedback.outbox.delivery import Deliverer
from feedback.outbox.models import Outbox
from feedback.runtime import slack_deliverer
from feedback.settings import Settings
from tests.support.factories import ORIGIN, bearer, book, token, widget_setup
from tests.support.slack import (
    block_action,
    interaction,
    link_slack_users,
    signed,
    slash,
)
from tests.support.waiting import eventually

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}
HOSTILE = "Export is broken <!channel> <@U999> <https://evil.example|click here> & more"


# `settings` and `slack_client` come from this folder's conftest.py


def deliverer(settings: Settings, **options: Any) -> Deliverer:
    return slack_deliverer(settings, **{"backoff_seconds": 0.01, **options})


async def widget_answer(
    client: httpx.AsyncClient, score: int, comment: str | None = None, user: str = "u1"
) -> None:
    setup = await widget_setup()
    body = {"user_id": user, "account_id": "a1", "traits": {"role": "admin"}}
    shown = await client.post(
        f"/widget/v1/{setup['key']}/eligibility", content=json.dumps(body), headers=TEXT
    )
    display = shown.json()["display_token"]
    scored = await client.post(
        f"/widget/v1/{setup['key']}/responses",
        content=json.dumps(
            {"display_token": display, "client_id": f"client-{user}-1", "score": score}
        ),
        headers=TEXT,
    )
    assert scored.status_code == 201, scored.text
    if comment is not None:
        commented = await client.post(
            f"/widget/v1/{setup['key']}/comments",
            content=json.dumps({"display_token": display, "comment": comment}),
            headers=TEXT,
        )
        assert commented.status_code == 200, commented.text
    await drain_answer_rules()  # what the service's rule runner does within a second


async def post_signed(client: httpx.AsyncClient, body: str, **options: Any) -> httpx.Response:
    return await client.post("/slack/events", content=body, headers=signed(body, **options))


def texts(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


async def one_cta() -> dict[str, Any]:
    rows = await Cta.select()
    assert len(rows) == 1, rows
    return rows[0]


async def test_a_detractor_answer_reaches_its_csm_and_a_button_acknowledges_it(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2, HOSTILE)

    cta = await one_cta()
    ann = await CSM.select(CSM.id).where(CSM.email == "ann@example.com").first()
    assert (cta["type"], cta["status"], cta["owner"]) == ("risk", "open", ann["id"])
    # urgent: a harsh score (<= 3) on a large account (ARR 120,000 >= 100,000)
    assert cta["priority"] == 1
    assert await Outbox.count() == 1  # the comment updated the CTA before any send

    sent = await deliverer(settings).deliver_once()
    assert sent.sent == 1
    (post,) = standin.calls_to("chat.postMessage")
    assert post.args["channel"] == "C-ANN" and post.token == "xoxb-test-token"
    rendered = texts(post.args["blocks"])
    assert "Acme" in rendered and "2 / 10" in rendered and "$120,000" in rendered
    # user text cannot mention anyone or hide a link
    assert "<!channel>" not in rendered and "<@U999>" not in rendered
    assert "&lt;!channel&gt;" in rendered and "&lt;https://evil.example|click here&gt;" in rendered
    ts = post.args.get("ts") or next(iter(standin.messages))[1]
    stored = await one_cta()
    assert (stored["slack_channel"], stored["slack_ts"]) == ("C-ANN", ts)

    ack = block_action(
        "UANN",
        {"action_id": "cta_ack", "type": "button", "value": f"{cta['id']}:{stored['version']}"},
        ts=ts,
    )
    started = time.monotonic()
    answer = await post_signed(slack_client, interaction(ack))
    assert answer.status_code == 200, answer.text
    assert time.monotonic() - started < 3  # Slack's limit for an ack
    acknowledged = await one_cta()
    assert acknowledged["status"] == "acknowledged"
    event = await CtaEvent.select().where(CtaEvent.action == "acknowledge").first()
    assert event["source"] == "slack" and "UANN" in event["actor"]

    assert (await deliverer(settings).deliver_once()).sent == 1
    (update,) = standin.calls_to("chat.update")
    assert (update.args["channel"], update.args["ts"]) == ("C-ANN", ts)
    assert "acknowledged" in texts(standin.messages[("C-ANN", ts)]["blocks"])


async def test_a_double_click_changes_the_cta_once(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 5)
    cta = await one_cta()
    await deliverer(settings).deliver_once()
    body = interaction(
        block_action("UANN", {"action_id": "cta_ack", "type": "button", "value": f"{cta['id']}:1"})
    )
    answers = await asyncio.gather(*(post_signed(slack_client, body) for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert await CtaEvent.count().where(CtaEvent.action == "acknowledge") == 1
    notes = standin.calls_to("chat.postEphemeral")
    assert len(notes) == 2 and all(n.args["user"] == "UANN" for n in notes)


async def test_forged_and_stale_signatures_are_401(
    slack_client: httpx.AsyncClient, standin: SlackStandIn
) -> None:
    await book()
    body = slash("UANN", "help")
    forged = await slack_client.post(
        "/slack/events", content=body, headers=signed(body, secret="not-the-secret")
    )
    assert forged.status_code == 401
    stale = await post_signed(slack_client, body, timestamp=int(time.time()) - 10 * 60)
    assert stale.status_code == 401
    unsigned = await slack_client.post(
        "/slack/events",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401
    assert standin.calls == []


async def test_an_unknown_slack_user_is_refused(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 1)
    cta = await one_cta()
    body = interaction(
        block_action(
            "USTRANGER", {"action_id": "cta_ack", "type": "button", "value": f"{cta['id']}:1"}
        )
    )
    assert (await post_signed(slack_client, body)).status_code == 200
    assert (await one_cta())["status"] == "open"
    (note,) = standin.calls_to("chat.postEphemeral")
    assert note.args["user"] == "USTRANGER" and "not linked" in note.args["text"]
    # another CSM (not the owner, not a manager above them) is refused too
    body = interaction(
        block_action("UBOB", {"action_id": "cta_ack", "type": "button", "value": f"{cta['id']}:1"})
    )
    assert (await post_signed(slack_client, body)).status_code == 200
    assert (await one_cta())["status"] == "open"
    # their manager may act
    body = interaction(
        block_action("UBOSS", {"action_id": "cta_ack", "type": "button", "value": f"{cta['id']}:1"})
    )
    assert (await post_signed(slack_client, body)).status_code == 200
    assert (await one_cta())["status"] == "acknowledged"


async def test_snooze_reassign_and_close_from_slack(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 4, "meh")
    cta = await one_cta()
    await deliverer(settings).deliver_once()

    snooze = block_action(
        "UANN",
        {
            "action_id": "cta_snooze",
            "type": "static_select",
            "selected_option": {
                "value": f"{cta['id']}:{cta['version']}:7",
                "text": {"type": "plain_text"},
            },
        },
    )
    assert (await post_signed(slack_client, interaction(snooze))).status_code == 200
    snoozed = await one_cta()
    assert snoozed["status"] == "snoozed"
    until = snoozed["snoozed_until"] - utcnow()
    assert timedelta(days=6, hours=23) < until <= timedelta(days=7)

    reassign = block_action(
        "UANN",
        {"action_id": "cta_reassign", "type": "users_select", "selected_user": "UBOB"},
    )
    reassign["actions"][0]["block_id"] = f"cta:{cta['id']}"
    assert (await post_signed(slack_client, interaction(reassign))).status_code == 200
    bob = await CSM.select(CSM.id).where(CSM.email == "bob@example.com").first()
    assert (await one_cta())["owner"] == bob["id"]
    await deliverer(settings).deliver_once()
    # the new owner gets the CTA in their channel
    assert [c.args["channel"] for c in standin.calls_to("chat.postMessage")] == ["C-ANN", "C-BOB"]

    version = (await one_cta())["version"]
    close = block_action(
        "UBOB", {"action_id": "cta_close", "type": "button", "value": f"{cta['id']}:{version}"}
    )
    assert (await post_signed(slack_client, interaction(close))).status_code == 200
    (opened,) = standin.calls_to("views.open")
    view = opened.args["view"]
    assert view["callback_id"] == "cta_close_modal" and opened.args["trigger_id"] == "trigger-1"

    def submission(reason: str, outcome: str | None = None) -> str:
        chosen = {"selected_option": {"value": outcome}} if outcome else {}
        return interaction(
            {
                "type": "view_submission",
                "team": {"id": "T1"},
                "user": {"id": "UBOB", "team_id": "T1"},
                "api_app_id": "A1",
                "token": "legacy",
                "trigger_id": "trigger-3",
                "view": {
                    **view,
                    "id": "V1",
                    "state": {
                        "values": {
                            "reason": {"value": {"type": "plain_text_input", "value": reason}},
                            "outcome": {"value": {"type": "static_select", **chosen}},
                        }
                    },
                },
            }
        )

    # an answer raised it: closing it says how it ended
    empty = await post_signed(slack_client, submission("Called them"))
    assert empty.status_code == 200 and empty.json()["response_action"] == "errors"
    assert "outcome" in empty.json()["errors"]
    assert (await one_cta())["status"] == "snoozed"
    done = await post_signed(slack_client, submission("Called them; fixed the export", "resolved"))
    assert done.status_code == 200
    closed = await one_cta()
    assert closed["status"] == "closed" and closed["close_reason"].startswith("Called them")
    assert closed["outcome"] == "resolved"
    actions = [e["action"] for e in await CtaEvent.select().order_by(CtaEvent.id)]
    assert actions == ["created", "snooze", "reassign", "close"]  # score + comment: one signal


async def test_a_rate_limited_message_waits_retry_after(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 0)
    standin.fail("chat.postMessage", status=429, retry_after=1)
    stop = asyncio.Event()
    worker = asyncio.create_task(deliverer(settings).run(stop, idle_seconds=0.05))
    await eventually(lambda: standin.calls_to("chat.postMessage"), what="a post after the 429")
    stop.set()
    await worker
    limited, posted = standin.calls_to("chat.postMessage", ok_only=False)
    assert (limited.status, posted.status) == (429, 200)
    assert posted.at - limited.at >= 0.95  # waited Retry-After
    row = await Outbox.select().first()
    assert row["status"] == "sent" and row["attempts"] == 1


async def test_repeated_server_errors_back_off_up_to_a_cap_then_die_visibly(
    slack_client: httpx.AsyncClient,
    standin: SlackStandIn,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 3)
    standin.fail("chat.postMessage", status=500, times=10_000)
    # a two-hour horizon (FEEDBACK_SLACK_RETRY_HOURS=2) keeps the loop short
    settings = dataclasses.replace(
        settings, slack=dataclasses.replace(settings.slack, retry_hours=2)
    )
    sender = deliverer(settings, backoff_seconds=2.0, max_backoff_seconds=300.0)
    start = now = utcnow()
    delays = []
    while now - start < timedelta(hours=settings.slack.retry_hours + 1):
        outcome = await sender.deliver_once(now)
        row = await Outbox.select().first()
        if row["status"] == "dead":
            break
        assert outcome.retried == 1
        delays.append((row["next_attempt_at"] - now).total_seconds())
        now = row["next_attempt_at"] + timedelta(milliseconds=1)
    row = await Outbox.select().first()
    # dead only once it kept failing for FEEDBACK_SLACK_RETRY_HOURS, not after 8 attempts
    assert row["status"] == "dead" and row["attempts"] > 20
    assert now - start >= timedelta(hours=settings.slack.retry_hours)
    assert "internal_error" in row["last_error"] and "failing for over 2 h" in row["last_error"]
    # exponential at first (each wait about twice the one before, with +-20 % jitter), then
    # capped at five minutes
    assert all(later > earlier * 1.3 for earlier, later in itertools.pairwise(delays[:6]))
    assert max(delays) <= 300 * 1.2 and min(delays[-10:]) >= 300 * 0.8
    admin = await token(Role.admin)
    listed = await slack_client.get("/api/v1/outbox?status=dead", headers=bearer(admin))
    assert listed.status_code == 200
    (dead,) = listed.json()
    assert "internal_error" in dead["last_error"] and dead["preview"]["blocks"]
    # an admin sends it again once Slack is healthy
    standin.faults.clear()
    retried = await slack_client.post(f"/api/v1/outbox/{dead['id']}/retry", headers=bearer(admin))
    assert retried.status_code == 200, retried.text
    assert (await sender.deliver_once(now + timedelta(seconds=1))).sent == 1


async def test_a_time_out_is_retried(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 3)
    standin.fail("chat.postMessage", delay=2.0, status=200)
    sender = deliverer(settings, client=make_client(settings, timeout=1))
    assert (await sender.deliver_once()).retried == 1
    row = await Outbox.select().first()
    assert row["status"] == "pending" and "Timeout" in row["last_error"]
    await asyncio.sleep(0.05)
    assert (await sender.deliver_once()).sent == 1


async def test_a_worker_killed_after_claiming_loses_nothing(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 3)
    now = utcnow()
    doomed = deliverer(settings, worker_id="doomed", lease_seconds=60)
    claimed = await doomed.claim(now)  # ...and the process dies before sending
    assert len(claimed) == 1
    survivor = deliverer(settings, worker_id="survivor", lease_seconds=60)
    assert (await survivor.deliver_once(now + timedelta(seconds=1))).sent == 0  # leased
    assert (await survivor.deliver_once(now + timedelta(seconds=61))).sent == 1
    assert len(standin.calls_to("chat.postMessage")) == 1


async def test_two_workers_never_send_the_same_message_twice(
    client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    from feedback.ctas.signals import Signal, raise_signal
    from feedback.db import write_transaction
    from tests.support.factories import import_csv

    await book()
    await link_slack_users()
    rows = "\n".join(f"x{i},Account {i},bob@example.com" for i in range(60))
    await import_csv("accounts", "external_id,name,csm_email\n" + rows)
    channels = [f"C-{i % 6}" for i in range(60)]
    from feedback.accounts.models import Account

    accounts = await Account.select(Account.id).where(Account.external_id.like("x%"))
    async with write_transaction():
        for account in accounts:
            await raise_signal(
                Signal(account["id"], "onboarding", "Kick-off", "", 3, None, {"kind": "test"})
            )
    for index, row in enumerate(await Outbox.select(Outbox.id).order_by(Outbox.id)):
        await Outbox.update({Outbox.channel: channels[index]}).where(Outbox.id == row["id"])

    async def drain(worker: Deliverer) -> None:
        for _ in range(200):
            await worker.deliver_once()
            if not await Outbox.exists().where(Outbox.status != "sent"):
                return

    await asyncio.gather(
        drain(deliverer(settings, worker_id="one")), drain(deliverer(settings, worker_id="two"))
    )
    posts = standin.calls_to("chat.postMessage")
    assert len(posts) == 60
    assert await Outbox.count().where(Outbox.status == "sent") == 60
    senders = {r["claimed_by"] for r in await Outbox.select(Outbox.claimed_by)}
    assert senders <= {"one", "two"}


async def test_the_nps_command(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2, "slow", user="u1")
    await widget_answer(slack_client, 10, "great", user="u2")

    from feedback.health.models import HealthSnapshot

    a1 = (await Account.select(Account.id).where(Account.external_id == "a1").first())["id"]
    today = utcnow().date()
    for back, score in enumerate([62.0, 60, 61, 63, 65, 70, 72, 75]):
        band = "yellow" if score < 70 else "green"
        day = today - timedelta(days=back)
        await HealthSnapshot.insert(HealthSnapshot(account=a1, day=day, score=score, band=band))

    helped = await post_signed(slack_client, slash("UANN", "help"))
    assert helped.status_code == 200 and "/nps mine" in helped.text
    summary = await post_signed(slack_client, slash("UANN", "a1"))
    body = summary.json()
    assert body["response_type"] == "ephemeral"
    rendered = texts(body["blocks"])
    assert "Acme (a1)" in rendered and "great" in rendered
    assert "2 answers (too few for a score)" in rendered  # counts only under 5
    assert "Detractor answer" in rendered  # its open CTA
    assert "*Health:* 62 (yellow)" in rendered and "-13 in 7 days" in rendered
    # the CTA's own message shows the account's health too
    from feedback.ctas.reads import load_cta

    cta = await load_cta((await Cta.select(Cta.id).where(Cta.type == "risk").first())["id"])
    assert cta is not None and cta.health == "62 (yellow)"
    from bot.blocks import cta_blocks

    assert "*Health*\\n62 (yellow)" in texts(cta_blocks(cta, "https://x", "Risk")[1])
    by_name = await post_signed(slack_client, slash("UANN", "Glob"))
    assert "Globex (a2)" in texts(by_name.json()["blocks"])
    mine = await post_signed(slack_client, slash("UANN", "mine"))
    assert "Detractor answer" in texts(mine.json()["blocks"])
    # Bob's account is not Ann's
    other = await post_signed(slack_client, slash("UANN", "b1"))
    assert "among yours" in other.text
    segment = await post_signed(slack_client, slash("UANN", "segment plan"))
    assert "premium" in texts(segment.json()["blocks"])
    refused = await post_signed(slack_client, slash("USTRANGER", "mine"))
    assert "not linked" in refused.text


async def test_the_app_home_lists_open_ctas_once_per_event(
    slack_client: httpx.AsyncClient, standin: SlackStandIn
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2)
    event = {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": "Ev1",
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": "UANN", "channel": "D1", "tab": "home"},
    }
    body = json.dumps(event)
    headers = {**signed(body), "content-type": "application/json"}
    first = await slack_client.post("/slack/events", content=body, headers=headers)
    retry = await slack_client.post(
        "/slack/events", content=body, headers={**headers, "x-slack-retry-num": "1"}
    )
    assert (first.status_code, retry.status_code) == (200, 200)
    (published,) = standin.calls_to("views.publish")
    assert published.args["user_id"] == "UANN"
    # the Home is the person's Today: the detractor who just answered is a new one
    shown = texts(published.args["view"]["blocks"])
    assert "New detractors (1)" in shown and "*2/10*" in shown


async def test_url_verification_challenge(slack_client: httpx.AsyncClient) -> None:
    body = json.dumps({"type": "url_verification", "challenge": "abc123", "token": "t"})
    answer = await slack_client.post(
        "/slack/events",
        content=body,
        headers={**signed(body), "content-type": "application/json"},
    )
    assert answer.status_code == 200 and "abc123" in answer.text


async def test_a_post_slack_took_is_recorded_once_the_database_is_back(
    slack_client: httpx.AsyncClient,
    standin: SlackStandIn,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The database went away just after Slack took the post: recording it is tried again,
    instead of failing the send, which would post it a second time after the lease."""
    import asyncpg

    await book()
    await link_slack_users()
    await widget_answer(slack_client, 3)
    real = queries.MARK_SENT
    failures = {"left": 3}

    class Flaky:
        async def run(self, *args: Any) -> None:
            if failures["left"]:
                failures["left"] -= 1
                raise asyncpg.CannotConnectNowError("the database system is starting up")
            await real.run(*args)

    async def no_wait(seconds: float) -> None:
        pass

    monkeypatch.setattr(queries, "MARK_SENT", Flaky())
    assert (await deliverer(settings, sleep=no_wait).deliver_once()).sent == 1
    assert failures["left"] == 0
    assert len(standin.calls_to("chat.postMessage")) == 1
    (row,) = await Outbox.select(Outbox.status, Outbox.slack_ts)
    assert row["status"] == "sent" and row["slack_ts"]


async def test_nps_segment_covers_every_dimension_of_the_report(
    slack_client: httpx.AsyncClient, settings: Settings
) -> None:
    from tests.support.factories import import_csv

    await book()
    await link_slack_users()
    await Account.update({Account.traits: {"region": "emea"}}).where(Account.external_id == "a1")
    await Account.update({Account.traits: {"region": "amer"}}).where(Account.external_id == "a2")
    now = utcnow()
    newest, middle, oldest = (now - timedelta(days=d) for d in (5, 100, 200))
    answers = [(f"n{i:02d}", "a1", f"ua{i:02d}", 9, newest) for i in range(20)]
    answers += [(f"o{i}", "a1", "u1", 3, oldest) for i in range(3)]
    answers += [("m1", "a2", "u3", 8, middle)]
    answers += [(f"b{i}", "b1", "u4", 10, newest) for i in range(4)]  # Bob's account
    rows = "".join(f"{r},{a},{u},{s},{t.isoformat()}\n" for r, a, u, s, t in answers)
    result = await import_csv(
        "responses", "response_id,account_id,user_id,score,answered_at\n" + rows
    )
    assert result.ok, result.errors

    async def segment(user: str, dimension: str) -> tuple[str, str]:
        answer = await post_signed(slack_client, slash(user, f"segment {dimension}"))
        assert answer.status_code == 200, answer.text
        blocks = answer.json()["blocks"]
        return blocks[0]["text"]["text"], blocks[-1]["text"]["text"]

    # by user: the 15 with the most answers of Ann's 22 users; u1 (three answers) first
    title, body = await segment("UANN", "user")
    assert title == "NPS by user, last 12 months: top 15 of 22 by answers"
    lines = body.splitlines()
    assert len(lines) == 15 and lines[0].startswith("• u1: 3 answers")
    assert "u4" not in body  # Bob's
    # by account: Ann's two, the larger first; a manager sees Bob's too
    title, body = await segment("UANN", "account")
    assert title == "NPS by account, last 12 months"
    assert [line.split(":")[0] for line in body.splitlines()] == ["• a1", "• a2"]
    assert "*74*" in body.splitlines()[0]  # 20 promoters, 3 detractors of 23: NPS 73.9
    # (a manager because his staff sign-in is one, not because Ann and Bob report to him)
    from feedback.auth.services import create_staff_user

    await create_staff_user("boss@example.com", Role.manager, "a long enough password 1")
    _, body = await segment("UBOSS", "account")
    assert "• b1" in body
    # by manager: the manager of the CSM at answer time
    _, body = await segment("UANN", "manager")
    assert body.startswith("• boss@example.com: *")
    # by quarter: in order of time, not of size
    title, body = await segment("UANN", "quarter")
    quarters = [f"{t.year}-Q{(t.month + 2) // 3}" for t in (oldest, middle, newest)]
    assert [line.split(":")[0] for line in body.splitlines()] == [f"• {q}" for q in quarters]
    # by a custom trait, as it was when they answered
    title, body = await segment("UANN", "trait:region")
    assert title == "NPS by trait:region, last 12 months"
    assert [line.split(":")[0] for line in body.splitlines()] == ["• emea", "• amer"]
    title, body = await segment("UANN", "trait:a$b")
    assert "a trait name is 1 to 100 letters" in body
    _, body = await segment("UANN", "shoe_size")
    assert body == (
        "Segments: plan, role, industry, company_size, csm, manager, quarter, account, user "
        "or trait:NAME"
    )
    helped = await post_signed(slack_client, slash("UANN", "help"))
    assert "trait:NAME" in helped.text and "quarter" in helped.text


async def test_a_ctas_next_version_waits_for_its_first_post_and_updates_it(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    """Two workers: one is posting a new CTA when a second detractor updates it. The other
    worker does not send the update meanwhile (it would find no message to update and post
    the CTA a second time); once the post is recorded, it updates that message."""
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2, user="u1")
    first = deliverer(settings)
    (posting,) = await first.claim()  # its post is on the way
    await widget_answer(slack_client, 1, user="u2")
    assert await Outbox.count().where(Outbox.status == "pending") == 1  # the next version
    second = deliverer(settings)
    assert (await second.deliver_once()).sent == 0
    assert await first.send(posting, utcnow()) == "sent"
    assert (await second.deliver_once()).sent == 1
    (post,) = standin.calls_to("chat.postMessage")
    (update,) = standin.calls_to("chat.update")
    assert update.args["ts"] == (await one_cta())["slack_ts"]
    assert post.args["channel"] == update.args["channel"] == "C-ANN"
