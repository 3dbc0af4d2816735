"""Erasing users and accounts on request, exporting an account, retiring old comments."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from feedback.accounts.models import Account, EndUser
from feedback.auth.models import AuditEntry
from feedback.ctas.models import Cta
from feedback.ctas.rules import drain_answer_rules
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Role
from feedback.lifecycle.services import expire_old_comments
from feedback.responses.models import Response
from tests.support.factories import ORIGIN, bearer, book, import_csv, token, widget_setup
from tests.support.processes import feedback

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


async def answer(client: httpx.AsyncClient, user: str, score: int, comment: str) -> None:
    setup = await widget_setup()
    shown = await client.post(
        f"/widget/v1/{setup['key']}/eligibility",
        content=json.dumps({"user_id": user, "account_id": "a1"}),
        headers=TEXT,
    )
    display = shown.json()["display_token"]
    for endpoint, body in (
        ("responses", {"display_token": display, "client_id": f"client-{user}", "score": score}),
        ("comments", {"display_token": display, "comment": comment}),
    ):
        sent = await client.post(
            f"/widget/v1/{setup['key']}/{endpoint}", content=json.dumps(body), headers=TEXT
        )
        assert sent.status_code in (200, 201), sent.text
    await drain_answer_rules()  # what the service's rule runner does within a second


async def test_erasing_a_user_anonymises_their_answers_and_ctas(client: httpx.AsyncClient) -> None:
    await book()
    await answer(client, "u1", 2, "My manager Jane Doe makes this unusable")
    admin = bearer(await token(Role.admin))
    erased = await client.delete("/api/v1/users/u1", headers=admin)
    assert erased.status_code == 200, erased.text
    assert erased.json() == {"user": "u1", "mode": "anonymise", "responses": 1, "ctas": 1}
    assert not await EndUser.exists().where(EndUser.external_id == "u1")
    response = await Response.select().first()
    # the score and the segment snapshot stay for the reports; the person does not
    assert response["score"] == 2 and response["plan"] == "premium"
    assert response["end_user"] is None and response["comment"] is None
    cta = await Cta.select().output(load_json=True).first()
    assert "Jane Doe" not in json.dumps(cta, default=str)
    audit = await AuditEntry.select().where(AuditEntry.action == "erase.user").first()
    assert audit["target"] == "u1" and "Jane" not in json.dumps(audit["detail"])
    again = await client.delete("/api/v1/users/u1", headers=admin)
    assert again.status_code == 404 and again.json()["detail"][0]["field"] == "user"


async def test_erasing_with_mode_delete_removes_the_answers(client: httpx.AsyncClient) -> None:
    await book()
    await answer(client, "u1", 9, "good")
    admin = bearer(await token(Role.admin))
    bad = await client.delete("/api/v1/users/u1?mode=shred", headers=admin)
    assert bad.status_code == 400 and bad.json()["detail"][0]["field"] == "mode"
    assert await Response.count() == 1  # nothing half-done
    done = await client.delete("/api/v1/users/u1?mode=delete", headers=admin)
    assert done.status_code == 200 and await Response.count() == 0


async def test_erasing_an_account(client: httpx.AsyncClient) -> None:
    await book()
    await answer(client, "u1", 3, "call me at +1 555 0100")
    admin = bearer(await token(Role.admin))
    kept = await client.delete("/api/v1/accounts/a1", headers=admin)
    assert kept.status_code == 200, kept.text
    assert kept.json()["users"] == 2 and kept.json()["responses"] == 1
    account = await Account.select().where(Account.name == "(erased)").first()
    assert account["external_id"].startswith("erased-") and account["plan"] == "premium"
    assert await EndUser.count().where(EndUser.account == account["id"]) == 0
    assert (await Response.select(Response.comment).first())["comment"] is None
    gone = await client.delete("/api/v1/accounts/a2?mode=delete", headers=admin)
    assert gone.status_code == 200
    assert not await Account.exists().where(Account.external_id == "a2")
    assert (await client.delete("/api/v1/accounts/a1", headers=admin)).status_code == 404


async def test_only_admins_erase_or_export(client: httpx.AsyncClient) -> None:
    await book()
    for role in (Role.manager, Role.analyst):
        headers = bearer(await token(role))
        assert (await client.delete("/api/v1/users/u1", headers=headers)).status_code == 403
        assert (await client.get("/api/v1/accounts/a1/export", headers=headers)).status_code == 403


async def test_exporting_an_account(client: httpx.AsyncClient) -> None:
    await book()
    await answer(client, "u2", 10, "ラブ it")
    admin = bearer(await token(Role.admin))
    exported = await client.get("/api/v1/accounts/a1/export", headers=admin)
    assert exported.status_code == 200
    data = exported.json()
    assert data["account"]["external_id"] == "a1"
    assert {u["external_id"] for u in data["end_users"]} == {"u1", "u2"}
    assert [r["comment"] for r in data["responses"]] == ["ラブ it"]
    assert [c["type"] for c in data["ctas"]] == ["advocacy"]
    assert data["cta_history"][0]["action"] == "created"


async def test_old_comments_are_removed_after_the_retention_period() -> None:
    await book()
    now = utcnow()
    await import_csv(
        "responses",
        "response_id,account_id,user_id,score,comment,answered_at\n"
        f"r1,a1,u1,8,old words,{(now - timedelta(days=400)).isoformat()}\n"
        f"r2,a1,u2,9,new words,{(now - timedelta(days=20)).isoformat()}\n",
    )
    assert await expire_old_comments(0, now) == 0  # 0 = keep forever
    assert await expire_old_comments(12, now) == 1
    rows = {r["comment"] for r in await Response.select(Response.comment)}
    assert rows == {None, "new words"}


async def test_the_cli_erases_and_exports(database_url: str, tmp_dir: Path) -> None:
    await book()
    env = {"FEEDBACK_DATABASE_URL": database_url}
    out = tmp_dir / "a1.json"
    exported = await asyncio.to_thread(
        feedback, "export", "account", "a1", "--output", str(out), env=env
    )
    assert exported.returncode == 0, exported.stderr
    assert json.loads(out.read_text())["account"]["name"] == "Acme"
    erased = await asyncio.to_thread(feedback, "erase", "user", "u3", "--yes", env=env)
    assert erased.returncode == 0, erased.stderr
    result: dict[str, Any] = json.loads(erased.stdout)
    assert result["user"] == "u3"
    missing = await asyncio.to_thread(feedback, "erase", "user", "nobody", "--yes", env=env)
    assert missing.returncode != 0 and "no user" in missing.stderr
