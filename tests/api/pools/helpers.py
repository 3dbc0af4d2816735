"""A small book with pooled specialists: the two CSMs of `book()` and their manager, two
specialists (Sam, Pat) in one pool serving the free and starter plans, and two accounts
without a CSM (p1 free, p2 starter) besides `book()`'s."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from feedback.accounts.models import CSM, Account
from feedback.ctas.signals import Signal, raise_signal
from feedback.db import write_transaction
from feedback.pools.services import PoolView, create_pool, update_csm_profile
from tests.support.factories import book, import_csv


async def csm_id(email: str) -> int:
    return (await CSM.select(CSM.id).where(CSM.email == email).first())["id"]


async def account_id(external_id: str) -> int:
    row = await Account.select(Account.id).where(Account.external_id == external_id).first()
    return row["id"]


async def pooled_book(**pool: Any) -> PoolView:
    await book()
    result = await import_csv(
        "csms",
        "email,name,manager_email\n"
        "sam@example.com,Sam Specialist,boss@example.com\n"
        "pat@example.com,Pat Specialist,boss@example.com\n",
    )
    assert result.ok, result.errors
    for email in ("sam@example.com", "pat@example.com"):
        await update_csm_profile(
            await csm_id(email),
            {"kind": "pooled", "meeting_url": f"https://cal.example/{email[:3]}"},
            actor="test",
            source="test",
        )
    result = await import_csv(
        "accounts",
        "external_id,name,plan,employee_count,arr\n"
        "p1,Tiny Co,free,5,100\n"
        "p2,Small Co,starter,30,2000\n"
        "p3,Big Nobody,enterprise,900,90000\n",
    )
    assert result.ok, result.errors
    settings = {
        "name": "Scale team",
        "slack_channel": "#scale",
        "rule": "round_robin",
        "audience": {"plan": ["free", "starter"]},
        "manager_email": "boss@example.com",
        "meeting_url": "https://cal.example/scale",
        **pool,
    }
    return await create_pool(
        settings, ["sam@example.com", "pat@example.com"], actor="test", source="test"
    )


async def raise_cta(external_id: str, reason: str = "Detractor answer", *, now: datetime) -> int:
    async with write_transaction():
        cta_id, _ = await raise_signal(
            Signal(
                await account_id(external_id),
                "risk",
                reason,
                "a detractor answered",
                2,
                None,
                {"kind": "response", "score": 3},
            ),
            now,
        )
    return cta_id
