"""The demo tells a CSM's day: older answers' CTAs were worked (closed with outcomes, some
detractors answered better since), the pool's specialists claimed all but the newest few,
recent users and detractors are in the programs with a few mails waiting, and loading
again, the same day or a later one, does nothing twice."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

from feedback.ctas.models import Cta, CtaEvent
from feedback.demo import load_demo
from feedback.kernel.principal import Principal, Role
from feedback.mail.models import MailMessage
from feedback.programs.jobs import programs_job
from feedback.programs.models import Participant, Program
from feedback.reports.loop import loop_report
from feedback.responses.models import Response

TODAY = date(2026, 12, 6)
NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)
ADMIN = Principal(role=Role.admin, actor="admin@example.com", source="web")


async def test_the_loop_report_shows_closed_detractor_ctas_and_recoveries() -> None:
    await load_demo(TODAY, NOW)
    report = await loop_report(ADMIN, "csm")
    total = report.total
    assert total.cases >= 10
    assert 0.3 <= total.closed / total.cases <= 0.8
    assert total.recovered > 0 and total.recovered < total.followed_up + 1
    outcomes = set(total.outcomes)
    assert {"contacted", "resolved"} <= outcomes and len(outcomes) >= 3, outcomes
    # every close is in the past, after the CTA's last change, with its history
    closed = await Cta.select(Cta.id, Cta.created_at, Cta.closed_at, Cta.outcome).where(
        Cta.status == "closed"
    )
    for cta in closed:
        assert cta["outcome"] is not None
        events = await CtaEvent.select(CtaEvent.action, CtaEvent.at).where(
            CtaEvent.cta == cta["id"]
        )
        moments = [e["at"] for e in sorted(events, key=lambda e: e["at"])]
        assert [e["action"] for e in events if e["at"] == moments[-1]] == ["close"]
        assert cta["created_at"] < cta["closed_at"] < NOW - timedelta(days=2)


async def test_a_few_recent_pool_ctas_wait_for_a_claim_and_the_rest_were_claimed() -> None:
    await load_demo(TODAY, NOW)
    pooled = await Cta.select(Cta.owner, Cta.status, Cta.claimed_at, Cta.created_at).where(
        Cta.pool.is_not_null()
    )
    unclaimed = [c for c in pooled if c["owner"] is None]
    assert 2 <= len(unclaimed) <= 4
    assert all(c["status"] == "open" for c in unclaimed)
    claimed = [c for c in pooled if c["owner"] is not None]
    assert len(claimed) >= 10
    assert all(c["created_at"] <= c["claimed_at"] <= NOW for c in claimed)
    # both specialists picked some up
    assert len(Counter(c["owner"] for c in claimed)) == 2
    newest = max(c["created_at"] for c in pooled)
    assert all(c["created_at"] == newest for c in unclaimed)


async def test_programs_enrol_new_users_and_recent_detractors_and_a_few_mails_wait() -> None:
    await load_demo(TODAY, NOW)
    # the worker's run right after loading (answers and users were stored just now)
    await programs_job(datetime.now(UTC))
    onboarding = await Program.select(Program.id).where(Program.slug == "onboarding").first()
    assert onboarding is not None
    users = await Participant.count().where(Participant.program == onboarding["id"])
    assert 1 <= users <= 40, "only the users first seen in the last days"
    waiting = await MailMessage.count()
    assert 1 <= waiting < 50
    poor = await Participant.count().where(Participant.program != onboarding["id"])
    assert poor >= 1


async def test_loading_again_the_same_day_or_later_does_nothing_twice() -> None:
    await load_demo(TODAY, NOW)

    async def state() -> list[object]:
        return [
            await Cta.select(Cta.id, Cta.status, Cta.owner, Cta.outcome, Cta.closed_at).order_by(
                Cta.id
            ),
            # what people did (the time-driven rules may signal again hours later)
            await CtaEvent.count().where(CtaEvent.source != "rule"),
            await Response.count(),
            await Participant.count(),
        ]

    before = await state()
    await load_demo(TODAY, NOW + timedelta(hours=3))
    assert await state() == before
    closed_before = {c["id"]: c["closed_at"] for c in before[0] if c["status"] == "closed"}
    await load_demo(TODAY + timedelta(days=3), NOW + timedelta(days=3))
    after = await Cta.select(Cta.id, Cta.status, Cta.closed_at).where(Cta.status == "closed")
    assert {c["id"]: c["closed_at"] for c in after if c["id"] in closed_before} == closed_before
    closes = await CtaEvent.select(CtaEvent.cta).where(CtaEvent.action == "close")
    assert len(closes) == len({c["cta"] for c in closes}), "no CTA closed twice"
    claims = await CtaEvent.select(CtaEvent.cta).where(CtaEvent.action == "claim")
    assert len(claims) == len({c["cta"] for c in claims}), "no CTA claimed twice"
