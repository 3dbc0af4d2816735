"""Each CSM's daily digest: their open CTAs, the last day's detractors, their accounts in
the red band and the comment themes rising this week in their accounts, queued once a day
from the configured hour. Every figure is production's: answers given on staging or
development keys never reach a digest."""

from __future__ import annotations

from datetime import datetime, timedelta

from feedback.accounts.models import CSM
from feedback.ctas.reads import list_ctas
from feedback.ctas.rule_settings import cta_rules
from feedback.health.reads import latest_scores
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Principal, Role
from feedback.outbox import queries
from feedback.outbox.enqueue import notify_delivery
from feedback.outbox.messages import Digest, DigestAnswer, DigestTheme, RedAccount
from feedback.outbox.models import Outbox, OutboxStatus
from feedback.outbox.render import message_format
from feedback.settings import get_settings
from feedback.themes.reports import rising_themes

# accounts in the red band a digest lists, the lowest scores first
RED_ACCOUNTS = 15
# rising themes a digest lists, the largest rise first: a digest is read in a glance
RISING_THEMES = 3


async def enqueue_digests(now: datetime | None = None) -> int:
    """Worker job: once a day (from the configured hour), one digest per CSM who has open
    CTAs, new detractors, accounts in the red band or themes rising in their accounts'
    comments. The key `digest:CSM:DAY` makes it once, whichever worker runs."""
    now = now or utcnow()
    rule = (await cta_rules())["daily_digest"]
    if not rule["enabled"] or now.hour < rule["hour_utc"]:
        return 0
    if not get_settings().slack.configured:
        return 0  # a digest is for the day: one queued until Slack is configured is stale
    day = now.date().isoformat()
    done = {
        row["key"]
        for row in await Outbox.select(Outbox.key).where(Outbox.key.like(f"digest:%:{day}"))
    }
    csms = await CSM.select(
        CSM.id, CSM.name, CSM.email, CSM.slack_channel, CSM.slack_user_id
    ).where(
        CSM.active == True  # noqa: E712
    )
    queued = 0
    for csm in csms:
        key = f"digest:{csm['id']}:{day}"
        channel = csm["slack_user_id"] or csm["slack_channel"]
        if key in done or channel is None:
            continue
        principal = Principal(role=Role.csm, actor=csm["email"], source="worker", csm_id=csm["id"])
        digest = Digest(
            csm_name=csm["name"],
            ctas=await list_ctas(principal, owner_ids={csm["id"]}),
            detractors=[
                DigestAnswer(row["account_name"], row["score"], row["comment"])
                for row in await queries.RECENT_DETRACTORS.fetch(
                    csm["id"], now - timedelta(days=1), now
                )
            ],
            red=await _red_accounts(csm["id"]),
            rising=[
                DigestTheme(theme.label, theme.this_week, theme.weekly_before)
                for theme in await rising_themes(principal, now, limit=RISING_THEMES)
            ],
        )
        if digest.empty:
            continue
        rendered = message_format().digest(digest, get_settings().public_url)
        inserted = (
            await Outbox.insert(
                Outbox(
                    key=key,
                    kind="digest",
                    channel=channel,
                    payload=rendered.as_dict(),
                    status=OutboxStatus.pending.value,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
            .on_conflict(action="DO NOTHING")
            .returning(Outbox.id)
        )
        queued += bool(inserted)
    if queued:
        notify_delivery()
    return queued


async def _red_accounts(csm_id: int) -> list[RedAccount]:
    """The CSM's accounts in the red band on the latest health snapshot, lowest first."""
    accounts = {row["id"]: row["name"] for row in await queries.ACCOUNTS_OF_CSM.fetch(csm_id)}
    if not accounts:
        return []
    red = [
        score
        for score in (await latest_scores(list(accounts))).values()
        if score.band == "red" and score.score is not None
    ]
    red.sort(key=lambda score: score.score or 0.0)
    return [RedAccount(accounts[score.account], score.score or 0.0) for score in red][:RED_ACCOUNTS]
