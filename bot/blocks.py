"""Block Kit for CTA messages, the digest, the App Home and `/nps` answers.

User text (comments, names) is escaped for Slack's mrkdwn: `&`, `<` and `>` become
entities, so `<!channel>`, `<@U123>` or `<https://evil|click>` in a comment is shown as text
and never mentions anyone or hides a link.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from feedback.ctas.actions import OUTCOME_LABELS
from feedback.ctas.records import CtaView
from feedback.outbox.messages import Digest, Person, Rendered, Respondent, ThreadEvent
from feedback.today.services import Today
from feedback.web.formats import money as format_money

ACTION_IDS = (
    "cta_ack",
    "cta_snooze",
    "cta_reassign",
    "cta_due",
    "cta_note",
    "cta_reopen",
    "cta_close",
    "cta_claim",
    "cta_open",
    "cta_open_account",
)
# the snooze menu's last option opens a modal to pick a date and say why
SNOOZE_PICK = "pick"
OUTCOME_LABEL: dict[str, str] = {str(value): label for value, label in OUTCOME_LABELS.items()}
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


def account_url(public_url: str, external_id: str) -> str:
    return f"{public_url}/accounts/{quote(external_id, safe='')}"


def answer_category(score: int) -> str:
    return "detractor" if score <= 6 else "passive" if score <= 8 else "promoter"


def notification_text(cta: CtaView, type_label: str) -> str:
    """The fallback text, which Slack shows in notifications: the urgency and, for an
    answer, the score and the comment ("Urgent: detractor 2/10 at Acme — too slow")."""
    trigger = cta.trigger or {}
    urgency = PRIORITY_LABEL.get(cta.priority, str(cta.priority)).capitalize()
    if cta.status == "closed":
        urgency = "Closed"
    score = trigger.get("score")
    if trigger.get("kind") == "response" and isinstance(score, int):
        comment = str(trigger.get("comment") or "").strip() or "comment pending"
        what = f"{answer_category(score)} {score}/10 at {cta.account_name}"
        return clip(f"{urgency}: {what} — {comment}", 300)
    if trigger.get("kind") == "health" and score is not None:
        what = f"health {score}/100 at {cta.account_name}"
        return clip(f"{urgency}: {what} — {cta.reason}", 300)
    return clip(f"{urgency}: {type_label} at {cta.account_name} — {cta.reason}", 300)


def _status_text(cta: CtaView) -> str:
    text = f"{STATUS_EMOJI.get(cta.status, '')} {cta.status}"
    if cta.status == "snoozed":
        text += f" until {_day(cta.snoozed_until)}"
        if cta.snooze_reason:
            text += f": {escape(clip(cta.snooze_reason, 200))}"
    return text


def _owner_text(cta: CtaView) -> str:
    if cta.owner_id is None and cta.pool_name:
        return f"unclaimed, pool {escape(cta.pool_name)}"
    owner = escape(cta.owner_name or "unassigned")
    return f"{owner} (pool {escape(cta.pool_name)})" if cta.pool_name else owner


def _card_fields(cta: CtaView, respondent: Respondent | None) -> list[dict[str, Any]]:
    trigger = cta.trigger or {}
    fields: list[dict[str, Any]] = []
    if respondent is not None:
        who = escape(respondent.label) + (
            f" ({escape(respondent.role)})" if respondent.role else ""
        )
        fields.append(mrkdwn(f"*Answered by*\n{who}"))
    if "score" in trigger and trigger.get("kind") == "health":
        # a health alert's score is the health score, 0-100 (an answer's is 0-10)
        fields.append(mrkdwn(f"*Health score*\n{trigger['score']} / 100"))
    elif "score" in trigger:
        fields.append(mrkdwn(f"*Score*\n{trigger['score']} / 10"))
    if respondent is None:
        fields.append(
            mrkdwn(f"*Account*\n{escape(cta.account_name)} ({escape(cta.account_external_id)})")
        )
    fields += [
        mrkdwn(f"*Plan*\n{escape(cta.plan or '-')}"),
        mrkdwn(f"*ARR*\n{money(cta.arr_cents, cta.currency)}"),
        mrkdwn(f"*Renewal*\n{_day(cta.renewal_date)}"),
        mrkdwn(f"*Priority*\n{PRIORITY_LABEL.get(cta.priority, cta.priority)}"),
        mrkdwn(f"*Due*\n{_day(cta.due_on)}"),
        mrkdwn(f"*Owner*\n{_owner_text(cta)}"),
        mrkdwn(f"*Status*\n{_status_text(cta)}"),
    ]
    if cta.health is not None:
        fields.append(mrkdwn(f"*Health*\n{cta.health}"))
    return fields[:10]


def _button(action_id: str, text: str, value: str, style: str | None = None) -> dict[str, Any]:
    button = {"type": "button", "action_id": action_id, "text": plain(text), "value": value}
    if style:
        button["style"] = style
    return button


def _link(action_id: str, text: str, url: str) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": plain(text), "url": url}


def _card_actions(cta: CtaView, public_url: str) -> list[dict[str, Any]]:
    """The buttons of the owner's (or the pool's) card of a CTA not closed."""
    value = f"{cta.id}:{cta.version}"
    open_account = _link(
        "cta_open_account", "Open account", account_url(public_url, cta.account_external_id)
    )
    if cta.owner_id is None and cta.pool_id is not None:
        return [_button("cta_claim", "Claim", value, "primary"), open_account]
    elements: list[dict[str, Any]] = []
    if cta.status != "acknowledged":
        elements.append(_button("cta_ack", "Acknowledge", value, "primary"))
    snooze_options = [
        {"text": plain(f"{d} day{'s' if d > 1 else ''}"), "value": f"{value}:{d}"}
        for d in (1, 7, 30)
    ]
    snooze_options.append({"text": plain("Pick a date…"), "value": f"{value}:{SNOOZE_PICK}"})
    elements += [
        {
            "type": "static_select",
            "action_id": "cta_snooze",
            "placeholder": plain("Snooze"),
            "options": snooze_options,
        },
        {"type": "users_select", "action_id": "cta_reassign", "placeholder": plain("Reassign")},
        {
            "type": "datepicker",
            "action_id": "cta_due",
            "placeholder": plain("Due date"),
            **({"initial_date": cta.due_on.isoformat()} if cta.due_on else {}),
        },
        _button("cta_note", "Add note", value),
    ]
    if cta.status in ("acknowledged", "snoozed"):
        elements.append(_button("cta_reopen", "Reopen", value))
    elements += [
        _button("cta_close", "Close", value, "danger"),
        open_account,
        _link("cta_open", "Open in browser", cta_url(public_url, cta.id)),
    ]
    return elements


def cta_blocks(
    cta: CtaView,
    public_url: str,
    type_label: str,
    current: bool = True,
    respondent: Respondent | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """(notification text, blocks) for one CTA. A CTA raised by an answer names who answered
    (`respondent`), the score and the comment (or that it is pending). Buttons carry
    "id:version" so a click on a message that is no longer current is recognised. A card
    that is not the owner's (`current` false: an earlier owner's) says who has the CTA now
    and has no buttons; a pool's CTA nobody has claimed has a Claim button."""
    trigger = cta.trigger or {}
    title = f"{type_label}: {cta.account_name}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(title)},
        {
            "type": "section",
            "text": mrkdwn(f"*{escape(cta.reason)}*"),
            "fields": _card_fields(cta, respondent),
        },
    ]
    comment = str(trigger.get("comment") or "").strip()
    if comment:
        quoted = "\n".join("> " + escape(line) for line in clip(comment, MAX_COMMENT).splitlines())
        who = escape(respondent.label if respondent else trigger.get("user") or "the user")
        blocks.append({"type": "section", "text": mrkdwn(f"*{who} wrote:*\n{quoted}")})
    elif trigger.get("kind") == "response":
        blocks.append({"type": "context", "elements": [mrkdwn("_Comment pending_")]})
    elif cta.detail and "score" not in trigger:
        blocks.append({"type": "section", "text": mrkdwn(escape(clip(cta.detail, 2000)))})
    closed_line = ""
    if cta.status == "closed":
        outcome = OUTCOME_LABEL.get(cta.outcome or "", "")
        why = " — ".join(part for part in (outcome, clip(cta.close_reason, 1000)) if part)
        closed_line = f"Closed: {escape(why or 'closed')}"
    if cta.status == "closed" and current:
        # nothing left to act on but reopening it: one button beside the outcome
        account = account_url(public_url, cta.account_external_id)
        blocks.append(
            {
                "type": "section",
                "block_id": f"cta:{cta.id}",
                "text": mrkdwn(f"{closed_line} · <{account}|Open account>"),
                "accessory": _button("cta_reopen", "Reopen", f"{cta.id}:{cta.version}"),
            }
        )
    elif closed_line:
        blocks.append({"type": "context", "elements": [mrkdwn(closed_line)]})
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
    elif cta.status != "closed":
        blocks.append(
            {
                "type": "actions",
                "block_id": f"cta:{cta.id}",
                "elements": _card_actions(cta, public_url),
            }
        )
    return notification_text(cta, type_label), blocks


