"""The Today page: each role's scope, links to the account page, inline CTA actions that post
to the CTA routes with the version shown, and empty states that say what to do."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from feedback.accounts.models import Account
from feedback.auth.services import create_staff_user
from feedback.ctas.models import Cta
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from tests.api.today.scenario import build
from tests.support.web import PASSWORD, as_role, csrf_token, sign_in


async def as_linked_manager(client: Any, csm_id: int) -> None:
    """Signed in as a manager whose staff user is linked to their CSM record."""
    await create_staff_user("boss.user@example.com", Role.manager, PASSWORD, csm_id=csm_id)
    assert (await sign_in(client, "boss.user@example.com")).status_code == 303


async def test_a_csm_sees_their_day_with_links_and_actions(client: Any) -> None:
    book = await build(utcnow())
    await as_role(client, Role.csm, "ann@example.com")
    page = await client.get("/today")
    assert page.status_code == 200, page.text
    html = page.text
    assert "What needs me today?" in html
    assert 'href="/accounts/a1"' in html
    assert 'href="#overdue"' in html
    # Ann's overdue and due CTAs, with their versions for compare-and-set, never Carl's
    for name in ("a1_risk", "a2_renewal", "a1_onboarding"):
        assert f'action="/ctas/{book.cta[name]}"' in html
    assert f'action="/ctas/{book.cta["c1_risk"]}"' not in html
    assert 'name="next" value="/today"' in html
    assert 'name="version" value="1"' in html
    assert "Exports keep failing" in html
    # a CSM reassigns nothing and has no team table
    assert 'value="reassign"' not in html
    assert 'id="team"' not in html


async def test_a_manager_sees_owners_the_team_and_the_pool_with_claim(client: Any) -> None:
    book = await build(utcnow())
    await as_linked_manager(client, book.csm["boss"])
    html = (await client.get("/today")).text
    assert 'id="team"' in html
    assert re.search(r"owner <strong>Bob</strong>", html)
    assert f'action="/pools/claim/{book.cta["p1_pool"]}"' in html
    assert 'value="reassign"' in html
    assert f'action="/ctas/{book.cta["c1_risk"]}"' not in html  # Carl is not on Boss's team


async def test_acknowledging_from_today_changes_the_cta(client: Any) -> None:
    book = await build(utcnow())
    await as_role(client, Role.csm, "ann@example.com")
    token = await csrf_token(client, "/today")
    answer = await client.post(
        f"/ctas/{book.cta['a1_risk']}",
        data={"action": "acknowledge", "version": "1", "next": "/today", "_csrf_token": token},
    )
    assert answer.status_code == 303
    cta = await Cta.select(Cta.status).where(Cta.id == book.cta["a1_risk"]).first()
    assert cta["status"] == "acknowledged"


async def test_an_empty_day_says_what_to_do(client: Any) -> None:
    await as_role(client, Role.admin)
    html = (await client.get("/today")).text
    assert "Nothing overdue" in html
    assert "No health score has been computed yet" in html


async def test_an_analyst_is_refused_with_the_error_page(client: Any) -> None:
    await as_role(client, Role.analyst)
    page = await client.get("/today")
    assert page.status_code == 403
    assert "<h1>" in page.text


async def test_each_list_shows_ten_and_links_to_all_with_exact_counts(client: Any) -> None:
    book = await build(utcnow())
    today = utcnow().date()
    for i in range(14):
        account = Account(
            external_id=f"ren{i:02d}",
            name=f"Renews {i:02d}",
            csm=book.csm["ann"],
            renewal_date=today + timedelta(days=10 + i),
            arr_cents=100_00 * (i + 1),
        )
        await account.save()
        await Cta(
            type="risk",
            reason=f"late {i:02d}",
            priority=2,
            account=account.id,
            owner=book.csm["ann"],
            due_on=today - timedelta(days=3),
        ).save()
    await as_role(client, Role.csm, "ann@example.com")
    html = (await client.get("/today")).text
    renewals = await Account.count().where(
        (Account.csm == book.csm["ann"])
        & (Account.renewal_date >= today)
        & (Account.renewal_date <= today + timedelta(days=90))
        & (Account.status != "churned")
    )
    overdue = await Cta.count().where(
        (Cta.owner == book.csm["ann"]) & (Cta.due_on < today) & Cta.status.is_in(["open"])
    )
    assert renewals > 10 and overdue > 10
    # the counts count everything, each list shows ten and links to the rest
    assert re.search(rf'<div class="kpi-value"><a href="#renewals">{renewals}</a>', html)
    assert re.search(rf'<div class="kpi-value"><a href="#overdue">{overdue}</a>', html)
    assert f'<a href="/today/renewals">All {renewals} renewals in the next 90 days' in html
    assert f'<a href="/ctas/">All {overdue} overdue CTAs' in html
    section = html.split('id="overdue"', 1)[1].split("</section>", 1)[0]
    assert section.count('class="cta-row"') == 10
    # the whole list has them all, the soonest first
    full = (await client.get("/today/renewals")).text
    assert full.count('href="/accounts/ren') == 14
    assert full.index("Renews 00") < full.index("Renews 13")
    assert f"{renewals} accounts renew" in full


async def test_empty_sections_come_last_as_one_line_each(client: Any) -> None:
    await build(utcnow())
    await as_role(client, Role.csm, "dora@example.com")
    html = (await client.get("/today")).text
    # Dora, a pooled specialist, has pool items to claim and no accounts of her own: the
    # pool's table first, then one line for each empty section
    assert html.index('<h2 id="pool">') < html.index('id="clear"')
    assert "Unclaimed in your pools" in html
    quiet = html.split('id="clear"', 1)[1]
    for section in ("overdue", "renewals", "dark"):
        assert f'<li id="{section}">' in quiet
    assert "Nothing overdue" in quiet
