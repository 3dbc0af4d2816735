"""One book for the Today and account-page tests: Boss manages Ann and Bob, Carl is on no
team, Dora is a pooled specialist of the "Specialists" pool that Boss manages. Every date is
relative to a clock (by default Monday 2026-12-07 10:00 UTC, whose last working day is Friday
2026-12-04; the page tests use the real clock)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from feedback.accounts.models import CSM, Account, EndUser
from feedback.ctas.models import Cta
from feedback.health.models import HealthSnapshot
from feedback.kernel.principal import Principal, Role
from feedback.pools.models import Pool, PoolMember
from feedback.responses.models import Response
from feedback.today.services import last_working_day
from tests.support.factories import book, import_csv

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Book:
    csm: dict[str, int]  # by first name, lower case
    account: dict[str, int]  # by external id
    cta: dict[str, int]  # by a short name


def principal(role: Role, csm_id: int | None = None) -> Principal:
    return Principal(role=role, actor=f"{role.value}@example.com", source="web", csm_id=csm_id)


async def _cta(
    now: datetime,
    account: int,
    owner: int | None,
    type_: str,
    priority: int,
    due: date,
    **more: object,
) -> int:
    cta = Cta(
        type=type_,
        reason=more.pop("reason", f"{type_} reason"),
        detail="",
        priority=priority,
        account=account,
        owner=owner,
        due_on=due,
        status=more.pop("status", "open"),
        trigger=more.pop("trigger", {"kind": "test"}),
        created_at=now - timedelta(days=10),
        updated_at=now - timedelta(days=10),
        **more,
    )
    await cta.save()
    return int(cta.id)


async def _answer(
    account: int,
    user: int | None,
    score: int,
    at: datetime,
    comment: str | None = None,
    role: str | None = None,
) -> None:
    await Response(
        idempotency_key=f"k-{account}-{user}-{at.isoformat()}",
        source="import",
        end_user=user,
        account=account,
        score=score,
        comment=comment,
        answered_at=at,
        role=role,
    ).save()


async def build(now: datetime = NOW) -> Book:
    today = now.date()
    await book()
    result = await import_csv(
        "csms",
        "email,name,manager_email\ncarl@example.com,Carl,\ndora@example.com,Dora,\n",
    )
    assert result.ok, result.errors
    result = await import_csv(
        "accounts",
        "external_id,name,plan,arr,csm_email,renewal_date\n"
        "a3,Hooli,paid,5000,ann@example.com,\n"
        "c1,Umbrella,premium,300000,carl@example.com,2026-12-20\n"
        "p1,Pied Piper,free,100,,\n",
    )
    assert result.ok, result.errors
    csm = {r["email"].split("@")[0]: r["id"] for r in await CSM.select(CSM.id, CSM.email)}
    account = {
        r["external_id"]: r["id"] for r in await Account.select(Account.id, Account.external_id)
    }
    users = {
        r["external_id"]: r["id"] for r in await EndUser.select(EndUser.id, EndUser.external_id)
    }
    await CSM.update({CSM.kind: "pooled"}).where(CSM.id == csm["dora"])
    await EndUser.update({EndUser.traits: {"name": "Una Acme"}}).where(EndUser.id == users["u1"])
    # a3 has been quiet since long before the going-dark rule's 60 days; the others are new
    await Account.update({Account.created_at: now - timedelta(days=300)}).where(
        Account.id == account["a3"]
    )
    pool = Pool(name="Specialists", manager=csm["boss"])
    await pool.save()
    await PoolMember(pool=pool.id, csm=csm["dora"]).save()

    ann, bob, carl = csm["ann"], csm["bob"], csm["carl"]
    cta = {
        "a1_risk": await _cta(now, account["a1"], ann, "risk", 2, today - timedelta(days=2)),
        "a2_renewal": await _cta(now, account["a2"], ann, "renewal", 2, today - timedelta(days=4)),
        "a1_onboarding": await _cta(now, account["a1"], ann, "onboarding", 1, today),
        "a2_snoozed": await _cta(
            now,
            account["a2"],
            ann,
            "business_review",
            3,
            today - timedelta(days=6),
            status="snoozed",
            snoozed_until=now + timedelta(days=3),
        ),
        "a1_closed": await _cta(
            now,
            account["a1"],
            ann,
            "advocacy",
            3,
            today - timedelta(days=6),
            status="closed",
            closed_at=now - timedelta(days=1),
        ),
        "b1_risk": await _cta(now, account["b1"], bob, "risk", 3, today),
        "a2_bobs": await _cta(now, account["a2"], bob, "onboarding", 3, today + timedelta(days=3)),
        "c1_risk": await _cta(now, account["c1"], carl, "risk", 1, today - timedelta(days=1)),
        "p1_pool": await _cta(
            now, account["p1"], None, "risk", 2, today + timedelta(days=1), pool=pool.id
        ),
    }

    # the start of the last working day: answers from then on are new
    since = datetime.combine(last_working_day(today), time.min, tzinfo=UTC)
    await _answer(
        account["a1"],
        users["u1"],
        3,
        since + timedelta(hours=15),
        "Exports keep failing",
        role="admin",
    )
    await _answer(account["a1"], users["u2"], 2, since - timedelta(hours=9), "old news")
    await _answer(account["a2"], users["u3"], 10, now - timedelta(hours=3), "love it")
    await _answer(account["b1"], users["u4"], 5, now - timedelta(hours=2))
    await _answer(account["c1"], None, 0, now - timedelta(hours=1), "cancel")
    # later than the clock: not yet "new" for a Today asked at `now`
    await _answer(account["a1"], users["u2"], 1, now + timedelta(hours=1))

    health_day = today - timedelta(days=1)
    week_ago = health_day - timedelta(days=7)
    snapshots = [
        ("a1", 55.0, "yellow", 35.0, "red"),  # into red
        ("a2", 80.0, "green", 60.0, "yellow"),  # down 20 points
        ("b1", 70.0, "green", 65.0, "yellow"),  # down 5: not enough
        ("c1", 50.0, "yellow", 30.0, "red"),
    ]
    for external_id, before, band_before, score, band in snapshots:
        await HealthSnapshot.insert(
            HealthSnapshot(
                account=account[external_id], day=week_ago, score=before, band=band_before
            ),
            HealthSnapshot(account=account[external_id], day=health_day, score=score, band=band),
        )
    return Book(csm=csm, account=account, cta=cta)
