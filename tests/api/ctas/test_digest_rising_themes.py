"""The daily digest's "Themes rising this week": the comment themes rising in the recipient's
own accounts, at most three, their names escaped for Slack; a digest that has nothing else to
say is still sent for them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.blocks import digest_blocks
from feedback.accounts.models import Account
from feedback.health.models import HealthSnapshot
from feedback.outbox.digests import enqueue_digests
from feedback.outbox.messages import Digest, DigestTheme
from feedback.outbox.models import Outbox
from feedback.runtime import use_slack_messages
from feedback.settings import get_settings
from feedback.themes.assign import assign_new_comments
from feedback.themes.curate import create_keyword_theme
from tests.support.factories import book, import_csv
from tests.support.slack import link_slack_users, slack_env

# the digest hour is 08:00 UTC
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
INVOICE = "The invoice is wrong again"
SLOW = "The dashboard is slow"
ANN, BOB = ("a1", "u1"), ("b1", "u4")  # an account and a user of each CSM


@pytest.fixture
async def slack(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[None]:
    """Slack configured (digests are only queued then) and its Block Kit installed."""
    await book()
    await link_slack_users()
    for name, value in slack_env("http://127.0.0.1:9/api/").items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    use_slack_messages()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


async def answered(rows: Sequence[tuple[tuple[str, str], str, datetime]]) -> None:
    """Passives' answers (no detractor, so no CTA) with these comments at these times,
    themed as the daily job themes them."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["response_id", "account_id", "user_id", "score", "comment", "answered_at"])
    for n, ((account, user), comment, at) in enumerate(rows):
        writer.writerow([f"t{n}", account, user, 8, comment, at.isoformat()])
    result = await import_csv("responses", out.getvalue())
    assert result.ok, result.errors
    assert await assign_new_comments(NOW) == len(rows)


def days_ago(*days: float) -> list[datetime]:
    return [NOW - timedelta(days=d) for d in days]


async def digests() -> dict[str, dict[str, Any]]:
    """The queued digests by channel: their fallback text and their blocks as JSON text."""
    rows = await Outbox.select().where(Outbox.kind == "digest").output(load_json=True)
    return {
        row["channel"]: {
            "text": row["payload"]["text"],
            "blocks": json.dumps(row["payload"]["blocks"], ensure_ascii=False),
        }
        for row in rows
    }


async def test_a_csm_is_told_of_the_themes_rising_in_their_own_accounts(slack: None) -> None:
    await create_keyword_theme("Invoices <b> & co", ["invoice"], "en")
    await create_keyword_theme("Speed", ["slow"], "en")
    await answered(
        # Bob: invoices 3 times this week, 4 times in the four weeks before (1 a week)
        [(BOB, INVOICE, at) for at in days_ago(1, 2, 6)]
        + [(BOB, INVOICE, at) for at in days_ago(8, 15, 22, 29)]
        # Bob: slowness 3 times this week, but 20 times before (5 a week): not rising
        + [(BOB, SLOW, at) for at in days_ago(1, 2, 3)]
        + [(BOB, SLOW, at) for at in days_ago(*range(8, 28))]
        # Ann: invoices twice this week (with Bob's: 5, rising for the company, not for her)
        + [(ANN, INVOICE, at) for at in days_ago(2, 3)]
    )
    # Ann has an account in the red band, so her digest is sent for that
    globex = await Account.select(Account.id).where(Account.external_id == "a2").first()
    await HealthSnapshot.insert(
        HealthSnapshot(account=globex["id"], day=NOW.date(), score=28.0, band="red")
    )

    assert await enqueue_digests(NOW) == 2
    sent = await digests()
    assert set(sent) == {"UANN", "UBOB"}
    bob = sent["UBOB"]
    assert "*Themes rising this week*" in bob["blocks"]
    assert "• Invoices &lt;b&gt; &amp; co (3 this week, usually 1)" in bob["blocks"]
    assert "<b>" not in bob["blocks"]
    assert "Speed" not in bob["blocks"]
    assert bob["text"] == "Daily digest: 0 open CTAs, 0 new detractors, 1 theme rising"
    # Ann's two mentions are hers alone: Bob's comments do not make the theme rise for her
    ann = sent["UANN"]
    assert "Globex: 28" in ann["blocks"]
    assert "rising" not in ann["blocks"] and "Invoices" not in ann["blocks"]
    assert ann["text"] == "Daily digest: 0 open CTAs, 0 new detractors"


async def test_a_digest_with_nothing_but_a_rising_theme_is_still_sent(slack: None) -> None:
    # a theme rising in a CSM's accounts is news even on a quiet day: three answers at least,
    # more than usual, and only this CSM's customers; it is not sent when nothing rises
    await create_keyword_theme("Invoices", ["invoice"], "en")
    await answered([(BOB, INVOICE, at) for at in days_ago(1, 2, 3)])
    assert await enqueue_digests(NOW) == 1
    sent = await digests()
    assert list(sent) == ["UBOB"]
    assert "Nothing open." in sent["UBOB"]["blocks"]
    assert "• Invoices (3 this week, usually 0)" in sent["UBOB"]["blocks"]


async def test_no_digest_is_sent_when_a_theme_is_mentioned_as_often_as_usual(
    slack: None,
) -> None:
    await create_keyword_theme("Invoices", ["invoice"], "en")
    # 3 this week, 12 in the four weeks before: 3 a week, as usual
    await answered([(BOB, INVOICE, at) for at in days_ago(1, 2, 3, *range(8, 32, 2))])
    assert await enqueue_digests(NOW) == 0
    assert await Outbox.count() == 0


def test_the_digest_shows_at_most_three_rising_themes_largest_first() -> None:
    rising = [
        DigestTheme("billing", 9, 1.0),
        DigestTheme("login", 6, 0.25),
        DigestTheme("speed", 5, 2.5),
        DigestTheme("exports", 4, 3.75),
    ]
    text, blocks = digest_blocks(Digest("Bob", [], [], [], rising), "https://x.test")
    (section,) = [b for b in blocks if "Themes rising" in json.dumps(b)]
    assert section["text"]["text"] == (
        "*Themes rising this week*\n"
        "• billing (9 this week, usually 1)\n"
        "• login (6 this week, usually 0.25)\n"
        "• speed (5 this week, usually 2.5)"
    )
    assert text.endswith(", 3 themes rising")
