"""Block Kit for CTA messages, the digest, the App Home and `/nps` answers.

User text (comments, names) is escaped for Slack's mrkdwn: `&`, `<` and `>` become
entities, so `<!channel>`, `<@U123>` or `<https://evil|click>` in a comment is shown as text
and never mentions anyone or hides a link.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from feedback.ctas.records import CtaView
from feedback.outbox.messages import Digest, Rendered
from feedback.web.formats import money as format_money

ACTION_IDS = ("cta_ack", "cta_snooze", "cta_reassign", "cta_close", "cta_open")
STATUS_EMOJI = {"open": "🔴", "acknowledged": "🟡", "snoozed": "💤", "closed": "✅"}
PRIORITY_LABEL = {1: "urgent", 2: "high", 3: "medium", 4: "low"}
MAX_COMMENT = 2500
RISING_SHOWN = 3  # rising themes in a digest


def escape(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def money(cents: int | None, currency: str | None = "USD") -> str:
    """An amount in cents as the staff pages write it: with its currency, thousands
    separators."""
    return "-" if cents is None else format_money(cents / 100, currency)


def _day(value: date | datetime | None) -> str:
    if value is None:
        return "-"
    return value.date().isoformat() if isinstance(value, datetime) else value.isoformat()


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, 150) or " ", "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, 2900) or " "}


def cta_url(public_url: str, cta_id: int) -> str:
    return f"{public_url}/ctas/{cta_id}"


def cta_blocks(
    cta: CtaView, public_url: str, type_label: str, current: bool = True
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for one CTA. Buttons carry "id:version" so a click on a
    message that is no longer current is recognised. A card that is not the owner's
    (`current` false: an earlier owner's) says who has the CTA now and has no buttons."""
    trigger = cta.trigger or {}
    status = cta.status
    title = f"{type_label}: {cta.account_name}"
    fields = [
        mrkdwn(f"*Account*\n{escape(cta.account_name)} ({escape(cta.account_external_id)})"),
        mrkdwn(f"*ARR*\n{money(cta.arr_cents, cta.currency)}"),
        mrkdwn(f"*Priority*\n{PRIORITY_LABEL.get(cta.priority, cta.priority)}"),
        mrkdwn(f"*Due*\n{_day(cta.due_on)}"),
        mrkdwn(f"*Owner*\n{escape(cta.owner_name or 'unassigned')}"),
        mrkdwn(
            f"*Status*\n{STATUS_EMOJI.get(status, '')} {status}"
            + (f" until {_day(cta.snoozed_until)}" if status == "snoozed" else "")
        ),
    ]
    if "score" in trigger and trigger.get("kind") == "health":
        # a health alert's score is the health score, 0-100 (an answer's is 0-10)
        fields.append(mrkdwn(f"*Health score*\n{trigger['score']} / 100"))
    elif "score" in trigger:
        fields.append(mrkdwn(f"*Score*\n{trigger['score']} / 10"))
    if cta.health is not None:
        fields.append(mrkdwn(f"*Health*\n{cta.health}"))
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(title)},
        {"type": "section", "text": mrkdwn(f"*{escape(cta.reason)}*"), "fields": fields[:10]},
    ]
    comment = str(trigger.get("comment") or "").strip()
    if comment:
        quoted = "\n".join("> " + escape(line) for line in clip(comment, MAX_COMMENT).splitlines())
        who = escape(trigger.get("user") or "the user")
        blocks.append({"type": "section", "text": mrkdwn(f"*{who} wrote:*\n{quoted}")})
    elif cta.detail and "score" not in trigger:
        blocks.append({"type": "section", "text": mrkdwn(escape(clip(cta.detail, 2000)))})
    if status == "closed":
        blocks.append(
            {
                "type": "context",
                "elements": [mrkdwn(f"Closed: {escape(clip(cta.close_reason, 1000))}")],
            }
        )
    if not current:
        owner = escape(cta.owner_name or "nobody")
        blocks.append(
            {
                "type": "context",
                "elements": [
                    mrkdwn(
                        f"Reassigned to {owner}: this card shows its state without buttons. "
                        f"<{cta_url(public_url, cta.id)}|Open in browser>"
                    )
                ],
            }
        )
    elif status != "closed":
        value = f"{cta.id}:{cta.version}"
        blocks.append(
            {
                "type": "actions",
                "block_id": f"cta:{cta.id}",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "cta_ack",
                        "text": plain("Acknowledge"),
                        "style": "primary",
                        "value": value,
                    },
                    {
                        "type": "static_select",
                        "action_id": "cta_snooze",
                        "placeholder": plain("Snooze"),
                        "options": [
                            {
                                "text": plain(f"{d} day{'s' if d > 1 else ''}"),
                                "value": f"{value}:{d}",
                            }
                            for d in (1, 7, 30)
                        ],
                    },
                    {
                        "type": "users_select",
                        "action_id": "cta_reassign",
                        "placeholder": plain("Reassign"),
                    },
                    {
                        "type": "button",
                        "action_id": "cta_close",
                        "text": plain("Close"),
                        "style": "danger",
                        "value": value,
                    },
                    {
                        "type": "button",
                        "action_id": "cta_open",
                        "text": plain("Open in browser"),
                        "url": cta_url(public_url, cta.id),
                    },
                ],
            }
        )
    return clip(f"{title} ({cta.reason})", 300), blocks


