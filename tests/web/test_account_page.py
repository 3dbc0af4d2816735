"""The account page: the header, NPS per quarter, every answer, health in words, CTAs with
their history, programs and churn; a CSM reads only their own accounts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from feedback.accounts.models import ChurnEvent
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from tests.api.today.scenario import build
from tests.support.web import HOSTILE, as_role


async def test_a_csm_reads_their_account_page(client: Any) -> None:
    book = await build(utcnow())
    await as_role(client, Role.csm, "ann@example.com")
    page = await client.get("/accounts/a1")
    assert page.status_code == 200, page.text
    html = page.text
    assert "<h1>Acme</h1>" in html
    assert "$120,000" in html  # the ARR with its currency
    assert "Ann" in html
    assert "Exports keep failing" in html
    assert "(admin)" in html or ">admin<" in html  # the person's role
    assert f'href="/ctas/{book.cta["a1_risk"]}"' in html
    assert f'href="/ctas/{book.cta["a1_closed"]}"' in html  # closed ones too
    assert 'id="account-nps"' in html or "NPS by quarter" in html
    assert "This account is in no program" in html


async def test_another_csms_account_is_the_403_page(client: Any) -> None:
    await build(utcnow())
    await as_role(client, Role.csm, "ann@example.com")
    page = await client.get("/accounts/b1")
    assert page.status_code == 403
    assert "<h1>" in page.text


async def test_an_unknown_account_is_the_404_page(client: Any) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/accounts/nope")
    assert page.status_code == 404
    assert "<h1>" in page.text


async def test_a_bad_page_of_answers_is_a_422_naming_the_field(client: Any) -> None:
    await build(utcnow())
    await as_role(client, Role.analyst)
    page = await client.get("/accounts/a1?answers=7")
    assert page.status_code == 422
    assert "answers" in page.text


async def test_churn_and_a_pool_show_in_the_header(client: Any) -> None:
    book = await build(utcnow())
    await ChurnEvent(
        dedupe_key="c1-notice",
        account=book.account["c1"],
        kind="termination_notice",
        noticed_at=datetime(2026, 11, 1, tzinfo=UTC),
        reason=HOSTILE,
    ).save()
    await as_role(client, Role.admin)
    html = (await client.get("/accounts/c1")).text
    assert "Termination notice noticed 2026-11-01" in html
    assert HOSTILE not in html  # escaped
    pooled = (await client.get("/accounts/p1")).text
    assert "Specialists pool" in pooled or "nobody: no CSM" in pooled


async def test_answers_are_paged(client: Any) -> None:
    await build(utcnow())
    await as_role(client, Role.manager)
    first = await client.get("/accounts/a1")
    assert "Answers 1 to 3 of 3" in first.text
