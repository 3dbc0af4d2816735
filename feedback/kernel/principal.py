"""Who is calling: a role, and the scope of accounts it sees."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    admin = "admin"  # everything
    manager = "manager"  # read all, act on CTAs
    csm = "csm"  # their own accounts
    analyst = "analyst"  # read reports


@dataclass(frozen=True)
class Principal:
    """Who is calling, and through what: an API token or a signed-in staff user."""

    role: Role
    actor: str
    source: str  # "api" or "web"
    csm_id: int | None = None
    staff_user_id: int | None = None
    token_id: int | None = None

    def can_see_csm(self, csm_id: int | None) -> bool:
        if self.role is Role.csm:
            return csm_id is not None and csm_id == self.csm_id
        return True