def _modal(
    callback_id: str, cta: CtaView, title: str, submit: str, blocks: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": f"{cta.id}:{cta.version}",
        "title": plain(title),
        "submit": plain(submit),
        "close": plain("Cancel"),
        "blocks": [
            {
                "type": "section",
                "text": mrkdwn(f"*{escape(cta.reason)}* for {escape(cta.account_name)}"),
            },
            *blocks,
        ],
    }


def _text_input(
    block_id: str, label: str, *, optional: bool = False, hint: str | None = None
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "optional": optional,
        "element": {
            "type": "plain_text_input",
            "action_id": "value",
            "multiline": True,
            "max_length": 2000,
        },
    }
    if hint:
        block["hint"] = plain(hint)
    return block


def close_modal(cta: CtaView, outcome_required: bool = True) -> dict[str, Any]:
    """Close with an outcome (required for a CTA an answer raised) and an optional note."""
    outcome = {
        "type": "input",
        "block_id": "outcome",
        "label": plain("How did it end?"),
        "optional": not outcome_required,
        "element": {
            "type": "static_select",
            "action_id": "value",
            "placeholder": plain("Choose an outcome"),
            "options": [
                {"text": plain(label), "value": value} for value, label in OUTCOME_LABEL.items()
            ],
        },
    }
    note = _text_input(
        "reason",
        "Note",
        optional=outcome_required,
        hint=None if outcome_required else "Say why it is closed, or choose an outcome.",
    )
    return _modal("cta_close_modal", cta, "Close CTA", "Close CTA", [outcome, note])


