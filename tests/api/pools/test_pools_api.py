"""/api/v1/pools: admins define pools, managers read them, members claim; nonsense is a 422
naming the field; the report and the CSV import."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from feedback.ctas.models import Cta
from feedback.kernel.principal import Role
from feedback.pools.claims import claim_cta
from feedback.pools.models import Pool, PoolMember
from feedback.pools.sla import run_pool_sla
from tests.api.pools.helpers import csm_id, pooled_book, raise_cta
from tests.support.factories import bearer, token

MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def admin(client: Any) -> dict[str, str]:
    return bearer(await token(Role.admin))


def field_of(response: Any) -> str:
    return response.json()["detail"][0]["field"]


async def test_an_admin_creates_changes_and_deletes_a_pool(client: Any) -> None:
    await pooled_book()
    headers = await admin(client)
    created = await client.post(
        "/api/v1/pools/",
        json={
            "name": "Japan",
            "slack_channel": "#jp-pool",
            "rule": "fewest_open",
            "audience": {"plan": "free", "traits": {"region": ["APAC"]}},
            "claim_sla_minutes": 120,
            "timezone": "Asia/Tokyo",
            "members": ["sam@example.com"],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    pool = created.json()
    assert pool["audience"] == {"plan": ["free"], "traits": {"region": ["APAC"]}}
    assert [m["email"] for m in pool["members"]] == ["sam@example.com"]
    assert pool["members"][0]["kind"] == "pooled"
    changed = await client.patch(
        f"/api/v1/pools/{pool['id']}", json={"rule": "least_arr"}, headers=headers
    )
    assert changed.status_code == 200 and changed.json()["rule"] == "least_arr"
    added = await client.post(
        f"/api/v1/pools/{pool['id']}/members", json={"email": "pat@example.com"}, headers=headers
    )
    assert len(added.json()["members"]) == 2
    sam = await csm_id("sam@example.com")
    removed = await client.delete(f"/api/v1/pools/{pool['id']}/members/{sam}", headers=headers)
    assert [m["email"] for m in removed.json()["members"]] == ["pat@example.com"]
    last = await client.delete(
        f"/api/v1/pools/{pool['id']}/members/{await csm_id('pat@example.com')}", headers=headers
    )
    assert last.status_code == 422 and field_of(last) == "csm"
    gone = await client.delete(f"/api/v1/pools/{pool['id']}", headers=headers)
    assert gone.status_code == 200
    assert not await Pool.exists().where(Pool.id == pool["id"])


async def test_nonsense_is_a_422_naming_the_field(client: Any) -> None:
    await pooled_book()
    headers = await admin(client)
    sam = ["sam@example.com"]
    cases = [
        ({"name": "X", "rule": "lottery", "members": sam}, "rule"),
        ({"name": "X", "claim_sla_minutes": 0, "members": sam}, "claim_sla_minutes"),
        ({"name": "X", "escalate_sla_minutes": -5, "members": sam}, "escalate_sla_minutes"),
        ({"name": "X"}, "members"),  # enabled without members
        ({"name": "X", "members": ["nobody@example.com"]}, "members"),
        ({"name": "X", "audience": {"colour": ["red"]}, "members": sam}, "audience.colour"),
        ({"name": "X", "meeting_url": "javascript:alert(1)", "members": sam}, "meeting_url"),
        ({"name": "Scale team", "members": sam}, "name"),
        ({"name": "X", "manager_email": "ghost@example.com", "members": sam}, "manager_email"),
    ]
    for body, field in cases:
        answer = await client.post("/api/v1/pools/", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert field_of(answer) == field, (body, answer.json())
    inactive = await client.post(
        "/api/v1/pools/", json={"name": "Empty", "active": False}, headers=headers
    )
    assert inactive.status_code == 201
    enable = await client.patch(
        f"/api/v1/pools/{inactive.json()['id']}", json={"active": True}, headers=headers
    )
    assert enable.status_code == 422 and field_of(enable) == "active"


async def test_managers_read_but_do_not_write_and_csms_do_neither(client: Any) -> None:
    pool = await pooled_book()
    manager = bearer(await token(Role.manager))
    assert (await client.get("/api/v1/pools/", headers=manager)).status_code == 200
    assert (await client.get(f"/api/v1/pools/{pool.id}", headers=manager)).status_code == 200
    refused = await client.patch(f"/api/v1/pools/{pool.id}", json={"rule": "x"}, headers=manager)
    assert refused.status_code == 403
    csm = bearer(await token(Role.csm, "sam@example.com"))
    assert (await client.get("/api/v1/pools/", headers=csm)).status_code == 403


async def test_a_member_claims_through_the_api_and_the_second_gets_a_409(client: Any) -> None:
    pool = await pooled_book()
    cta_id = await raise_cta("p1", now=MONDAY_9)
    sam = bearer(await token(Role.csm, "sam@example.com"))
    pat = bearer(await token(Role.csm, "pat@example.com"))
    first = await client.post(f"/api/v1/pools/{pool.id}/claim/{cta_id}", headers=sam)
    assert first.status_code == 200, first.text
    assert first.json()["cta"]["owner_name"] == "Sam Specialist"
    second = await client.post(f"/api/v1/pools/{pool.id}/claim/{cta_id}", headers=pat)
    assert second.status_code == 409
    assert second.json()["detail"] == [
        {"field": "cta", "message": "Already claimed by Sam Specialist"}
    ]
    ann = bearer(await token(Role.csm, "ann@example.com"))
    other = await raise_cta("p1", reason="another", now=MONDAY_9)
    assert (
        await client.post(f"/api/v1/pools/{pool.id}/claim/{other}", headers=ann)
    ).status_code == 403
    wrong_pool = await client.post(f"/api/v1/pools/{pool.id + 99}/claim/{other}", headers=sam)
    assert wrong_pool.status_code == 404


async def test_a_manager_claims_for_a_member(client: Any) -> None:
    pool = await pooled_book()
    cta_id = await raise_cta("p1", now=MONDAY_9)
    manager = bearer(await token(Role.manager))
    pat = await csm_id("pat@example.com")
    answer = await client.post(
        f"/api/v1/pools/{pool.id}/claim/{cta_id}", params={"csm": pat}, headers=manager
    )
    assert answer.status_code == 200 and answer.json()["cta"]["owner_id"] == pat


async def test_the_report_gives_time_to_claim_and_open_load(client: Any) -> None:
    pool = await pooled_book()
    headers = await admin(client)
    now = datetime.now(UTC)
    monday = (now - timedelta(days=now.weekday() + 7)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    fast = await raise_cta("p1", reason="fast", now=monday)
    sam = await csm_id("sam@example.com")
    await claim_cta(fast, sam, actor="s", source="web", now=monday + timedelta(minutes=30))
    await raise_cta("p2", reason="slow", now=monday)
    await run_pool_sla(monday + timedelta(hours=5))  # assigned to Sam: the cursor's first
    await raise_cta("p1", reason="waiting", now=monday + timedelta(hours=6))
    answer = await client.get("/api/v1/pools/report", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    (row,) = body["pools"]
    assert row["pool_id"] == pool.id
    assert (row["ctas"], row["claimed"], row["assigned"]) == (3, 1, 1)
    assert row["open_unclaimed"] == 1 and row["open_owned"] == 2
    assert row["claim_median_minutes"] == 30.0 and row["claim_p90_minutes"] == 300.0
    people = {p["specialist"]: p for p in body["specialists"]}
    assert list(people) == ["Sam Specialist"]
    sam = people["Sam Specialist"]
    assert (sam["ctas"], sam["claimed"], sam["assigned"], sam["open_owned"]) == (2, 1, 1, 2)
    csv_answer = await client.get("/api/v1/pools/report", params={"format": "csv"}, headers=headers)
    assert csv_answer.headers["content-type"].startswith("text/csv")
    lines = csv_answer.text.splitlines()
    assert lines[0].startswith("pool,specialist,ctas,claimed,assigned")
    assert lines[1].startswith("Scale team,,3,1,1")


async def test_the_import_checks_the_whole_file_and_is_idempotent(client: Any) -> None:
    await pooled_book()
    headers = {**await admin(client), "content-type": "text/csv"}
    bad = (
        "pool,channel,rule,manager_email,member_email,plan,company_size\n"
        "EMEA,#emea,round_robin,boss@example.com,sam@example.com,free;starter,1-10\n"
        "EMEA,#other,round_robin,,pat@example.com,,\n"
        "APAC,#apac,lottery,,ghost@example.com,,\n"
        "Empty,#empty,,,,,\n"
    )
    refused = await client.post("/api/v1/pools/import", content=bad, headers=headers)
    assert refused.status_code == 422
    problems = {(d["line"], d["field"]) for d in refused.json()["detail"]}
    assert problems == {(3, "channel"), (4, "rule"), (4, "member_email"), (5, "member_email")}
    assert await Pool.count() == 1  # nothing written

    good = (
        "pool,channel,rule,manager_email,member_email,plan,company_size\n"
        "EMEA,#emea,fewest_open,boss@example.com,sam@example.com,free;starter,1-10\n"
        "EMEA,,,,pat@example.com,,11-50\n"
        "Scale team,#scale-2,,,pat@example.com,,\n"
    )
    for _ in range(2):
        answer = await client.post("/api/v1/pools/import", content=good, headers=headers)
        assert answer.status_code == 200, answer.text
    result = answer.json()
    assert (result["pools"], result["created"], result["members_added"]) == (2, 0, 0)
    emea = await Pool.select().where(Pool.name == "EMEA").first()
    assert emea["rule"] == "fewest_open" and emea["slack_channel"] == "#emea"
    audience = emea["audience"]
    assert (audience if isinstance(audience, dict) else json.loads(audience)) == {
        "plan": ["free", "starter"],
        "company_size": ["1-10", "11-50"],
    }
    assert await PoolMember.count().where(PoolMember.pool == emea["id"]) == 2
    scale = await Pool.select().where(Pool.name == "Scale team").first()
    assert scale["slack_channel"] == "#scale-2"
    assert await PoolMember.count().where(PoolMember.pool == scale["id"]) == 2


async def test_a_csms_kind_and_meeting_link_are_editable(client: Any) -> None:
    await pooled_book()
    ann = await csm_id("ann@example.com")
    headers = await admin(client)
    answer = await client.patch(
        f"/api/v1/csms/{ann}",
        json={"kind": "pooled", "meeting_url": "https://cal.example/ann"},
        headers=headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["kind"] == "pooled"
    bad = await client.patch(f"/api/v1/csms/{ann}", json={"kind": "freelance"}, headers=headers)
    assert bad.status_code == 422 and field_of(bad) == "kind"
    own = bearer(await token(Role.csm, "ann@example.com"))
    mine = await client.patch(
        f"/api/v1/csms/{ann}", json={"meeting_url": "https://cal.example/ann2"}, headers=own
    )
    assert mine.status_code == 200 and mine.json()["meeting_url"] == "https://cal.example/ann2"
    listed = {c["email"]: c for c in (await client.get("/api/v1/csms", headers=headers)).json()}
    assert listed["ann@example.com"]["kind"] == "pooled"
    assert listed["ann@example.com"]["meeting_url"] == "https://cal.example/ann2"
    bob = await csm_id("bob@example.com")
    other = await client.patch(f"/api/v1/csms/{bob}", json={"meeting_url": None}, headers=own)
    assert other.status_code == 403
    assert (await Cta.count()) == 0
