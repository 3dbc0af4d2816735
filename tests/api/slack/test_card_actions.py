"""The card's newer actions over signed HTTP: snooze to a chosen date with a reason (a
modal), change the due date (a date picker), add a note (a modal), reopen, close with an
outcome; and the App Home, the person's Today."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx

from devtools.slack_standin import SlackStandIn
from feedback.ctas.models import Cta, CtaEvent
from feedback.kernel.clock import utcnow
from feedback.settings import Settings
from tests.support.factories import book
from tests.support.slack import (
    block_action,
    interaction,
    link_slack_users,
    only_cta,
    post_signed,
    widget_answer,
)


def submission(user: str, view: dict[str, Any], values: dict[str, Any]) -> str:
    return interaction(
        {
            "type": "view_submission",
            "team": {"id": "T1"},
            "user": {"id": user, "team_id": "T1"},
            "api_app_id": "A1",
            "token": "legacy",
            "trigger_id": "trigger-9",
            "view": {**view, "id": "V1", "state": {"values": values}},
        }
    )


def typed(text: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": text}}


async def opened_view(
    client: httpx.AsyncClient, standin: SlackStandIn, action: dict[str, Any]
) -> dict[str, Any]:
    assert (await post_signed(client, interaction(block_action("UANN", action)))).status_code == 200
    return standin.calls_to("views.open")[-1].args["view"]


async def history() -> list[tuple[str, str]]:
    rows = await CtaEvent.select(CtaEvent.action, CtaEvent.note).order_by(CtaEvent.id)
    return [(row["action"], row["note"]) for row in rows]


async def test_snooze_to_a_date_with_a_reason(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 3, "Slow")
    cta = await only_cta()
    ref = f"{cta['id']}:{cta['version']}"
    view = await opened_view(
        slack_client,
        standin,
        {
            "action_id": "cta_snooze",
            "type": "static_select",
            "selected_option": {"value": f"{ref}:pick", "text": {"type": "plain_text"}},
        },
    )
    assert view["callback_id"] == "cta_snooze_modal"
    today = utcnow().date()
    until = today + timedelta(days=10)

    def values(day: str, reason: str) -> dict[str, Any]:
        return {
            "until": {"value": {"type": "datepicker", "selected_date": day}},
            "reason": typed(reason),
        }

    past = await post_signed(slack_client, submission("UANN", view, values(today.isoformat(), "x")))
    assert past.json()["response_action"] == "errors" and "until" in past.json()["errors"]
    silent = await post_signed(
        slack_client, submission("UANN", view, values(until.isoformat(), " "))
    )
    assert "reason" in silent.json()["errors"]
    done = await post_signed(
        slack_client, submission("UANN", view, values(until.isoformat(), "waiting on their IT"))
    )
    assert done.status_code == 200 and not done.content
    row = await only_cta()
    assert row["status"] == "snoozed" and row["snoozed_until"].date() == until
    assert row["snooze_reason"] == "waiting on their IT"


async def test_the_due_date_picker_and_a_note(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 3, "Slow")
    cta = await only_cta()
    due = utcnow().date() + timedelta(days=20)
    picked = block_action(
        "UANN", {"action_id": "cta_due", "type": "datepicker", "selected_date": due.isoformat()}
    )
    picked["actions"][0]["block_id"] = f"cta:{cta['id']}"
    assert (await post_signed(slack_client, interaction(picked))).status_code == 200
    assert (await only_cta())["due_on"] == due

    view = await opened_view(
        slack_client,
        standin,
        {"action_id": "cta_note", "type": "button", "value": f"{cta['id']}:{cta['version']}"},
    )
    assert view["callback_id"] == "cta_note_modal"
    empty = await post_signed(slack_client, submission("UANN", view, {"note": typed("")}))
    assert "note" in empty.json()["errors"]
    await post_signed(slack_client, submission("UANN", view, {"note": typed("Called Jo")}))
    actions = await history()
    assert [a for a, _ in actions] == ["created", "set_due", "note"]
    assert actions[-1][1] == "Called Jo"


async def test_close_with_an_outcome_then_reopen(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 3, "Slow")
    cta = await only_cta()
    view = await opened_view(
        slack_client,
        standin,
        {"action_id": "cta_close", "type": "button", "value": f"{cta['id']}:{cta['version']}"},
    )
    outcomes = [
        option["value"]
        for block in view["blocks"]
        if block.get("block_id") == "outcome"
        for option in block["element"]["options"]
    ]
    assert outcomes == ["contacted", "resolved", "no_response", "not_actionable", "churned"]
    chosen = {
        "outcome": {"value": {"type": "static_select", "selected_option": {"value": "contacted"}}}
    }
    # the note is optional once the outcome is chosen
    done = await post_signed(
        slack_client, submission("UANN", view, {**chosen, "reason": typed("")})
    )
    assert done.status_code == 200 and not done.content
    closed = await only_cta()
    assert (closed["status"], closed["outcome"]) == ("closed", "contacted")

    reopen = block_action(
        "UANN",
        {"action_id": "cta_reopen", "type": "button", "value": f"{cta['id']}:{closed['version']}"},
    )
    assert (await post_signed(slack_client, interaction(reopen))).status_code == 200
    assert (await only_cta())["status"] == "open"


async def test_the_app_home_is_the_persons_today(
    slack_client: httpx.AsyncClient, standin: SlackStandIn, settings: Settings
) -> None:
    await book()
    await link_slack_users()
    await widget_answer(slack_client, 2, "Exports fail")
    cta = await only_cta()
    await Cta.update({Cta.due_on: utcnow().date() - timedelta(days=2)}).where(Cta.id == cta["id"])
    event = {
        "token": "legacy",
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event_id": "EvToday",
        "event_time": int(time.time()),
        "event": {"type": "app_home_opened", "user": "UANN", "channel": "D1", "tab": "home"},
    }
    assert (await post_signed(slack_client, json.dumps(event))).status_code == 200
    (published,) = standin.calls_to("views.publish")
    blocks = published.args["view"]["blocks"]
    assert len(blocks) <= 100
    headers = [b["text"]["text"] for b in blocks if b["type"] == "header"]
    assert headers[1:] == [
        "Overdue (1)",
        "Due today (0)",
        "New detractors (1)",
        "Accounts in the red (0)",
    ]
    shown = json.dumps(blocks, ensure_ascii=False)
    assert "*1* overdue" in shown and "*1* new detractors" in shown
    assert "https://feedback.example.com/today" in shown
    assert "https://feedback.example.com/accounts/a1" in shown
    (overdue,) = [b for b in blocks if b.get("accessory", {}).get("action_id") == "cta_ack"]
    assert overdue["accessory"]["value"] == f"{cta['id']}:{cta['version']}"

    # acknowledged from the Home: the Home shows it at once
    ack = block_action(
        "UANN", {"action_id": "cta_ack", "type": "button", "value": overdue["accessory"]["value"]}
    )
    ack["container"] = {"type": "view", "view_id": "V1"}
    ack["view"] = {"id": "V1", "type": "home", "callback_id": ""}
    del ack["channel"], ack["message"]
    assert (await post_signed(slack_client, interaction(ack))).status_code == 200
    assert (await only_cta())["status"] == "acknowledged"
    again = standin.calls_to("views.publish")[-1].args["view"]["blocks"]
    assert len(standin.calls_to("views.publish")) == 2
    assert not [b for b in again if b.get("accessory", {}).get("action_id") == "cta_ack"]