def note_modal(cta: CtaView) -> dict[str, Any]:
    return _modal("cta_note_modal", cta, "Add a note", "Add note", [_text_input("note", "Note")])


def snooze_modal(cta: CtaView, tomorrow: date) -> dict[str, Any]:
    until = {
        "type": "input",
        "block_id": "until",
        "label": plain("Snooze until"),
        "element": {
            "type": "datepicker",
            "action_id": "value",
            "initial_date": tomorrow.isoformat(),
            "placeholder": plain("A date"),
        },
    }
    return _modal(
        "cta_snooze_modal",
        cta,
        "Snooze CTA",
        "Snooze",
        [until, _text_input("reason", "Why does it wait?")],
    )


def mention(person: Person | None, fallback: str = "someone") -> str:
    """Someone a reply names: an @mention when they have a Slack user (Slack notifies them),
    else their name."""
    if person is None:
        return escape(fallback)
    return f"<@{person.slack_user}>" if person.slack_user else escape(person.name)


def slack_time(moment: datetime | None) -> str:
    """A time Slack shows in each reader's own time zone (UTC where it cannot)."""
    if moment is None:
        return ""
    return f"<!date^{int(moment.timestamp())}^{{time}}|{moment:%H:%M} UTC>"


def slack_day(value: Any) -> str:
    """A day as a reply says it: "12 Dec"."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return escape(value)
    if isinstance(value, datetime):
        value = value.date()
    return f"{value.day} {value:%b}" if isinstance(value, date) else "-"


def actor_label(actor: str) -> str:
    """Who acted, for a reply: a person's name, or which rule."""
    if actor.startswith("rule:"):
        return f"the {actor.removeprefix('rule:').replace('_', ' ')} rule"
    return escape(actor or "someone")


def _after(prefix: str, note: str) -> str:
    """The note without a prefix the history adds ("until 2026-12-12: ", "Resolved: ")."""
    return note[len(prefix) :].strip() if note.startswith(prefix) else note


def _working_time(minutes: int) -> str:
    """Whole hours read better: 480 working minutes are "8 working hours"."""
    if minutes >= 60 and minutes % 60 == 0:
        return f"{minutes // 60} working hours"
    return f"{minutes} working minutes"