def close_modal(cta: CtaView) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": "cta_close_modal",
        "private_metadata": f"{cta.id}:{cta.version}",
        "title": plain("Close CTA"),
        "submit": plain("Close CTA"),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn(f"*{escape(cta.reason)}* for {escape(cta.account_name)}"),
            },
            {
                "type": "input",
                "block_id": "reason",
                "label": plain("Why is it closed?"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "max_length": 2000,
                },
            },
        ],
    }


def cta_line(cta: CtaView, public_url: str) -> str:
    due = _day(cta.due_on)
    return (
        f"{STATUS_EMOJI.get(cta.status, '')} <{cta_url(public_url, cta.id)}|"
        f"{escape(cta.reason)}> · {escape(cta.account_name)} · "
        f"{PRIORITY_LABEL.get(cta.priority, '')} · due {due}"
    )


def cta_list_blocks(title: str, ctas: list[CtaView], public_url: str) -> list[dict]:
    blocks: list[dict[str, Any]] = [{"type": "header", "text": plain(title)}]
    if not ctas:
        blocks.append({"type": "section", "text": mrkdwn("Nothing open. 🎉")})
        return blocks
    for chunk_start in range(0, min(len(ctas), 40), 10):
        lines = [cta_line(c, public_url) for c in ctas[chunk_start : chunk_start + 10]]
        blocks.append({"type": "section", "text": mrkdwn("\n".join(lines))})
    if len(ctas) > 40:
        blocks.append({"type": "context", "elements": [mrkdwn(f"and {len(ctas) - 40} more")]})
    return blocks


def home_view(ctas: list[CtaView], public_url: str, known: bool) -> dict[str, Any]:
    if not known:
        blocks = [
            {
                "type": "section",
                "text": mrkdwn(
                    "Your Slack user is not linked to a CSM. Ask an admin to set your Slack "
                    "user id on your CSM record."
                ),
            }
        ]
    else:
        blocks = cta_list_blocks("Your open Calls-to-Action", ctas, public_url)
    return {"type": "home", "blocks": blocks}


def digest_blocks(digest: Digest, public_url: str) -> tuple[str, list[dict[str, Any]]]:
    blocks = cta_list_blocks(f"Daily digest for {digest.csm_name}", digest.ctas, public_url)
    if digest.red:
        lines = [f"• {escape(r.account_name)}: {float(r.score):.0f}" for r in digest.red]
        blocks.append(
            {"type": "section", "text": mrkdwn("*Accounts in the red band*\n" + "\n".join(lines))}
        )
    if digest.detractors:
        lines = [
            f"• {escape(d.account_name)}: {d.score}"
            + (f" — {escape(clip(d.comment, 200))}" if d.comment else "")
            for d in digest.detractors[:15]
        ]
        blocks.append(
            {"type": "section", "text": mrkdwn("*New detractors (24 h)*\n" + "\n".join(lines))}
        )
    if digest.rising:
        lines = [
            f"• {escape(t.label)} ({t.this_week} this week, usually {weekly(t.weekly_before)})"
            for t in digest.rising[:RISING_SHOWN]
        ]
        blocks.append(
            {"type": "section", "text": mrkdwn("*Themes rising this week*\n" + "\n".join(lines))}
        )
    text = f"Daily digest: {len(digest.ctas)} open CTAs, {len(digest.detractors)} new detractors"
    if digest.rising:
        rising = min(len(digest.rising), RISING_SHOWN)
        text += f", {rising} {'theme' if rising == 1 else 'themes'} rising"
    return text, blocks


def weekly(mean: float) -> str:
    """A mean per week (a count over four weeks, so quarters) as it is: `2`, `0.25`; a whole
    number would make 0.25 a week read as never."""
    return f"{mean:.0f}" if mean >= 10 else f"{mean:.2f}".rstrip("0").rstrip(".")


class BlockKit:
    """Slack's Block Kit as the outbox's message format (feedback.outbox.render): the one
    place a CTA's message and a digest are laid out."""

    def cta(self, cta: CtaView, type_label: str, public_url: str, current: bool = True) -> Rendered:
        text, blocks = cta_blocks(cta, public_url, type_label, current)
        return Rendered(text, blocks)

    def digest(self, digest: Digest, public_url: str) -> Rendered:
        text, blocks = digest_blocks(digest, public_url)
        return Rendered(text, blocks)
