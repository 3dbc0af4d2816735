"""The programs API: admins write, managers and analysts read; definitions and templates
that make no sense are 422s naming the field; preview, test send, enrolment and numbers."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import httpx

from feedback.auth.services import create_staff_user
from feedback.kernel.principal import Role
from feedback.mail.models import MailMessage
from feedback.programs.jobs import programs_job
from feedback.programs.models import Participant
from feedback.programs.shipped import POOR_NPS, ensure_default_programs
from tests.api.programs.support import NOW, answer, book_with_meeting_links
from tests.support.factories import bearer, token
from tests.support.web import PASSWORD

API = "/api/v1/programs"


def definition(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(POOR_NPS)
    data["name"] = "Follow-up"
    data.update(changes)
    return data


async def admin(client: httpx.AsyncClient) -> dict[str, str]:
    return bearer(await token(Role.admin))


async def test_an_admin_creates_reads_changes_and_switches_a_program(
    client: httpx.AsyncClient,
) -> None:
    headers = await admin(client)
    created = await client.post(API, json=definition(), headers=headers)
    assert created.status_code == 201, created.text
    program = created.json()
    assert program["enabled"] is False and program["trigger"]["kind"] == "detractor_answer"
    assert program["steps"][0] == {"kind": "wait", "days": 1}
    changed = await client.put(
        f"{API}/{program['id']}", json=definition(name="Renamed"), headers=headers
    )
    assert changed.json()["name"] == "Renamed"
    enabled = await client.post(f"{API}/{program['id']}/enable", headers=headers)
    assert enabled.json()["enabled"] is True
    listed = await client.get(API, headers=headers)
    assert [(p["name"], p["participants"]["enrolled"]) for p in listed.json()] == [("Renamed", 0)]
    assert (await client.post(f"{API}/{program['id']}/disable", headers=headers)).json()[
        "enabled"
    ] is False


async def test_a_bad_definition_is_a_422_naming_the_field(client: httpx.AsyncClient) -> None:
    headers = await admin(client)
    steps = definition()["steps"]
    cases = {
        "steps[0].days": definition(steps=[{"kind": "wait", "days": -1}, *steps[1:]]),
        "steps[5]": definition(steps=[*steps, {"kind": "end"}, {"kind": "wait", "days": 1}]),
        "steps[3].type": definition(steps=[*steps[:3], {**steps[3], "type": "nope"}]),
        "trigger.kind": definition(trigger={"kind": "full_moon"}),
    }
    for field, body in cases.items():
        answer_ = await client.post(API, json=body, headers=headers)
        assert answer_.status_code == 422, (field, answer_.text)
        assert answer_.json()["detail"][0]["field"] == field


async def test_a_template_that_does_not_render_names_the_step_and_line(
    client: httpx.AsyncClient,
) -> None:
    headers = await admin(client)
    steps = definition()["steps"]
    broken = copy.deepcopy(steps[1])
    broken["templates"]["ja"]["text"] = "一行目\n{{ owner.calendar }}"
    answer_ = await client.post(
        API, json=definition(steps=[steps[0], broken, *steps[2:]]), headers=headers
    )
    assert answer_.status_code == 422
    problem = answer_.json()["detail"][0]
    assert problem["field"] == "steps[1].templates.ja.text"
    assert problem["message"].startswith("line 2:") and "calendar" in problem["message"]


async def test_a_name_is_taken_once(client: httpx.AsyncClient) -> None:
    headers = await admin(client)
    assert (await client.post(API, json=definition(), headers=headers)).status_code == 201
    again = await client.post(API, json=definition(), headers=headers)
    assert again.status_code == 409 and again.json()["detail"][0]["field"] == "name"


async def test_managers_and_analysts_read_but_do_not_write(client: httpx.AsyncClient) -> None:
    program = (await client.post(API, json=definition(), headers=await admin(client))).json()
    for role in (Role.manager, Role.analyst):
        headers = bearer(await token(role))
        assert (await client.get(f"{API}/{program['id']}", headers=headers)).status_code == 200
        assert (
            await client.get(f"{API}/{program['id']}/stats", headers=headers)
        ).status_code == 200
        put = await client.put(f"{API}/{program['id']}", json=definition(), headers=headers)
        assert put.status_code == 403
    await book_with_meeting_links()
    csm = bearer(await token(Role.csm, "ann@example.com"))
    assert (await client.get(API, headers=csm)).status_code == 403


async def test_a_preview_renders_an_email_for_a_sample_participant(
    client: httpx.AsyncClient,
) -> None:
    headers = await admin(client)
    program = (await client.post(API, json=definition(), headers=headers)).json()
    preview = await client.get(f"{API}/{program['id']}/steps/2/preview?locale=ja", headers=headers)
    assert preview.status_code == 200
    body = preview.json()
    assert body["subject"] == "アンケートへのご回答ありがとうございました"
    assert "https://cal.example.com/sam" in body["text"] and "<p>" in body["html"]
    wait = await client.get(f"{API}/{program['id']}/steps/1/preview", headers=headers)
    assert wait.status_code == 422 and wait.json()["detail"][0]["field"] == "step"
    assert (
        await client.get(f"{API}/{program['id']}/steps/9/preview", headers=headers)
    ).status_code == 404


async def test_a_test_send_goes_to_a_staff_user_never_a_customer(
    client: httpx.AsyncClient,
) -> None:
    await book_with_meeting_links()
    await create_staff_user("admin@example.com", Role.admin, PASSWORD)
    headers = await admin(client)
    program = (await client.post(API, json=definition(), headers=headers)).json()
    url = f"{API}/{program['id']}/steps/2/test-send"
    nobody = await client.post(url, headers=headers)
    assert nobody.status_code == 422 and nobody.json()["detail"][0]["field"] == "to"
    customer = await client.post(url, json={"to": "u1@acme.test"}, headers=headers)
    assert customer.status_code == 422
    sent = await client.post(url, json={"to": "Admin@example.com", "locale": "ja"}, headers=headers)
    assert sent.status_code == 202, sent.text
    [mail] = await MailMessage.select()
    assert mail["to_address"] == "admin@example.com" and mail["kind"] == "test"
    assert mail["subject"] == "[Test] アンケートへのご回答ありがとうございました"


async def test_enrolling_by_hand_from_a_cta_or_an_account(client: httpx.AsyncClient) -> None:
    await book_with_meeting_links()
    headers = await admin(client)
    program = (await client.post(API, json=definition(), headers=headers)).json()
    url = f"{API}/{program['id']}/participants"
    enrolled = await client.post(
        url, json={"account_external_id": "a1", "user_external_id": "u1"}, headers=headers
    )
    assert enrolled.status_code == 201, enrolled.text
    again = await client.post(
        url, json={"account_external_id": "a1", "user_external_id": "u1"}, headers=headers
    )
    assert again.status_code == 409
    unknown = await client.post(
        url, json={"account_external_id": "a1", "user_external_id": "u4"}, headers=headers
    )
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["field"] == "user_external_id"
    # a CSM enrols on their own accounts only
    ann = bearer(await token(Role.csm, "ann@example.com"))
    assert (
        await client.post(url, json={"account_external_id": "a2"}, headers=ann)
    ).status_code == 201
    bobs = await client.post(url, json={"account_external_id": "b1"}, headers=ann)
    assert bobs.status_code == 422
    listed = await client.get(url, headers=headers)
    assert [(p["account_external_id"], p["user_external_id"]) for p in listed.json()] == [
        ("a2", None),
        ("a1", "u1"),
    ]


async def test_stats_count_participants_mails_and_exits(client: httpx.AsyncClient) -> None:
    await book_with_meeting_links()
    [_, poor_nps] = await ensure_default_programs(enabled=True)
    now = NOW
    await answer("u1", 2, now - timedelta(hours=1))
    await answer("u2", 2, now - timedelta(hours=1))
    await programs_job(now)
    await answer("u2", 10, now + timedelta(hours=2))  # u2 answers again: exits
    await programs_job(now + timedelta(days=1))
    stats = (await client.get(f"{API}/{poor_nps}/stats", headers=await admin(client))).json()
    assert stats["enrolled"] == 2 and stats["active"] == 1 and stats["exited"] == 1
    assert stats["exited_by_reason"] == {"answered": 1}
    assert stats["steps"][1]["mails"] == {"pending": 1}
    assert stats["mails_queued"] == 1 and stats["mails_sent"] == 0
    assert await Participant.count() == 2


async def test_deleting_a_program_archives_it_once_someone_was_enrolled(
    client: httpx.AsyncClient,
) -> None:
    await book_with_meeting_links()
    headers = await admin(client)
    empty = (await client.post(API, json=definition(), headers=headers)).json()
    assert (await client.delete(f"{API}/{empty['id']}", headers=headers)).json() == {
        "result": "deleted"
    }
    used = (await client.post(API, json=definition(), headers=headers)).json()
    await client.post(
        f"{API}/{used['id']}/participants", json={"account_external_id": "a1"}, headers=headers
    )
    assert (await client.delete(f"{API}/{used['id']}", headers=headers)).json() == {
        "result": "archived"
    }
    assert (await client.get(API, headers=headers)).json() == []
    assert len((await client.get(f"{API}?archived=true", headers=headers)).json()) == 1
    assert (await client.post(f"{API}/{used['id']}/enable", headers=headers)).status_code == 409
