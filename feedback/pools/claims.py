"""Claiming a pooled CTA: a member of its pool takes it (Slack's Claim button, the web's
Claim action, the API).

The claim is one compare-and-set UPDATE (unowned, pooled, not closed, the claimer an active
member of the pool): of two specialists clicking at once one gets the CTA and the other a
polite refusal naming who was first. It writes, in one transaction, the CTA, its history and
the outbox message that shows it.
"""

from __future__ import annotations

from datetime import datetime

from feedback.accounts.models import CSM
from feedback.ctas.actions import Change
from feedback.ctas.history import record_event
from feedback.ctas.reads import load_cta
from feedback.ctas.records import CtaView
from feedback.db import write_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import Forbidden, NotFound
from feedback.outbox.enqueue import enqueue_cta_message
from feedback.pools import queries


async def claim_cta(
    cta_id: int, csm_id: int, *, actor: str, source: str, now: datetime | None = None
) -> Change:
    """The CSM claims the CTA. Changed when they now own it; otherwise the Change says why
    (`already_claimed`: "Already claimed by <name>"; `unchanged`: closed). Raises NotFound
    for no such CTA and Forbidden when the CSM is not an active member of its pool."""
    now = now or utcnow()
    async with write_transaction():
        claimed = await queries.CLAIM.fetch(csm_id, now, now, cta_id, csm_id)
        if claimed:
            status = claimed[0]["status"]
            await record_event(
                cta_id, actor, source, "claim", status, status, now, data={"owner": csm_id}
            )
            await enqueue_cta_message(cta_id, now)
        cta = await load_cta(cta_id)
    if cta is None:
        raise NotFound.for_field("cta", f"no CTA with id {cta_id}")
    if claimed:
        return Change(True, cta, f"Claimed by {cta.owner_name}", "claim")
    return await _why_not(cta, csm_id)


async def _why_not(cta: CtaView, csm_id: int) -> Change:
    if cta.owner_id is not None:
        if cta.owner_id == csm_id:
            return Change(False, cta, "You have claimed it already", "already_yours")
        who = cta.owner_name or "someone else"
        return Change(False, cta, f"Already claimed by {who}", "already_claimed")
    if cta.status == "closed":
        return Change(False, cta, "Nothing to claim: the CTA is closed", "unchanged")
    if cta.pool_id is None:
        raise Forbidden.for_field("cta", "this CTA is not a pool's: its owner is set by hand")
    name = await CSM.select(CSM.name).where(CSM.id == csm_id).first()
    who = name["name"] if name else f"CSM {csm_id}"
    raise Forbidden.for_field("csm", f"{who} is not an active member of {cta.pool_name}")


async def is_member(pool_id: int, csm_id: int) -> bool:
    return bool(await queries.IS_MEMBER.fetch(pool_id, csm_id))
