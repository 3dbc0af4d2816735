"""The closing-the-loop page: its KPI tiles and table per CSM, pool or team, a CSM's scope,
the period, bad values named, and its CSV."""

from __future__ import annotations

import csv
import html
import io
from datetime import timedelta
from typing import Any

from feedback.accounts.models import Account
from feedback.ctas.actions import change_cta
from feedback.ctas.signals import Signal, raise_signal
from feedback.db import write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from tests.support.factories import book, import_csv
from tests.support.web import as_role

TRIGGER = {"kind": "response", "response_id": 1, "score": 2, "user": "u1"}


async def detractor_ctas() -> None:
    """Ann: a1 closed as resolved after a day, then answered 9; Bob: b1 open. 40 days ago."""
    await book()
    raised = utcnow() - timedelta(days=40)
    ids = {}
    for external_id in ("a1", "b1"):
        account = await Account.select(Account.id).where(Account.external_id == external_id).first()
        async with write_transaction():
            ids[external_id], _ = await raise_signal(
                Signal(account["id"], "risk", "Detractor answer", "", 2, None, TRIGGER), raised
            )
    closed = raised + timedelta(days=1)
    await change_cta(ids["a1"], "close", actor="ann", source="web", outcome="resolved", now=closed)
    later = (closed + timedelta(days=7)).isoformat()
    result = await import_csv(
        "responses", f"account_id,user_id,score,answered_at\na1,u9,9,{later}\n"
    )
    assert result.ok, result.errors


async def test_a_manager_sees_closure_and_recovery_per_csm(client: Any) -> None:
    await detractor_ctas()
    await as_role(client, Role.manager)
    page = await client.get("/reports/loop")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "Do we close the loop with detractors, and does it win them back?" in text
    assert "Detractor CTAs" in text and "Loop closed" in text and "Recovered detractors" in text
    assert "1 of 2" in text  # closed
    assert "1 of 1 that answered again" in text
    assert "24 h" in text  # the median time to close
    table = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "Ann" in table and "Bob" in table and "Resolved 1" in table

    team = html.unescape((await client.get("/reports/loop?group=team")).text)
    assert "Team of Boss" in team

    recent = html.unescape((await client.get("/reports/loop?period=30")).text)
    assert "No detractor answer raised a CTA in this period" in recent


async def test_a_csm_sees_their_own(client: Any) -> None:
    await detractor_ctas()
    await as_role(client, Role.csm, "bob@example.com")
    text = html.unescape((await client.get("/reports/loop")).text)
    table = text.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert "Bob" in table and "Ann" not in table
    assert "Your CTAs and accounts only." in text


async def test_a_bad_value_is_named_on_the_page(client: Any) -> None:
    await as_role(client, Role.admin)
    for query, field in (("group=planet", "group"), ("period=7", "period")):
        page = await client.get(f"/reports/loop?{query}")
        assert page.status_code == 422 and field in page.text


async def test_the_page_downloads_its_csv(client: Any) -> None:
    await detractor_ctas()
    await as_role(client, Role.admin)
    page = html.unescape((await client.get("/reports/loop?group=team")).text)
    assert 'href="/reports/loop.csv?group=team"' in page
    answer = await client.get("/reports/loop.csv?group=team")
    assert answer.status_code == 200
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [(r["group"], r["ctas"], r["closed"]) for r in rows] == [
        ("Team of Boss", "2", "1"),
        ("All", "2", "1"),
    ]
