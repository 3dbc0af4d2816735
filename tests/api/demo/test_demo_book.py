"""The demo book: answers up to yesterday, the CSM sign-in owning the demo host's account, a
pool with its own sign-in, and a believable mix of CTAs right after loading."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from feedback.accounts.models import CSM, Account
from feedback.auth.models import AuditEntry, StaffUser
from feedback.ctas.models import Cta
from feedback.demo import DEMO_HOST_ACCOUNT, load_demo
from feedback.kernel.principal import Role
from feedback.pools.models import Pool, PoolMember
from feedback.responses.models import Response
from tests.support.factories import bearer, token

TODAY = date(2026, 12, 6)  # a Sunday
NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)


async def open_ctas() -> list[dict[str, object]]:
    return await Cta.select(Cta.type, Cta.priority, Cta.due_on, Cta.created_at).where(
        Cta.status != "closed"
    )


async def test_the_ctas_after_loading_are_a_believable_mix() -> None:
    await load_demo(TODAY, NOW)
    ctas = await open_ctas()
    assert 20 <= len(ctas) <= 120
    types = Counter(c["type"] for c in ctas)
    assert max(types.values()) <= len(ctas) / 2, types
    assert {"risk", "renewal", "health_alert", "going_dark"} <= set(types)
    assert types["going_dark"] <= len(ctas) / 5
    assert len({c["priority"] for c in ctas}) >= 3
    dues = Counter(c["due_on"] for c in ctas)
    assert len(dues) >= 3 and max(dues.values()) <= len(ctas) / 2, dues
    # raised today, each priority has its own due date: urgent the next working day (Monday),
    # high in 3 working days, medium in 7, low in 14
    today = [c for c in ctas if c["created_at"].astimezone(UTC).date() == TODAY]
    due = {c["priority"]: c["due_on"] for c in today}
    assert due == {
        1: date(2026, 12, 7),
        2: date(2026, 12, 9),
        3: date(2026, 12, 15),
        4: date(2026, 12, 24),
    }
    # the last two weeks' detractors were raised on their day: a few are overdue now
    overdue = [c for c in ctas if c["due_on"] < TODAY]
    assert 0 < len(overdue) <= len(ctas) / 4


async def test_answers_run_up_to_yesterday_over_the_last_year() -> None:
    await load_demo(TODAY, NOW)
    rows = await Response.select(Response.answered_at)
    moments = [r["answered_at"].astimezone(UTC) for r in rows]
    start_of_today = datetime(2026, 12, 6, tzinfo=UTC)
    assert max(moments) < start_of_today
    assert min(moments) >= start_of_today - timedelta(days=365)
    this_week = [m for m in moments if m >= datetime(2026, 11, 30, tzinfo=UTC)]
    assert len(this_week) >= 5  # Monday to Saturday of this week


async def test_the_csm_sign_in_owns_the_demo_host_account_and_the_pool_has_its_own() -> None:
    await load_demo(TODAY, NOW)
    csm = await StaffUser.select(StaffUser.csm.email).where(StaffUser.email == "csm@example.com")
    host = await Account.select(Account.csm.email).where(Account.external_id == DEMO_HOST_ACCOUNT)
    assert csm[0]["csm.email"] == host[0]["csm.email"] == "alex@example.com"
    pool_user = await StaffUser.select(StaffUser.role, StaffUser.csm.kind).where(
        StaffUser.email == "pool@example.com"
    )
    assert pool_user[0] == {"role": "csm", "csm.kind": "pooled"}
    pool = await Pool.select().where(Pool.name == "SMB pool").first()
    assert pool is not None and pool["active"] and pool["meeting_url"].startswith("https://")
    members = await PoolMember.select(PoolMember.csm.kind).where(PoolMember.pool == pool["id"])
    assert len(members) == 2 and {m["csm.kind"] for m in members} == {"pooled"}
    # free accounts have no dedicated CSM: the pool serves them
    without = await Account.select(Account.plan).where(Account.csm.is_null())
    assert without and {a["plan"] for a in without} == {"free"}
    links = await CSM.select(CSM.meeting_url)
    assert all(str(c["meeting_url"]).startswith("https://cal.example.com/") for c in links)


async def test_loading_twice_changes_nothing_and_a_later_day_adds_only_the_new_answers() -> None:
    await load_demo(TODAY, NOW)

    async def snapshot() -> list[object]:
        return [
            await Account.count(),
            await Response.count(),
            await Cta.count(),
            await AuditEntry.count(),
            await StaffUser.count(),
        ]

    before = await snapshot()
    await load_demo(TODAY, NOW + timedelta(hours=3))
    assert await snapshot() == before
    keys_before = {r["idempotency_key"] for r in await Response.select(Response.idempotency_key)}
    later, later_now = TODAY + timedelta(days=3), NOW + timedelta(days=3)
    await load_demo(later, later_now)
    rows = await Response.select(Response.idempotency_key, Response.answered_at)
    added = [r for r in rows if r["idempotency_key"] not in keys_before]
    assert len(rows) == len({r["idempotency_key"] for r in rows})
    assert added, "three more days of answers"
    assert all(
        datetime(2026, 12, 6, tzinfo=UTC)
        <= r["answered_at"].astimezone(UTC)
        < datetime(2026, 12, 9, tzinfo=UTC)
        for r in added
    )


async def test_the_qa_teams_staging_answers_stay_out_of_production(client: Any) -> None:
    """The demo's staging key and its test answers show under environment=staging, raise no
    CTA and never count in the production report."""
    await load_demo(TODAY, NOW)
    staging = await Response.select(Response.id).where(Response.environment == "staging")
    assert len(staging) == 8
    headers = bearer(await token(Role.analyst))
    everything = await Response.count()
    production = (await client.get("/api/v1/reports/nps", headers=headers)).json()
    tested = (await client.get("/api/v1/reports/nps?environment=staging", headers=headers)).json()
    assert production["groups"][0]["responses"] == everything - 8
    assert tested["groups"][0]["responses"] == 8
    raised = await Cta.select(Cta.trigger).where(Cta.type == "risk")
    assert not any("QA" in str(c["trigger"]) or "Test test" in str(c["trigger"]) for c in raised)
