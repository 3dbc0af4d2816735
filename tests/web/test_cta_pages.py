"""CSMs see and act on their CTAs in the web pages; admins tune rules and see the outbox."""

from __future__ import annotations

import html
import re
from typing import Any

from feedback.accounts.models import CSM, Account
from feedback.auth.services import create_staff_user
from feedback.ctas.models import Cta, CtaEvent
from feedback.ctas.signals import Signal, raise_signal
from feedback.db import write_transaction
from feedback.kernel.principal import Role
from tests.support.factories import bearer, book, token
from tests.support.web import PASSWORD, csrf_token, sign_in


async def staff(client: Any, email: str, role: Role, csm_email: str | None = None) -> None:
    csm = None
    if csm_email:
        csm = (await CSM.select(CSM.id).where(CSM.email == csm_email).first())["id"]
    await create_staff_user(email, role, PASSWORD, csm_id=csm)
    await sign_in(client, email)


async def raise_for(external_id: str, reason: str, comment: str = "") -> int:
    account = await Account.select(Account.id).where(Account.external_id == external_id).first()
    async with write_transaction():
        cta_id, _ = await raise_signal(
            Signal(
                account["id"],
                "risk",
                reason,
                "detail",
                2,
                None,
                {"kind": "response", "score": 3, "comment": comment, "user": "u1"},
            )
        )
    return cta_id


async def test_a_csm_sees_their_ctas_and_acts_on_one(client: Any) -> None:
    await book()
    mine = await raise_for("a1", "Detractor answer", "<script>alert(1)</script> slow")
    await raise_for("b1", "Bob's problem")
    await staff(client, "ann.staff@example.com", Role.csm, "ann@example.com")

    page = await client.get("/ctas/")
    assert page.status_code == 200
    assert "Detractor answer" in page.text and "Bob&#39;s problem" not in page.text
    assert "Bob's problem" not in html.unescape(page.text)

    detail = await client.get(f"/ctas/{mine}")
    assert detail.status_code == 200
    assert "<script>alert(1)</script>" not in detail.text
    assert "&lt;script&gt;" in detail.text

    token = await csrf_token(client, f"/ctas/{mine}")
    snoozed = await client.post(
        f"/ctas/{mine}",
        data={
            "_csrf_token": token,
            "action": "snooze",
            "snooze_days": "7",
            "reason": "on leave",
            "version": "1",
        },
    )
    assert snoozed.status_code == 303
    cta = await Cta.select(Cta.status, Cta.snooze_reason).where(Cta.id == mine).first()
    assert cta == {"status": "snoozed", "snooze_reason": "on leave"}
    event = await CtaEvent.select().where(CtaEvent.action == "snooze").first()
    assert event["source"] == "web" and event["actor"] == "ann.staff@example.com"

    stale = await client.post(
        f"/ctas/{mine}", data={"_csrf_token": token, "action": "acknowledge", "version": "1"}
    )
    followed = await client.get(stale.headers["location"])
    assert "changed since this was shown" in followed.text

    no_reason = await client.post(
        f"/ctas/{mine}", data={"_csrf_token": token, "action": "close", "version": "2"}
    )
    assert no_reason.status_code == 422 and "outcome" in no_reason.text

    other = await Cta.select(Cta.id).where(Cta.reason == "Bob's problem").first()
    assert (await client.get(f"/ctas/{other['id']}")).status_code == 404


async def test_a_manager_filters_by_team(client: Any) -> None:
    await book()
    await raise_for("a1", "Ann's")
    await raise_for("b1", "Bob's")
    await staff(client, "boss.staff@example.com", Role.manager)
    boss = await CSM.select(CSM.id).where(CSM.email == "boss@example.com").first()
    bob = await CSM.select(CSM.id).where(CSM.email == "bob@example.com").first()
    everyone = html.unescape((await client.get(f"/ctas/?team_of={boss['id']}")).text)
    assert "Ann's" in everyone and "Bob's" in everyone
    only_bob = html.unescape((await client.get(f"/ctas/?owner={bob['id']}")).text)
    assert "Bob's" in only_bob and "Ann's" not in only_bob
    bad = await client.get("/ctas/?owner=x")
    assert bad.status_code == 422 and "owner" in bad.text


