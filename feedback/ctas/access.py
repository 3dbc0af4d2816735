"""Who sees a CTA and who may act on it: the one place for the CSM and manager scope, used by
the API, the pages and the Slack bot alike.

- A principal with the csm role sees the CTAs they own, those of their accounts and those of
  the pools they are a member of (claimed or not: `CtaScope`); every other role sees every
  CTA (and the roles that may act are the routes' guards).
- On the web and through the API a CSM changes (acknowledges, closes, ...) the CTAs they own
  and those of their accounts (`may_change`), not the others of their pools: an unclaimed
  pool CTA is theirs once they claim it (feedback.pools.claims).
- In Slack a CSM acts as themselves: on the CTAs they own (or, when nobody owns one, of
  their accounts), on those of anyone who reports to them, directly or not (a manager), and
  on CTAs nobody owns, except a pool's unclaimed CTA: its members take it with Claim, and
  only the pool's manager (or someone above them) acts on it unclaimed.
- What a CSM reads in Slack (`/nps`, the App Home) is what the same person reads on the web
  and through the API: the principal of their staff sign-in (`principal_for_csm`). Having
  people report to you does not widen it; a CSM without a staff sign-in reads their own
  accounts.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from feedback.accounts.models import CSM
from feedback.auth.models import StaffUser
from feedback.ctas.records import CtaView
from feedback.kernel.principal import Principal, Role
from feedback.pools.models import Pool, PoolMember


@dataclass(frozen=True, slots=True)
class CtaScope:
    """The CTAs a CSM principal sees: those `csm_id` owns or whose account is theirs, and
    every CTA of the pools in `pool_ids` (they are an active member of each)."""

    csm_id: int
    pool_ids: frozenset[int] = frozenset()

    def sees(self, cta: CtaView) -> bool:
        return self.csm_id in (cta.owner_id, cta.account_csm) or cta.pool_id in self.pool_ids


def visible_to(principal: Principal) -> int | None:
    """The CSM whose CTAs (owned by them, or of their accounts) the principal sees; None when
    the principal sees every CTA. Without the CTAs of their pools: `cta_scope` has those."""
    return principal.csm_id if principal.role is Role.csm else None


async def pools_of(csm_id: int) -> frozenset[int]:
    """The pools the CSM is an active member of (an inactive CSM is nobody's specialist)."""
    rows = await PoolMember.select(PoolMember.pool).where(
        (PoolMember.csm == csm_id) & (PoolMember.csm.active == True)  # noqa: E712
    )
    return frozenset(row["pool"] for row in rows)


async def cta_scope(principal: Principal) -> CtaScope | None:
    """The CTAs the principal sees (one read of their pools per call); None for every CTA."""
    if principal.role is not Role.csm:
        return None
    if principal.csm_id is None:
        return CtaScope(csm_id=-1)  # a CSM sign-in linked to no CSM sees no CTA
    return CtaScope(principal.csm_id, await pools_of(principal.csm_id))


def can_see(principal: Principal, cta: CtaView, pool_ids: Collection[int] = ()) -> bool:
    """Whether the principal sees the CTA, given the pools they are a member of (`pools_of`;
    without them, only their own CTAs and those of their accounts)."""
    if principal.role is not Role.csm:
        return True
    return principal.csm_id in (cta.owner_id, cta.account_csm) or cta.pool_id in pool_ids


async def may_see(principal: Principal, cta: CtaView) -> bool:
    """`can_see` with the principal's pools read from the database."""
    scope = await cta_scope(principal)
    return scope is None or scope.sees(cta)


def may_change(principal: Principal, cta: CtaView) -> bool:
    """Whether the principal may change the CTA on the web or through the API (the routes'
    guards name the roles): a CSM, only a CTA they own or of their accounts; one their pool
    has is theirs to claim first, and another specialist's stays theirs."""
    return principal.role is not Role.csm or principal.csm_id in (cta.owner_id, cta.account_csm)


async def team_of(csm_id: int) -> set[int]:
    """The CSM and everyone who reports to them, directly or not."""
    rows = await CSM.select(CSM.id, CSM.manager)
    reports: dict[int | None, list[int]] = {}
    for row in rows:
        reports.setdefault(row["manager"], []).append(row["id"])
    team, todo = {csm_id}, [csm_id]
    while todo:
        for member in reports.get(todo.pop(), []):
            if member not in team:
                team.add(member)
                todo.append(member)
    return team


async def may_act(csm_id: int, cta: CtaView) -> bool:
    """Whether a CSM may act on a CTA in Slack: the owner, anyone above the owner (a
    manager), or anyone when nobody owns it; a pool's CTA nobody has claimed, only the
    pool's manager and those above them (its members take it with Claim, not an action)."""
    if cta.pool_id is not None and cta.owner_id is None and cta.status != "closed":
        pool = await Pool.select(Pool.manager).where(Pool.id == cta.pool_id).first()
        manager = None if pool is None else pool["manager"]
        return manager is not None and manager in await team_of(csm_id)
    owner = cta.owner_id if cta.owner_id is not None else cta.account_csm
    if owner is None or owner == csm_id:
        return True
    return owner in await team_of(csm_id)


async def principal_for_csm(csm_id: int, email: str, source: str) -> Principal:
    """A CSM acting as themselves outside the web (Slack): the same role and scope as their
    staff sign-in, the active staff user linked to this CSM (else the one with the CSM's
    email); a CSM without one is a `csm` who sees their own accounts."""
    linked = (
        await StaffUser.select(StaffUser.id, StaffUser.role, StaffUser.csm, StaffUser.email)
        .where(
            (StaffUser.active == True)  # noqa: E712
            & ((StaffUser.csm == csm_id) | (StaffUser.email == email.lower()))
        )
        .order_by(StaffUser.id)
    )
    # the staff user linked to this CSM first, then one with the CSM's email
    linked.sort(key=lambda row: row["csm"] != csm_id)
    if not linked:
        return Principal(role=Role.csm, actor=email, source=source, csm_id=csm_id)
    staff = linked[0]
    return Principal(
        role=Role(staff["role"]),
        actor=email,
        source=source,
        csm_id=staff["csm"] or csm_id,
        staff_user_id=staff["id"],
    )