def thread_text(event: ThreadEvent) -> str:
    """What a reply under a card says (mrkdwn, user text escaped), without its time."""
    actor = actor_label(event.actor)
    note, data = event.note.strip(), event.data
    owner = event.people.get(data["owner"]) if isinstance(data.get("owner"), int) else None
    action = event.action
    if action == "acknowledge":
        return f"Acknowledged by {actor}"
    if action == "snooze":
        until = data.get("until")
        reason = note
        if until:
            reason = _after(f"until {str(until)[:10]}:", note)
        if re.fullmatch(r"\d+ days?", reason):
            reason = ""
        text = f"Snoozed until {slack_day(until)} by {actor}" if until else f"Snoozed by {actor}"
        return text + (f": {escape(reason)}" if reason else "")
    if action == "reassign":
        return f"Reassigned to {mention(owner)} by {actor}"
    if action == "claim":
        return f"Claimed by {escape(owner.name) if owner else actor}"
    if action == "assign":
        rule = str(data.get("rule") or "").replace("_", " ")
        return f"Assigned to {mention(owner)} by the pool's rule" + (f" ({rule})" if rule else "")
    if action == "escalate":
        manager = (
            event.people.get(data["manager"]) if isinstance(data.get("manager"), int) else None
        )
        minutes = data.get("untouched_minutes")
        why = f"untouched for {_working_time(minutes)}" if isinstance(minutes, int) else ""
        return f"Escalated to {mention(manager, 'the pool manager')}" + (
            f": {escape(why)}" if why else ""
        )
    if action == "close":
        outcome = OUTCOME_LABEL.get(str(data.get("outcome") or ""), "")
        rest = _after(f"{outcome}:", note) if outcome else note
        if rest == outcome:
            rest = ""
        why = " — ".join(part for part in (outcome.lower(), escape(rest)) if part)
        return f"Closed by {actor}" + (f": {why}" if why else "")
    if action == "reopen":
        if event.actor == "snooze ended":
            return "Reopened: the snooze ended"
        return f"Reopened by {actor}"
    if action == "set_due":
        was = data.get("was")
        return f"Due date changed to {slack_day(data.get('due_on'))} by {actor}" + (
            f" (was {slack_day(was)})" if was else ""
        )
    if action == "note":
        return f"Note by {actor}: {escape(note)}"
    if action == "unclaim":
        return f"Unclaimed by {actor}: back in the pool"
    if action == "answer":
        score, was = data.get("score"), data.get("from_score")
        text = f"New answer: {score}/10 from {escape(event.actor)}"
        if was is not None:
            text += f" (the card showed {was}/10)"
        comment = str(data.get("comment") or "").strip()
        if comment:
            text += "\n" + "\n".join(
                "> " + escape(line) for line in clip(comment, 1000).splitlines()
            )
        return text
    return f"{escape(action.replace('_', ' ').capitalize())} by {actor}" + (
        f": {escape(note)}" if note else ""
    )


def thread_blocks(event: ThreadEvent) -> tuple[str, list[dict[str, Any]]]:
    """(text, blocks) of a reply under a CTA's card: what happened · when."""
    text = thread_text(event)
    when = slack_time(event.at)
    line = f"{text} · {when}" if when and "\n" not in text else text
    if when and "\n" in text:
        first, rest = text.split("\n", 1)
        line = f"{first} · {when}\n{rest}"
    return clip(line, 3000), [{"type": "section", "text": mrkdwn(line)}]


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


HOME_ITEMS = 8  # items per list on the App Home; the counts count them all
HOME_BLOCK_LIMIT = 100  # Slack's limit on a view's blocks


def _home_cta(cta: CtaView, public_url: str) -> dict[str, Any]:
    """One CTA on the App Home, with the button that fits it: Claim for a pool's unclaimed
    CTA, Acknowledge for one not acknowledged yet, else Open account."""
    line = (
        f"*<{account_url(public_url, cta.account_external_id)}|{escape(cta.account_name)}>* · "
        f"{escape(cta.reason)}\n{PRIORITY_LABEL.get(cta.priority, '')} · due {_day(cta.due_on)}"
        f" · {money(cta.arr_cents, cta.currency)}"
        + (f" · {escape(cta.owner_name)}" if cta.owner_name else "")
    )
    value = f"{cta.id}:{cta.version}"
    if cta.owner_id is None and cta.pool_id is not None:
        button = _button("cta_claim", "Claim", value, "primary")
    elif cta.status in ("open", "snoozed"):
        button = _button("cta_ack", "Acknowledge", value)
    else:
        button = _link(
            "cta_open_account", "Open account", account_url(public_url, cta.account_external_id)
        )
    return {"type": "section", "text": mrkdwn(line), "accessory": button}


