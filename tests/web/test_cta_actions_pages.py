"""The CTA pages' new actions: close with an outcome, snooze to a date, a new due date, a
note, reopen; coming back to a local `next` with the notice; account links; the outcome of a
closed CTA; the Claim button of a pool's unclaimed CTA."""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import Any

from feedback.accounts.models import CSM, Account
from feedback.auth.services import create_staff_user
from feedback.ctas.models import Cta, CtaEvent
from feedback.ctas.signals import Signal, raise_signal
from feedback.db import write_transaction
from feedback.kernel.principal import Role
from feedback.pools.models import Pool
from tests.support.factories import book
from tests.support.web import PASSWORD, as_role, csrf_token, sign_in

ANSWER = {"kind": "response", "response_id": 1, "score": 3, "comment": "slow", "user": "u1"}


async def raise_for(external_id: str, trigger: dict[str, Any] | None = None) -> int:
    account = await Account.select(Account.id).where(Account.external_id == external_id).first()
    async with write_transaction():
        cta_id, _ = await raise_signal(
            Signal(
                account["id"],
                "risk",
                "Detractor answer",
                "u1 answered 3",
                2,
                None,
                trigger or ANSWER,
            )
        )
    return cta_id


async def as_ann(client: Any) -> None:
    csm = await CSM.select(CSM.id).where(CSM.email == "ann@example.com").first()
    await create_staff_user("ann.staff@example.com", Role.csm, PASSWORD, csm_id=csm["id"])
    await sign_in(client, "ann.staff@example.com")


async def post(client: Any, cta_id: int, **fields: str) -> Any:
    token = await csrf_token(client, f"/ctas/{cta_id}")
    version = (await Cta.select(Cta.version).where(Cta.id == cta_id).first())["version"]
    data = {"_csrf_token": token, "version": str(version), **fields}
    return await client.post(f"/ctas/{cta_id}", data=data)


async def test_closing_an_answers_cta_asks_for_the_outcome_and_shows_it(client: Any) -> None:
    await book()
    cta_id = await raise_for("a1")
    await as_ann(client)
    page = await client.get(f"/ctas/{cta_id}")
    assert 'name="outcome"' in page.text and "how did the conversation end?" in page.text
    assert 'href="/accounts/a1"' in page.text

    refused = await post(client, cta_id, action="close", reason="called")
    assert refused.status_code == 422 and "outcome" in refused.text
    assert (await Cta.select(Cta.status).where(Cta.id == cta_id).first())["status"] == "open"

    closed = await post(client, cta_id, action="close", outcome="resolved", reason="fixed it")
    assert closed.status_code == 303 and closed.headers["location"] == f"/ctas/{cta_id}?done=close"
    shown = html.unescape((await client.get(closed.headers["location"])).text)
    assert "Closed." in shown and "Resolved" in shown and "fixed it" in shown
    assert "Reopen" in shown and 'name="outcome"' not in shown

    listed = html.unescape((await client.get("/ctas/?status=closed")).text)
    assert "resolved" in listed and 'href="/accounts/a1"' in listed

    reopened = await post(client, cta_id, action="reopen")
    assert reopened.headers["location"] == f"/ctas/{cta_id}?done=reopen"
    cta = await Cta.select(Cta.status, Cta.outcome).where(Cta.id == cta_id).first()
    assert cta == {"status": "open", "outcome": None}


async def test_snooze_to_a_date_due_date_and_note_from_the_page(client: Any) -> None:
    await book()
    cta_id = await raise_for("a1", {"kind": "manual"})
    await as_ann(client)
    page = await client.get(f"/ctas/{cta_id}")
    assert 'name="snooze_until"' in page.text and 'name="due_on"' in page.text

    no_reason = await post(client, cta_id, action="snooze", snooze_until="2099-01-01")
    assert no_reason.status_code == 422 and "snooze_until" in no_reason.text

    due = await post(client, cta_id, action="set_due", due_on="2099-01-01")
    assert due.status_code == 422 and "due_on" in due.text  # more than three years ahead

    cta = await Cta.select(Cta.due_on).where(Cta.id == cta_id).first()
    day = (date.today() + timedelta(days=10)).isoformat()
    moved = await post(client, cta_id, action="set_due", due_on=day)
    assert moved.headers["location"].endswith("done=set_due")
    noted = await post(client, cta_id, action="note", reason="left a voicemail")
    assert noted.headers["location"].endswith("done=note")
    snoozed = await post(client, cta_id, action="snooze", snooze_until=day, reason="on leave")
    assert snoozed.headers["location"].endswith("done=snooze")
    shown = html.unescape((await client.get(f"/ctas/{cta_id}")).text)
    assert f"due {day} (was {cta['due_on'].isoformat() if cta['due_on'] else 'none'})" in shown
    assert "left a voicemail" in shown and f"until {day}: on leave" in shown
    events = await CtaEvent.select(CtaEvent.action, CtaEvent.source).where(CtaEvent.cta == cta_id)
    assert [e["action"] for e in events][1:] == ["set_due", "note", "snooze"]
    assert {e["source"] for e in events[1:]} == {"web"}


async def test_a_form_comes_back_to_a_local_next_only(client: Any) -> None:
    await book()
    cta_id = await raise_for("a1")
    await as_ann(client)
    today = await post(client, cta_id, action="acknowledge", next="/today?view=mine")
    assert today.status_code == 303
    assert today.headers["location"] == "/today?view=mine&done=acknowledge"
    for hostile in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        away = await post(client, cta_id, action="note", reason="x", next=hostile)
        assert away.headers["location"] == f"/ctas/{cta_id}?done=note", hostile
    # a refusal shows the CTA page, whose forms still come back to the Today page
    refused = await post(client, cta_id, action="close", next="/today")
    assert refused.status_code == 422
    assert '<input type="hidden" name="next" value="/today">' in refused.text


async def test_a_pools_unclaimed_cta_has_a_claim_button(client: Any) -> None:
    await book()
    pool = Pool(name="Specialists")
    await pool.save()
    unclaimed = await raise_for("b1")
    await Cta.update({Cta.pool: pool.id, Cta.owner: None}).where(Cta.id == unclaimed)
    owned = await raise_for("a1")
    await as_role(client, Role.manager)
    listed = (await client.get("/ctas/")).text
    assert listed.count('action="/pools/claim/') == 1
    assert f'action="/pools/claim/{unclaimed}"' in listed and "Specialists" in listed
    detail = (await client.get(f"/ctas/{unclaimed}")).text
    assert f'action="/pools/claim/{unclaimed}"' in detail and "unclaimed" in detail
    assert 'action="/pools/claim/' not in (await client.get(f"/ctas/{owned}")).text


async def test_an_analyst_sees_no_forms(client: Any) -> None:
    await book()
    cta_id = await raise_for("a1")
    await as_role(client, Role.analyst)
    page = (await client.get(f"/ctas/{cta_id}")).text
    assert '<form method="post"' not in page.split("<main", 1)[1]
