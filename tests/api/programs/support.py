"""Test data for programs: the book of tests/support/factories.py and answers stored as the
widget stores them (with their own timestamps, so a test drives the clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from feedback.accounts.models import CSM, Account, EndUser
from feedback.responses.models import Response
from tests.support.factories import book

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


async def book_with_meeting_links() -> None:
    await book()
    # the book's users joined long ago: only the users a test adds are new
    await EndUser.update({EndUser.created_at: NOW - timedelta(days=90)}, force=True)
    await CSM.update({CSM.meeting_url: "https://cal.example.com/ann"}).where(
        CSM.email == "ann@example.com"
    )


async def ids(user: str) -> tuple[int, int]:
    row = (
        await EndUser.select(EndUser.id, EndUser.account).where(EndUser.external_id == user).first()
    )
    assert row is not None
    return row["id"], row["account"]


async def answer(user: str, score: int, at: datetime, comment: str | None = None) -> int:
    end_user, account = await ids(user)
    response = Response(
        idempotency_key=f"{user}-{at.isoformat()}-{score}",
        source="widget",
        end_user=end_user,
        account=account,
        score=score,
        comment=comment,
        commented_at=at if comment else None,
        answered_at=at,
        created_at=at,
    )
    await response.save()
    return int(response.id)


async def account_id(external_id: str = "a1") -> int:
    row = await Account.select(Account.id).where(Account.external_id == external_id).first()
    assert row is not None
    return int(row["id"])


async def add_user(
    external_id: str, account: str, email: str | None, at: datetime, **more: Any
) -> int:
    user = EndUser(
        external_id=external_id,
        account=await account_id(account),
        email=email,
        created_at=at,
        updated_at=at,
        **more,
    )
    await user.save()
    return int(user.id)