def _home_section(title: str, total: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain(f"{title} ({total})")},
        *items[:HOME_ITEMS],
    ]
    if not items:
        blocks.append({"type": "context", "elements": [mrkdwn("Nothing here.")]})
    elif total > min(len(items), HOME_ITEMS):
        shown = min(len(items), HOME_ITEMS)
        blocks.append(
            {"type": "context", "elements": [mrkdwn(f"{total - shown} more on the Today page")]}
        )
    return blocks


def home_view(today: Today | None, public_url: str) -> dict[str, Any]:
    """The App Home: the person's Today as on the web (counts, overdue and due-today CTAs,
    new detractors, accounts that went red, unclaimed pool CTAs), with buttons, within
    Slack's 100 blocks."""
    if today is None:
        blocks: list[dict[str, Any]] = [
            {
                "type": "section",
                "text": mrkdwn(
                    "Your Slack user is not linked to a CSM. Ask an admin to set your Slack "
                    "user id on your CSM record."
                ),
            }
        ]
        return {"type": "home", "blocks": blocks}
    counts = today.counts
    summary = [
        f"*{counts.overdue}* overdue",
        f"*{counts.due_today}* due today",
        f"*{counts.new_detractors}* new detractors",
        f"*{counts.red_accounts}* red accounts",
        f"*{counts.renewals_90d}* renewals in 90 days",
    ]
    if counts.unclaimed_pool:
        summary.append(f"*{counts.unclaimed_pool}* unclaimed in your pools")
    blocks = [
        {"type": "header", "text": plain(f"Today, {today.day.day} {today.day:%B}")},
        {
            "type": "section",
            "text": mrkdwn(" · ".join(summary)),
            "accessory": _link("home_open_today", "Open Today", f"{public_url}/today"),
        },
        {"type": "divider"},
    ]
    blocks += _home_section(
        "Overdue", counts.overdue, [_home_cta(cta, public_url) for cta in today.overdue]
    )
    blocks += _home_section(
        "Due today", counts.due_today, [_home_cta(cta, public_url) for cta in today.due_today]
    )
    if today.unclaimed_pool:
        blocks += _home_section(
            "Unclaimed in your pools",
            counts.unclaimed_pool,
            [_home_cta(cta, public_url) for cta in today.unclaimed_pool],
        )
    detractors = []
    for answer in today.new_detractors:
        who = escape(answer.person) + (f" ({escape(answer.role)})" if answer.role else "")
        comment = (
            "\n> " + escape(clip(answer.comment, 300)).replace("\n", " ")
            if answer.comment
            else "\n_comment pending_"
        )
        detractors.append(
            {
                "type": "section",
                "text": mrkdwn(
                    f"*{answer.score}/10* · {who} at *{escape(answer.account_name)}*{comment}"
                ),
                "accessory": _link(
                    "cta_open_account",
                    "Open account",
                    account_url(public_url, answer.account_external_id),
                ),
            }
        )
    blocks += _home_section("New detractors", counts.new_detractors, detractors)
    red = []
    for account in today.red_accounts:
        score = "-" if account.score is None else f"{account.score:.0f}"
        change = f" ({account.change:+.0f} in 7 days)" if account.change is not None else ""
        red.append(
            {
                "type": "section",
                "text": mrkdwn(
                    f"*{escape(account.account_name)}* · health {score} ({account.band}){change}"
                    f" · {money(account.arr_cents, account.currency)}"
                ),
                "accessory": _link(
                    "cta_open_account",
                    "Open account",
                    account_url(public_url, account.account_external_id),
                ),
            }
        )
    blocks += _home_section("Accounts in the red", counts.red_accounts, red)
    if len(blocks) > HOME_BLOCK_LIMIT:  # cannot happen with HOME_ITEMS; kept as a guard
        blocks = blocks[: HOME_BLOCK_LIMIT - 1]
        blocks.append({"type": "context", "elements": [mrkdwn("More on the Today page")]})
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
    place a CTA's card, a reply under it and a digest are laid out."""

    def cta(
        self,
        cta: CtaView,
        type_label: str,
        public_url: str,
        current: bool = True,
        respondent: Respondent | None = None,
    ) -> Rendered:
        text, blocks = cta_blocks(cta, public_url, type_label, current, respondent)
        return Rendered(text, blocks)

    def thread(self, event: ThreadEvent, cta: CtaView, public_url: str) -> Rendered:
        text, blocks = thread_blocks(event)
        return Rendered(text, blocks)

    def digest(self, digest: Digest, public_url: str) -> Rendered:
        text, blocks = digest_blocks(digest, public_url)
        return Rendered(text, blocks)
