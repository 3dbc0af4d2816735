"""Who sees a CTA and who may act on it: the one place for the CSM and manager scope, used by
the API, the pages and the Slack bot alike.

- A principal with the csm role sees the CTAs they own and those of their accounts; every
  other role sees every CTA (and the roles that may act are the routes' guards).
- In Slack a CSM acts as themselves: on the CTAs they own (or, when nobody owns one, of
  their accounts), on those of anyone who reports to them, directly or not (a manager), and
  on CTAs nobody owns.
- What a CSM reads in Slack (`/nps`, the App Home) is what the same person reads on the web
  and through the API: the principal of their staff sign-in (`principal_for_csm`). Having
  people report to you does not widen it; a CSM without a staff sign-in reads their own
  accounts.
"""

from __future__ import annotations

from feedback.accounts.models import CSM
from feedback.auth.models import StaffUser
from feedback.ctas.records import CtaView
from feedback.kernel.principal import Principal, Role


def visible_to(principal: Principal) -> int | None:
    """The CSM whose CTAs (owned by them, or of their accounts) the principal sees; None when
    the principal sees every CTA."""
    return principal.csm_id if principal.role is Role.csm else None


def can_see(principal: Principal, cta: CtaView) -> bool:
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
    manager), or anyone when nobody owns it."""
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
