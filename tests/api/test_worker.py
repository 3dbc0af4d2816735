"""The worker's jobs: an account churns when its churn event takes effect, not before."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feedback.accounts.models import Account, ChurnEvent
from feedback.worker import run_jobs_once
from tests.support.factories import book, import_csv


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


async def test_unanswered_displays_expire_but_late_answers_still_count() -> None:
    import json as json_module
    from typing import Any

    import httpx

    from feedback.app import create_app
    from feedback.responses.models import Response
    from feedback.surveys.models import Display
    from tests.support.factories import ORIGIN, widget_setup

    setup = await widget_setup()
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

        async def post(endpoint: str, body: dict[str, Any]) -> Any:
            return await client.post(
                f"/widget/v1/{setup['key']}/{endpoint}",
                content=json_module.dumps(body),
                headers=ORIGIN,
            )

        shown = (await post("eligibility", {"user_id": "u", "account_id": "a"})).json()
        await Display.update(
            {Display.expires_at: datetime.now(UTC) - timedelta(minutes=1)}, force=True
        )
        assert (await run_jobs_once())["expire_displays"] == 1
        assert (await Display.select(Display.status).first())["status"] == "expired"
        late = await post(
            "responses",
            {"display_token": shown["display_token"], "client_id": "late-answer-1", "score": 6},
        )
        assert late.status_code == 201
    assert await Response.count() == 1
    assert (await Display.select(Display.status).first())["status"] == "answered"