async def test_an_admin_switches_a_rule_off_and_sees_the_outbox(client: Any) -> None:
    await book()
    await raise_for("a1", "Detractor answer")
    await staff(client, "admin@example.com", Role.admin)
    page = await client.get("/admin/cta-rules")
    assert page.status_code == 200 and "Going dark" in page.text
    token = await csrf_token(client, "/admin/cta-rules")
    form = {
        "_csrf_token": token,
        "detractor_risk.enabled": "on",
        "detractor_risk.due_days": "2",
        "going_dark.days": "45",
    }
    saved = await client.post("/admin/cta-rules", data=form)
    assert saved.status_code == 303
    rules = (await client.get("/admin/cta-rules")).text
    assert 'name="going_dark.days" value="45"' in rules
    bad = await client.post("/admin/cta-rules", data={**form, "going_dark.days": "-3"})
    assert bad.status_code == 422 and "going_dark.days" in bad.text

    outbox = await client.get("/admin/outbox")
    assert outbox.status_code == 200
    assert "unrouted" in outbox.text and "Risk: Acme" in outbox.text


async def test_rule_and_outbox_pages_are_for_admins_only(client: Any) -> None:
    await book()
    await staff(client, "ann.staff@example.com", Role.csm, "ann@example.com")
    assert (await client.get("/admin/cta-rules")).status_code == 403
    assert (await client.get("/admin/outbox")).status_code == 403


async def test_the_page_shows_only_notices_it_knows(client: Any) -> None:
    await book()
    mine = await raise_for("a1", "Detractor answer")
    await staff(client, "ann.staff@example.com", Role.csm, "ann@example.com")
    forged = await client.get(f"/ctas/{mine}", params={"done": "Your session expired, call +1-555"})
    assert forged.status_code == 200
    assert "session expired" not in forged.text and "+1-555" not in forged.text
    assert 'class="notice"' not in forged.text
    known = await client.get(f"/ctas/{mine}", params={"done": "unchanged"})
    assert "Nothing to do: the CTA is open." in known.text
    token = await csrf_token(client, f"/ctas/{mine}")
    acted = await client.post(
        f"/ctas/{mine}", data={"_csrf_token": token, "action": "acknowledge", "version": "1"}
    )
    assert acted.headers["location"].endswith("?done=acknowledge")
    assert "Acknowledged." in (await client.get(acted.headers["location"])).text


async def test_without_slack_the_outbox_shows_messages_as_unrouted(
    client: Any, monkeypatch: Any
) -> None:
    from feedback.outbox.models import Outbox
    from feedback.settings import get_settings
    from tests.support.slack import link_slack_users, slack_env

    await book()
    await link_slack_users()  # the owners have Slack ids, but Slack is not configured here
    await raise_for("a1", "Detractor answer")
    await raise_for("b1", "Bob's problem")
    await Account.update({Account.csm: None}).where(Account.external_id == "a2")
    await raise_for("a2", "Nobody's")  # no owner, no default channel: nowhere to go
    await staff(client, "admin@example.com", Role.admin)
    page = await client.get("/admin/outbox")
    assert page.status_code == 200
    assert "Slack is not configured" in page.text
    # as the legend says: without Slack every message is unrouted, none pending
    assert 'class="status-pending"' not in page.text and "<li>pending" not in page.text
    assert page.text.count('class="status-unrouted"') == 3
    assert re.search(
        r'kpi-label">Unrouted \(waiting for Slack to be configured\)</div>\s*'
        r'<div class="kpi-value">2</div>',
        page.text,
    )
    # sending one with nowhere to go again says why it cannot be, on the page
    token = await csrf_token(client, "/admin/outbox")
    nowhere = await Outbox.select(Outbox.id).where(Outbox.status == "unrouted").first()
    refused = await client.post(f"/admin/outbox/{nowhere['id']}/retry", data={"_csrf_token": token})
    assert refused.status_code == 409 and "still nowhere to send it" in refused.text
    # once Slack is configured the waiting ones show as pending, and the unrouted one can be
    # routed to the default channel
    for name, value in slack_env(
        "http://127.0.0.1:9/api/", FEEDBACK_SLACK_DEFAULT_CHANNEL="C-ALL"
    ).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        page = await client.get("/admin/outbox")
        assert page.text.count('class="status-pending"') == 2
        assert "Send every unrouted message again (1)" in page.text
        sent = await client.post(
            "/admin/outbox/retry", data={"_csrf_token": token, "status": "unrouted"}
        )
        assert sent.status_code == 303
        rows = await Outbox.select(Outbox.status, Outbox.channel).order_by(Outbox.id)
        assert [(r["status"], r["channel"]) for r in rows] == [
            ("pending", "C-ANN"),
            ("pending", "C-BOB"),
            ("pending", "C-ALL"),
        ]
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


