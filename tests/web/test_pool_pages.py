"""The pool pages: admins set pools up (forms, members, the CSV import), managers read them
and the report, and the Claim button claims a pooled CTA and says what happened."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from feedback.auth.services import create_staff_user
from feedback.ctas.models import Cta
from feedback.kernel.principal import Role
from feedback.pools.claims import claim_cta
from feedback.pools.models import Pool, PoolMember
from feedback.pools.sla import run_pool_sla
from tests.api.pools.helpers import csm_id, pooled_book, raise_cta
from tests.support.web import HOSTILE, PASSWORD, csrf_token, sign_in

MONDAY_9 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def staff(client: Any, email: str, role: Role, csm_email: str | None = None) -> None:
    csm = await csm_id(csm_email) if csm_email else None
    await create_staff_user(email, role, PASSWORD, csm_id=csm)
    assert (await sign_in(client, email)).status_code == 303


async def test_an_admin_sees_the_pools_and_a_pools_members(client: Any) -> None:
    pool = await pooled_book()
    await staff(client, "admin@example.com", Role.admin)
    listing = await client.get("/pools")
    assert listing.status_code == 200
    assert "Scale team" in listing.text and "Round robin" in listing.text
    assert "plan: free, starter" in listing.text
    detail = await client.get(f"/pools/{pool.id}")
    assert detail.status_code == 200
    for text in ("Sam Specialist", "https://cal.example/sam", "#scale", "Boss", "pooled"):
        assert text in detail.text


async def test_an_admin_creates_a_pool_and_a_mistake_names_the_field(client: Any) -> None:
    await pooled_book()
    await staff(client, "admin@example.com", Role.admin)
    token = await csrf_token(client, "/pools")
    form = {"_csrf_token": token, "name": "Night shift", "rule": "fewest_open"}
    refused = await client.post("/pools", data={**form, "members": "ghost@example.com"})
    assert refused.status_code == 422
    assert "no CSM with the email ghost@example.com" in refused.text
    assert 'value="Night shift"' in refused.text  # the draft is kept
    members = "sam@example.com, pat@example.com"
    made = await client.post(
        "/pools",
        data={**form, "members": members, "audience_plan": "free, trial", "slack_channel": "#n"},
    )
    assert made.status_code == 303
    pool = await Pool.select().where(Pool.name == "Night shift").first()
    assert made.headers["location"] == f"/pools/{pool['id']}?done=created"
    assert pool["rule"] == "fewest_open" and pool["slack_channel"] == "#n"
    assert await PoolMember.count().where(PoolMember.pool == pool["id"]) == 2


async def test_an_admin_edits_settings_members_and_a_specialists_link(client: Any) -> None:
    pool = await pooled_book()
    await staff(client, "admin@example.com", Role.admin)
    token = await csrf_token(client, f"/pools/{pool.id}")
    settings = {
        "_csrf_token": token,
        "name": "Scale team",
        "rule": "least_arr",
        "claim_sla_minutes": "0",
        "escalate_sla_minutes": "60",
        "timezone": "Europe/Paris",
        "active": "on",
    }
    bad = await client.post(f"/pools/{pool.id}", data=settings)
    assert bad.status_code == 422 and "claim_sla_minutes" in bad.text
    saved = await client.post(f"/pools/{pool.id}", data={**settings, "claim_sla_minutes": "90"})
    assert saved.status_code == 303
    row = await Pool.select().where(Pool.id == pool.id).first()
    assert (row["rule"], row["claim_sla_minutes"], row["timezone"]) == (
        "least_arr",
        90,
        "Europe/Paris",
    )
    sam = await csm_id("sam@example.com")
    link = await client.post(
        f"/pools/{pool.id}/members/{sam}/profile",
        data={"_csrf_token": token, "kind": "pooled", "meeting_url": "https://cal.example/s2"},
    )
    assert link.status_code == 303
    assert "https://cal.example/s2" in (await client.get(f"/pools/{pool.id}")).text
    removed = await client.post(
        f"/pools/{pool.id}/members/{sam}/remove", data={"_csrf_token": token}
    )
    assert removed.status_code == 303
    added = await client.post(
        f"/pools/{pool.id}/members", data={"_csrf_token": token, "email": "ann@example.com"}
    )
    assert added.status_code == 303
    members = await PoolMember.select(PoolMember.csm).where(PoolMember.pool == pool.id)
    assert {m["csm"] for m in members} == {
        await csm_id("pat@example.com"),
        await csm_id("ann@example.com"),
    }


async def test_the_import_form_lists_every_problem_by_line(client: Any) -> None:
    await pooled_book()
    await staff(client, "admin@example.com", Role.admin)
    token = await csrf_token(client, "/pools")
    text = "pool,member_email,rule\nNew,ghost@example.com,round_robin\nNew,,lottery\n"
    refused = await client.post(
        "/pools/import",
        data={"_csrf_token": token},
        files={"file": ("pools.csv", text.encode(), "text/csv")},
    )
    assert refused.status_code == 422
    assert "Line 2" in refused.text and "Line 3" in refused.text
    assert not await Pool.exists().where(Pool.name == "New")
    good = "pool,member_email\nNew,sam@example.com\n"
    done = await client.post(
        "/pools/import",
        data={"_csrf_token": token},
        files={"file": ("pools.csv", good.encode(), "text/csv")},
    )
    assert done.status_code == 303 and await Pool.exists().where(Pool.name == "New")


async def test_a_manager_reads_the_pages_and_the_report_but_gets_no_forms(client: Any) -> None:
    pool = await pooled_book(name=HOSTILE)
    await raise_cta("p1", now=MONDAY_9)
    await staff(client, "boss.staff@example.com", Role.manager)
    listing = await client.get("/pools")
    assert listing.status_code == 200 and HOSTILE not in listing.text
    assert 'action="/pools"' not in listing.text
    assert (await client.get(f"/pools/{pool.id}")).status_code == 200
    report = await client.get("/pools/report")
    assert report.status_code == 200 and "By pool" in report.text
    assert "Download CSV" in report.text
    csv_file = await client.get("/pools/report.csv")
    assert csv_file.status_code == 200 and csv_file.text.startswith("pool,specialist")
    assert "'<script>" in csv_file.text or "<script>" in csv_file.text
    bad = await client.get("/pools/report", params={"from": "yesterday"})
    assert bad.status_code == 422 and "a date such as" in bad.text


async def test_a_csm_may_not_open_the_admin_pages(client: Any) -> None:
    await pooled_book()
    await staff(client, "sam.staff@example.com", Role.csm, "sam@example.com")
    assert (await client.get("/pools")).status_code == 403


async def test_the_claim_button_claims_and_refuses_politely_when_late(client: Any) -> None:
    await pooled_book()
    cta_id = await raise_cta("p1", now=MONDAY_9)
    await staff(client, "sam.staff@example.com", Role.csm, "sam@example.com")
    token = await csrf_token(client, "/ctas/")
    claimed = await client.post(
        f"/pools/claim/{cta_id}", data={"_csrf_token": token, "next": "/today?view=mine"}
    )
    assert claimed.status_code == 303
    assert claimed.headers["location"] == "/today?view=mine&done=claim"
    assert (await Cta.select(Cta.owner).where(Cta.id == cta_id).first())["owner"] == await csm_id(
        "sam@example.com"
    )
    await client.post("/logout", data={"_csrf_token": token})
    client.cookies.clear()
    await staff(client, "pat.staff@example.com", Role.csm, "pat@example.com")
    token = await csrf_token(client, "/ctas/")
    late = await client.post(
        f"/pools/claim/{cta_id}", data={"_csrf_token": token, "next": "https://evil.example/"}
    )
    assert late.status_code == 303
    assert late.headers["location"] == f"/ctas/{cta_id}?done=already_claimed"
    assert re.search(r"/ctas/\d+", late.headers["location"])


async def test_the_report_writes_durations_as_people_read_them(client: Any) -> None:
    await pooled_book()
    now = datetime.now(UTC)
    monday = (now - timedelta(days=now.weekday() + 7)).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    fast = await raise_cta("p1", reason="fast", now=monday)
    sam = await csm_id("sam@example.com")
    await claim_cta(fast, sam, actor="s", source="web", now=monday + timedelta(minutes=30))
    await raise_cta("p2", reason="slow", now=monday)
    await run_pool_sla(monday + timedelta(hours=5))  # assigned after 300 working minutes
    await staff(client, "boss.staff@example.com", Role.manager)
    html = (await client.get("/pools/report")).text
    # the unit in the heading, the figures in it: 30 and 300 working minutes as hours
    assert "working hours" in html and ">days<" in html
    row = re.search(r'<a href="/pools/\d+">Scale team</a></th>(.*?)</tr>', html, re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells == ["2", "1", "1", "0", "0.5", "5.0", "–", "–", "0", "2"]
    assert " min<" not in html
    # the CSV keeps raw working minutes, the unit in the column's name
    lines = (await client.get("/pools/report.csv")).text.splitlines()
    header = lines[0].split(",")
    scale = dict(zip(header, lines[1].split(","), strict=True))
    assert (scale["claim_median_minutes"], scale["claim_p90_minutes"]) == ("30.0", "300.0")
