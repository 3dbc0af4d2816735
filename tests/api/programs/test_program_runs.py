"""Programs at work: triggers enrol people once, due steps queue mail as the CSM, exits hold,
the throttle holds a mail back without sending it twice, and the account page's read."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from feedback.ctas.actions import change_cta
from feedback.ctas.models import Cta
from feedback.mail.enqueue import suppress
from feedback.mail.models import MailMessage
from feedback.programs.jobs import programs_job
from feedback.programs.models import Participant, ParticipantStep, Program
from feedback.programs.reads import programs_of_account
from feedback.programs.shipped import ensure_default_programs
from tests.api.programs.support import (
    NOW,
    account_id,
    add_user,
    answer,
    book_with_meeting_links,
)

DAY = timedelta(days=1)


async def poor_nps_only() -> int:
    await ensure_default_programs(enabled=True)
    await Program.update({Program.enabled: False}).where(Program.slug == "onboarding")
    row = await Program.select(Program.id).where(Program.slug == "poor_nps").first()
    return int(row["id"])


async def mails() -> list[dict]:
    return await MailMessage.select().order_by(MailMessage.id)


async def test_the_shipped_programs_are_created_once_and_switched_off() -> None:
    first = await ensure_default_programs()
    again = await ensure_default_programs()
    assert first == again
    rows = await Program.select(Program.slug, Program.enabled).order_by(Program.slug)
    assert rows == [
        {"slug": "onboarding", "enabled": False},
        {"slug": "poor_nps", "enabled": False},
    ]
    await ensure_default_programs(enabled=True)
    assert all(row["enabled"] for row in await Program.select(Program.enabled))


async def test_a_detractor_gets_the_csms_personal_note_a_day_later() -> None:
    await book_with_meeting_links()
    await poor_nps_only()
    await answer("u1", 3, NOW - timedelta(hours=1), comment="Exports time out")
    await programs_job(NOW)
    assert await mails() == []  # the program waits a day first
    await programs_job(NOW + DAY - timedelta(minutes=1))
    assert await mails() == []
    await programs_job(NOW + DAY)
    [mail] = await mails()
    assert mail["to_address"] == "u1@acme.test"
    assert mail["from_name"] == "Ann" and mail["reply_to"] == "ann@example.com"
    assert mail["kind"] == "program" and mail["locale"] == "en"
    assert "https://cal.example.com/ann" in mail["text"]
    assert "a 3 out of 10" in mail["text"] and "Exports time out" in mail["text"]
    assert '<a href="https://cal.example.com/ann">' in mail["html"]
    assert "/unsubscribe/" in mail["text"]
    # and never again, however often the worker runs
    await programs_job(NOW + DAY)
    await programs_job(NOW + 2 * DAY)
    assert len(await mails()) == 1


async def test_a_japanese_speaker_gets_the_japanese_note() -> None:
    await book_with_meeting_links()
    await poor_nps_only()
    await answer("u2", 5, NOW - timedelta(hours=1))
    await programs_job(NOW)
    await programs_job(NOW + DAY)
    [mail] = await mails()
    assert mail["locale"] == "ja" and mail["to_address"] == "u2@acme.test"
    assert "アンケート" in mail["subject"] and "10点中 5 点" in mail["text"]


async def test_without_a_reply_in_five_days_a_cta_is_raised() -> None:
    await book_with_meeting_links()
    program = await poor_nps_only()
    await answer("u1", 2, NOW - timedelta(hours=1))
    for day in (0, 1, 6):
        await programs_job(NOW + day * DAY)
    ctas = await Cta.select(Cta.type, Cta.reason, Cta.trigger).output(load_json=True)
    [cta] = [c for c in ctas if c["trigger"].get("kind") == "program"]
    assert cta["type"] == "risk" and cta["trigger"]["program_id"] == program
    [participant] = await Participant.select(Participant.state)
    assert participant["state"] == "completed"


async def test_answering_again_ends_the_follow_up_before_the_note() -> None:
    await book_with_meeting_links()
    await poor_nps_only()
    await answer("u1", 2, NOW - timedelta(hours=1))
    await programs_job(NOW)
    await answer("u1", 9, NOW + timedelta(hours=5))
    await programs_job(NOW + DAY)
    assert await mails() == []
    [participant] = await Participant.select(Participant.state, Participant.exit_reason)
    assert participant == {"state": "exited", "exit_reason": "answered"}


async def test_closing_the_answers_cta_ends_the_follow_up() -> None:
    await book_with_meeting_links()
    await poor_nps_only()
    response = await answer("u1", 2, NOW - timedelta(hours=1))
    cta = Cta(
        type="risk",
        reason="Detractor",
        account=await account_id("a1"),
        trigger={"kind": "response", "response_id": response},
    )
    await cta.save()
    await programs_job(NOW)
    await change_cta(
        cta.id, "close", actor="ann", source="web", reason="called them", outcome="contacted"
    )
    await programs_job(NOW + DAY)
    assert await mails() == []
    [participant] = await Participant.select(Participant.exit_reason)
    assert participant["exit_reason"] == "cta_closed"


async def test_an_unsubscribed_person_gets_nothing_more() -> None:
    await book_with_meeting_links()
    await poor_nps_only()
    await answer("u1", 2, NOW - timedelta(hours=1))
    await programs_job(NOW)
    await suppress("u1@acme.test", "unsubscribed", "test", NOW)
    await programs_job(NOW + DAY)
    assert await mails() == []
    [participant] = await Participant.select(Participant.exit_reason)
    assert participant["exit_reason"] == "unsubscribed"


async def test_a_throttled_mail_waits_and_is_sent_once() -> None:
    await book_with_meeting_links()
    await ensure_default_programs(enabled=True)
    # u1 joins: the onboarding welcome goes out at once
    await add_user("u9", "a1", "u9@acme.test", NOW - timedelta(minutes=5))
    await programs_job(NOW)
    [welcome] = await mails()
    # a day later u9 is a detractor: the personal note is due, but the throttle holds it
    await answer("u9", 1, NOW + timedelta(hours=2))
    await programs_job(NOW + timedelta(hours=3))
    await programs_job(NOW + timedelta(hours=3) + DAY)
    assert len(await mails()) == 1
    held = (
        await Participant.select(Participant.next_run_at, Participant.step_index)
        .where(Participant.trigger_key.like("response:%"))
        .first()
    )
    assert held["step_index"] == 1  # the mail step, still to do
    retry_at = held["next_run_at"]
    assert retry_at == welcome["created_at"] + timedelta(days=7)
    await programs_job(retry_at - timedelta(minutes=1))
    assert len(await mails()) == 1
    # on day 7 the note (its retry) and the tips (due too) compete: one goes, one waits
    await programs_job(retry_at)
    await programs_job(retry_at + timedelta(hours=1))
    assert len(await mails()) == 2
    steps = await ParticipantStep.select(ParticipantStep.participant, ParticipantStep.step_index)
    assert len(steps) == len({(s["participant"], s["step_index"]) for s in steps})


async def test_a_person_without_a_valid_address_is_recorded_and_never_retried() -> None:
    await book_with_meeting_links()
    await ensure_default_programs(enabled=True)
    await add_user("u8", "a1", "not an address", NOW - timedelta(minutes=5))
    await programs_job(NOW)
    await programs_job(NOW + timedelta(hours=1))
    assert await mails() == []
    [participant] = await Participant.select(
        Participant.skipped_reason, Participant.step_index, Participant.state
    )
    assert participant["skipped_reason"] == "no_valid_email"
    assert participant["step_index"] == 2  # past the welcome and into the 7-day wait
    steps = await ParticipantStep.select(ParticipantStep.result).order_by(
        ParticipantStep.step_index
    )
    assert [s["result"] for s in steps] == ["refused:invalid_address", "waited"]


async def test_onboarding_welcome_tips_and_check_in() -> None:
    await book_with_meeting_links()
    await ensure_default_programs(enabled=True)
    await add_user("u7", "a2", "u7@globex.test", NOW - timedelta(minutes=1))
    await programs_job(NOW)
    await programs_job(NOW + 7 * DAY)
    subjects = [m["subject"] for m in await mails()]
    assert subjects == ["Welcome aboard", "Your first week: three things that help"]
    await programs_job(NOW + 29 * DAY)
    assert not await Cta.exists().where(Cta.type == "onboarding")
    await programs_job(NOW + 30 * DAY)
    [cta] = await Cta.select(Cta.reason, Cta.detail).where(Cta.type == "onboarding")
    assert cta["reason"] == "30-day onboarding check-in" and "u7@globex.test" in cta["detail"]


async def test_two_workers_at_once_enrol_and_send_once() -> None:
    await book_with_meeting_links()
    await ensure_default_programs(enabled=True)
    for n in range(5):
        await add_user(f"w{n}", "a1", f"w{n}@acme.test", NOW - timedelta(minutes=1))
    await asyncio.gather(programs_job(NOW), programs_job(NOW), programs_job(NOW))
    assert await Participant.count() == 5
    assert len(await mails()) == 5


async def test_a_disabled_program_enrols_nobody_and_its_participants_wait() -> None:
    await book_with_meeting_links()
    program = await poor_nps_only()
    await answer("u1", 2, NOW - timedelta(hours=1))
    await programs_job(NOW)
    await Program.update({Program.enabled: False}).where(Program.id == program)
    await answer("u2", 2, NOW + timedelta(hours=1))
    await programs_job(NOW + DAY)
    assert await Participant.count() == 1 and await mails() == []


async def test_the_account_page_read_shows_programs_and_their_mails() -> None:
    await book_with_meeting_links()
    await poor_nps_only()
    await answer("u1", 3, NOW - timedelta(hours=1))
    await programs_job(NOW)
    await programs_job(NOW + DAY)
    [entry] = await programs_of_account(await account_id("a1"))
    assert entry.program_name == "Poor NPS follow-up"
    assert entry.person == "u1@acme.test" and entry.state == "active"
    assert [(s.kind, s.result) for s in entry.steps] == [
        ("wait", "waited"),
        ("email", "sent"),
        ("wait", "waited"),  # the 5 days before the CTA began
    ]
    [mail] = entry.mails
    assert mail.mail_status == "pending" and mail.subject == "Thank you for your honest feedback"
    assert await programs_of_account(await account_id("b1")) == []
