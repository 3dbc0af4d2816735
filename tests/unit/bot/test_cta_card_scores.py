"""A CTA card says which score it shows: a health alert's health score is out of 100, an
answer's score out of 10 (a health score 33 once read "33 / 10")."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from bot.blocks import cta_blocks
from feedback.ctas.records import CtaView


def view(trigger: dict[str, Any]) -> CtaView:
    values: dict[str, Any] = {f.name: None for f in fields(CtaView)}
    values.update(
        id=1,
        type="health_alert",
        reason="Health dropped",
        detail="",
        priority=1,
        account_id=1,
        status="open",
        snooze_reason="",
        close_reason="",
        trigger=trigger,
        version=1,
        account_external_id="a1",
        account_name="Acme",
        priority_label="high",
    )
    return CtaView(**values)


def card_text(trigger: dict[str, Any]) -> str:
    _, blocks = cta_blocks(view(trigger), "https://feedback.example", "Health alert")
    return json.dumps(blocks)


def test_a_health_alert_shows_the_health_score_out_of_100() -> None:
    text = card_text({"kind": "health", "score": 33, "band": "red"})
    assert "*Health score*\\n33 / 100" in text
    assert '/ 10"' not in text and "33 / 10" not in text.replace("33 / 100", "")


def test_an_answer_shows_its_score_out_of_10() -> None:
    text = card_text({"kind": "response", "score": 3})
    assert "*Score*\\n3 / 10" in text and "/ 100" not in text


def test_the_card_shows_arr_in_the_accounts_currency() -> None:
    cta = view({"kind": "response", "score": 3})
    euro = CtaView(
        **{
            **{f.name: getattr(cta, f.name) for f in fields(CtaView)},
            "arr_cents": 123456700,
            "currency": "EUR",
        }
    )
    _, blocks = cta_blocks(euro, "https://feedback.example", "Detractor")
    assert "*ARR*\\n€1,234,567" in json.dumps(blocks, ensure_ascii=False)
