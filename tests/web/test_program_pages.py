"""The program pages: admins list, create, edit (a bad step or template names the field),
switch on and off, preview an email and send it to themselves; managers read; anyone who
acts on CTAs enrols by hand and goes back where they came from."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from feedback.auth.services import create_staff_user
from feedback.kernel.principal import Role
from feedback.mail.models import MailMessage
from feedback.programs.jobs import programs_job
from feedback.programs.models import Participant, Program
from feedback.programs.shipped import POOR_NPS, ensure_default_programs
from tests.api.programs.support import NOW, answer, book_with_meeting_links
from tests.support.web import HOSTILE, PASSWORD, csrf_token, sign_in


async def staff(client: Any, role: Role, csm_email: str | None = None) -> None:
    from feedback.auth.services import csm_id_for_email

    email = f"{role.value}@example.com"
    await create_staff_user(email, role, PASSWORD, csm_id=await csm_id_for_email(csm_email, role))
    assert (await sign_in(client, email)).status_code == 303


def form(token: str, **changes: Any) -> dict[str, Any]:
    return {
        "_csrf_token": token,
        "name": "Follow-up",
        "description": "",
        "trigger_kind": "detractor_answer",
        "trigger_days": "",
        "exit_answered": "on",
        "exit_unsubscribed": "on",
        "locale_default": "en",
        "steps": json.dumps(POOR_NPS["steps"]),
        **changes,
    }


async def test_the_list_shows_the_shipped_programs_with_their_counts(client: Any) -> None:
    await book_with_meeting_links()
    await ensure_default_programs(enabled=True)
    await answer("u1", 2, NOW - timedelta(hours=1))
    await programs_job(NOW)
    await staff(client, Role.admin)
    page = await client.get("/programs")
    assert page.status_code == 200
    assert "Onboarding" in page.text and "Poor NPS follow-up" in page.text
    assert "New program" in page.text
    poor_nps = await Program.select(Program.id).where(Program.slug == "poor_nps").first()
    detail = await client.get(f"/programs/{poor_nps['id']}")
    assert detail.status_code == 200
    for text in (
        "Enrolled",
        "Wait 1 day",
        "Email: Thank you for your honest feedback",
        "u1@acme.test",
    ):
        assert text in detail.text


async def test_an_admin_creates_a_program_and_a_mistake_names_the_field(client: Any) -> None:
    await staff(client, Role.admin)
    token = await csrf_token(client, "/programs/new")
    broken = json.loads(json.dumps(POOR_NPS["steps"]))
    broken[1]["templates"]["en"]["html"] = "<p>Hi</p>\n<p>{{ owner.nickname }}</p>"
    refused = await client.post("/programs", data=form(token, steps=json.dumps(broken)))
    assert refused.status_code == 422
    assert "steps[1].templates.en.html: line 2" in refused.text and "nickname" in refused.text
    assert 'value="Follow-up"' in refused.text  # the draft is kept
    not_json = await client.post("/programs", data=form(token, steps="[{"))
    assert not_json.status_code == 422 and "not valid JSON: line 1" in not_json.text
    made = await client.post("/programs", data=form(token))
    assert made.status_code == 303
    program = await Program.select().first()
    assert program["enabled"] is False and program["exit_conditions"] in (
        ["answered", "unsubscribed"],
        '["answered", "unsubscribed"]',
    )
    page = await client.get(made.headers["location"])
    assert "Program created" in page.text


async def test_an_admin_edits_switches_on_and_off_and_deletes(client: Any) -> None:
    await staff(client, Role.admin)
    token = await csrf_token(client, "/programs/new")
    made = await client.post("/programs", data=form(token))
    path = made.headers["location"].split("?")[0]
    edit = await client.get(f"{path}/edit")
    assert edit.status_code == 200 and "Thank you for your honest feedback" in edit.text
    saved = await client.post(path, data=form(token, name=f"Renamed {HOSTILE}"))
    assert saved.status_code == 303
    page = await client.get(path)
    assert HOSTILE not in page.text and "Renamed &lt;script&gt;" in page.text
    assert (await client.post(f"{path}/enable", data={"_csrf_token": token})).status_code == 303
    assert (await Program.select(Program.enabled).first())["enabled"] is True
    assert (await client.post(f"{path}/disable", data={"_csrf_token": token})).status_code == 303
    assert (await Program.select(Program.enabled).first())["enabled"] is False
    gone = await client.post(f"{path}/delete", data={"_csrf_token": token})
    assert gone.headers["location"] == "/programs?done=deleted"
    assert await Program.count() == 0


async def test_a_preview_and_a_test_send_to_yourself(client: Any) -> None:
    [_, poor_nps] = await ensure_default_programs()
    await staff(client, Role.admin)
    preview = await client.get(f"/programs/{poor_nps}/steps/2/preview?locale=ja")
    assert preview.status_code == 200
    assert "アンケートへのご回答ありがとうございました" in preview.text
    assert "sandbox" in preview.text and "Send a test to me" in preview.text
    token = await csrf_token(client, f"/programs/{poor_nps}/steps/2/preview")
    sent = await client.post(
        f"/programs/{poor_nps}/steps/2/test-send", data={"_csrf_token": token, "locale": "ja"}
    )
    assert sent.status_code == 303
    [mail] = await MailMessage.select()
    assert mail["to_address"] == "admin@example.com" and mail["kind"] == "test"
    assert mail["locale"] == "ja"
    wait_step = await client.get(f"/programs/{poor_nps}/steps/1/preview")
    assert wait_step.status_code == 422


async def test_managers_read_and_analysts_and_csms_do_not(client: Any) -> None:
    await book_with_meeting_links()
    [onboarding, _] = await ensure_default_programs()
    await staff(client, Role.manager)
    assert (await client.get("/programs")).status_code == 200
    page = await client.get(f"/programs/{onboarding}")
    assert page.status_code == 200 and "/edit" not in page.text
    assert (await client.get("/programs/new")).status_code == 403


async def test_a_csm_enrols_from_an_account_and_goes_back(client: Any) -> None:
    await book_with_meeting_links()
    [onboarding, _] = await ensure_default_programs()
    await staff(client, Role.csm, "ann@example.com")
    assert (await client.get("/programs")).status_code == 403
    token = await csrf_token(client, "/ctas/")
    enrolled = await client.post(
        f"/programs/{onboarding}/enroll",
        data={
            "_csrf_token": token,
            "account_external_id": "a1",
            "user_external_id": "u1",
            "next": "/accounts/a1",
        },
    )
    assert enrolled.status_code == 303
    assert enrolled.headers["location"] == "/accounts/a1?done=enrolled"
    assert await Participant.count() == 1
    elsewhere = await client.post(
        f"/programs/{onboarding}/enroll",
        data={"_csrf_token": token, "account_external_id": "a2", "next": "https://evil.example/"},
    )
    assert elsewhere.headers["location"] == f"/programs/{onboarding}?done=enrolled"
    bobs = await client.post(
        f"/programs/{onboarding}/enroll", data={"_csrf_token": token, "account_external_id": "b1"}
    )
    assert bobs.status_code == 422
