"""The worker's jobs: an account churns when its churn event takes effect, not before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feedback.accounts.models import Account, ChurnEvent
from feedback.worker import run_jobs_once
from tests.factories import book, import_csv


async def test_an_account_churns_once_its_notice_takes_effect() -> None:
    await book()
    soon = datetime.now(UTC) + timedelta(days=10)
    result = await import_csv(
        "churn", f"account_id,noticed_at,effective_at\na1,2025-06-01,{soon.isoformat()}\n"
    )
    assert result.ok
    assert (await run_jobs_once())["apply_due_churn"] == 0
    status = await Account.select(Account.status).where(Account.external_id == "a1").first()
    assert status["status"] == "active"

    await ChurnEvent.update(
        {ChurnEvent.effective_at: datetime.now(UTC) - timedelta(seconds=1)}, force=True
    )
    assert (await run_jobs_once())["apply_due_churn"] == 1
    status = await Account.select(Account.status).where(Account.external_id == "a1").first()
    assert status["status"] == "churned"
    assert (await run_jobs_once())["apply_due_churn"] == 0  # idempotent