async def test_a_health_alert_shows_the_health_score_out_of_100(client: Any) -> None:
    """A health alert's trigger holds a health score (0-100), not an NPS answer (0-10)."""
    await book()
    account = await Account.select(Account.id).where(Account.external_id == "a1").first()
    trigger = {"kind": "health", "score": 33, "band": "red", "week_ago": 61.4}
    async with write_transaction():
        alert, _ = await raise_signal(
            Signal(account["id"], "health_alert", "Health alert", "detail", 2, None, trigger)
        )
    await staff(client, "ann.staff@example.com", Role.csm, "ann@example.com")
    page = html.unescape((await client.get(f"/ctas/{alert}")).text)
    health = re.search(r'<dd class="health-score">(.*?)</dd>', page, re.S)
    assert health is not None
    text = re.sub(r"<[^>]+>", "", health.group(1))
    assert " ".join(text.split()) == "33 / 100 red band (61 a week before)"
    assert "/ 10<" not in page and "/ 10 " not in page


async def test_a_response_cta_shows_the_nps_answer_out_of_10(client: Any) -> None:
    """A detractor's CTA shows the answer on the NPS scale (0-10) and its category."""
    await book()
    account = await Account.select(Account.id).where(Account.external_id == "a1").first()
    trigger = {"kind": "response", "score": 3, "user": "u1"}
    async with write_transaction():
        cta, _ = await raise_signal(
            Signal(account["id"], "detractor", "Detractor answer", "detail", 2, None, trigger)
        )
    await staff(client, "ann.staff@example.com", Role.csm, "ann@example.com")
    page = html.unescape((await client.get(f"/ctas/{cta}")).text)
    answer = re.search(r'<dd class="nps-answer">(.*?)</dd>', page, re.S)
    assert answer is not None
    assert " ".join(re.sub(r"<[^>]+>", "", answer.group(1)).split()) == "3 / 10 detractor by u1"
    assert "/ 100" not in page


async def test_arr_is_shown_in_the_accounts_currency(client: Any) -> None:
    """Globex is billed in euros, Acme in dollars: each CTA's ARR carries its account's
    currency, in the list, on the CTA's page and in the API's JSON."""
    await book()
    await Account.update({Account.currency: "EUR"}).where(Account.external_id == "a2")
    euros = await raise_for("a2", "Globex detractor")
    dollars = await raise_for("a1", "Acme detractor")
    await staff(client, "ann.staff@example.com", Role.csm, "ann@example.com")
    listed = await client.get("/ctas/")
    assert listed.status_code == 200
    rows = {
        reason: row
        for row in listed.text.split("<tr")[1:]
        for reason in ("Globex detractor", "Acme detractor")
        if reason in row
    }
    assert '<td class="num nowrap">€9,000</td>' in rows["Globex detractor"]
    assert '<td class="num nowrap">$120,000</td>' in rows["Acme detractor"]
    page = await client.get(f"/ctas/{euros}")
    assert "<dt>ARR</dt><dd>€9,000</dd>" in page.text and "$9,000" not in page.text
    other = await client.get(f"/ctas/{dollars}")
    assert "<dt>ARR</dt><dd>$120,000</dd>" in other.text
    headers = bearer(await token(Role.analyst))
    body = (await client.get(f"/api/v1/ctas/{euros}", headers=headers)).json()
    assert (body["arr_cents"], body["currency"]) == (900_000, "EUR")
    listed_json = (await client.get("/api/v1/ctas", headers=headers)).json()
    assert {c["account_external_id"]: c["currency"] for c in listed_json} == {
        "a1": "USD",
        "a2": "EUR",
    }
