"""A pooled specialist sees every CTA of their pools, claimed or not (list, detail, API and
pages), claims an unclaimed one and then acts on it; nobody outside the pool sees it."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest

from feedback.auth.services import create_staff_user
from feedback.ctas.access import cta_scope, may_act, may_change
from feedback.ctas.reads import get_changeable_cta, list_ctas, load_cta
from feedback.kernel.errors import Forbidden, NotFound
from feedback.kernel.principal import Principal, Role
from feedback.pools.claims import claim_cta
from feedback.pools.services import create_pool
from tests.api.pools.helpers import csm_id, pooled_book, raise_cta
from tests.support.factories import bearer, import_csv, token
from tests.support.web import PASSWORD, csrf_token, sign_in

MONDAY = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def specialist(email: str) -> Principal:
    return Principal(role=Role.csm, actor=email, source="test", csm_id=await csm_id(email))


async def other_pool() -> None:
    """A second pool (Lee) serving the enterprise plan, with its own unclaimed CTA on p3."""
    result = await import_csv("csms", "email,name\nlee@example.com,Lee Other\n")
    assert result.ok, result.errors
    await create_pool(
        {"name": "Enterprise pool", "rule": "round_robin", "audience": {"plan": ["enterprise"]}},
        ["lee@example.com"],
        actor="test",
        source="test",
    )


async def test_a_specialist_lists_their_pools_ctas_claimed_or_not_and_no_others() -> None:
    await pooled_book()
    await other_pool()
    p1 = await raise_cta("p1", now=MONDAY)
    p2 = await raise_cta("p2", now=MONDAY)
    p3 = await raise_cta("p3", now=MONDAY)  # the enterprise pool's
    a1 = await raise_cta("a1", now=MONDAY)  # Ann's dedicated account
    pat = await csm_id("pat@example.com")
    assert (await claim_cta(p2, pat, actor="pat", source="test")).changed

    sam = await specialist("sam@example.com")
    assert {cta.id for cta in await list_ctas(sam)} == {p1, p2}
    assert {cta.id for cta in await list_ctas(await specialist("lee@example.com"))} == {p3}
    assert {cta.id for cta in await list_ctas(await specialist("ann@example.com"))} == {a1}
    # the other filters still narrow the pool's CTAs
    assert [cta.id for cta in await list_ctas(sam, owner_ids={pat})] == [p2]
    scope = await cta_scope(sam)
    assert scope is not None and len(scope.pool_ids) == 1


async def test_an_inactive_specialist_no_longer_sees_the_pool() -> None:
    from feedback.accounts.models import CSM

    await pooled_book()
    p1 = await raise_cta("p1", now=MONDAY)
    sam = await specialist("sam@example.com")
    assert [cta.id for cta in await list_ctas(sam)] == [p1]
    await CSM.update({CSM.active: False}).where(CSM.id == sam.csm_id)
    assert await list_ctas(sam) == []


async def test_a_specialist_changes_a_pool_cta_only_once_they_own_it() -> None:
    await pooled_book()
    p1 = await raise_cta("p1", now=MONDAY)
    sam, pat = await specialist("sam@example.com"), await specialist("pat@example.com")
    with pytest.raises(Forbidden) as refused:
        await get_changeable_cta(sam, p1)
    assert refused.value.field == "cta" and "claim it first" in refused.value.message
    with pytest.raises(NotFound):
        await get_changeable_cta(await specialist("ann@example.com"), p1)

    assert sam.csm_id is not None
    assert (await claim_cta(p1, sam.csm_id, actor="sam", source="test")).changed
    assert (await get_changeable_cta(sam, p1)).owner_id == sam.csm_id
    with pytest.raises(Forbidden) as theirs:
        await get_changeable_cta(pat, p1)  # Pat still sees it, but it is Sam's now
    assert "Sam Specialist has claimed it" in theirs.value.message
    manager = Principal(role=Role.manager, actor="boss", source="test")
    cta = await load_cta(p1)
    assert cta is not None and may_change(manager, cta)


async def test_in_slack_only_the_pools_manager_acts_on_an_unclaimed_pool_cta() -> None:
    await pooled_book()
    p1 = await raise_cta("p1", now=MONDAY)
    cta = await load_cta(p1)
    assert cta is not None
    sam, pat = await csm_id("sam@example.com"), await csm_id("pat@example.com")
    assert not await may_act(sam, cta)  # a member claims it instead
    assert not await may_act(await csm_id("ann@example.com"), cta)
    assert await may_act(await csm_id("boss@example.com"), cta)  # the pool's manager
    await claim_cta(p1, sam, actor="sam", source="test")
    claimed = await load_cta(p1)
    assert claimed is not None
    assert await may_act(sam, claimed) and not await may_act(pat, claimed)


async def test_the_api_lists_and_reads_a_pools_unclaimed_cta_for_its_members(client: Any) -> None:
    await pooled_book()
    await other_pool()
    p1 = await raise_cta("p1", now=MONDAY)
    sam = bearer(await token(Role.csm, "sam@example.com"))
    listed = await client.get("/api/v1/ctas", headers=sam)
    assert listed.status_code == 200
    assert [(c["id"], c["pool_name"], c["owner_id"]) for c in listed.json()] == [
        (p1, "Scale team", None)
    ]
    one = await client.get(f"/api/v1/ctas/{p1}", headers=sam)
    assert one.status_code == 200 and one.json()["pool_id"] is not None

    lee = bearer(await token(Role.csm, "lee@example.com"))
    assert (await client.get("/api/v1/ctas", headers=lee)).json() == []
    assert (await client.get(f"/api/v1/ctas/{p1}", headers=lee)).status_code == 404


async def staff(client: Any, email: str) -> None:
    login = f"web.{email}"
    await create_staff_user(login, Role.csm, PASSWORD, csm_id=await csm_id(email))
    assert (await sign_in(client, login)).status_code == 303


async def test_a_specialist_sees_claims_and_acknowledges_on_the_pages(client: Any) -> None:
    await pooled_book()
    p1 = await raise_cta("p1", reason="Detractor answer from Tiny", now=MONDAY)
    await staff(client, "sam@example.com")
    listed = await client.get("/ctas/")
    assert listed.status_code == 200 and f'href="/ctas/{p1}"' in listed.text

    page = await client.get(f"/ctas/{p1}")
    assert page.status_code == 200 and f'action="/pools/claim/{p1}"' in page.text
    assert 'value="acknowledge"' not in page.text  # theirs to claim first, then to change
    token_ = await csrf_token(client, f"/ctas/{p1}")
    claimed = await client.post(
        f"/pools/claim/{p1}", data={"_csrf_token": token_, "next": f"/ctas/{p1}"}
    )
    assert claimed.status_code == 303 and claimed.headers["location"].endswith("done=claim")
    page = await client.get(claimed.headers["location"])
    assert "Claimed: it is yours now." in page.text
    assert f'action="/pools/claim/{p1}"' not in page.text
    version = re.search(r'name="version" value="(\d+)"', page.text)
    assert version is not None
    acked = await client.post(
        f"/ctas/{p1}",
        data={"_csrf_token": token_, "action": "acknowledge", "version": version.group(1)},
    )
    assert acked.status_code == 303
    cta = await load_cta(p1)
    assert cta is not None
    assert (cta.status, cta.owner_id) == ("acknowledged", await csm_id("sam@example.com"))


async def test_a_csm_of_another_book_does_not_see_the_pools_cta_page(client: Any) -> None:
    await pooled_book()
    p1 = await raise_cta("p1", now=MONDAY)
    await staff(client, "ann@example.com")
    assert f'href="/ctas/{p1}"' not in (await client.get("/ctas/")).text
    assert (await client.get(f"/ctas/{p1}")).status_code == 404


async def test_a_specialist_cannot_act_on_an_unclaimed_pool_cta_before_claiming(
    client: Any,
) -> None:
    await pooled_book()
    p1 = await raise_cta("p1", now=MONDAY)
    await staff(client, "sam@example.com")
    token_ = await csrf_token(client, f"/ctas/{p1}")
    refused = await client.post(
        f"/ctas/{p1}", data={"_csrf_token": token_, "action": "acknowledge"}
    )
    assert refused.status_code == 403 and "claim" in refused.text.lower()
    api = await client.post(
        f"/api/v1/ctas/{p1}/actions",
        json={"action": "acknowledge"},
        headers=bearer(await token(Role.csm, "sam@example.com")),
    )
    assert api.status_code == 403 and "claim" in api.json()["error"].lower()
    cta = await load_cta(p1)
    assert cta is not None and (cta.status, cta.owner_id) == ("open", None)


async def test_a_specialist_reads_the_account_page_of_their_pools_account(client: Any) -> None:
    await pooled_book()
    await raise_cta("p1", now=MONDAY)
    await staff(client, "sam@example.com")
    assert (await client.get("/accounts/p1")).status_code == 200
    await staff(client, "ann@example.com")  # a dedicated CSM of another book
    assert (await client.get("/accounts/p1")).status_code == 403
