# ruff: noqa: RUF001 (Japanese texts use full-width punctuation)
"""The two programs the product ships, switched off until an admin (or the demo) switches
them on: Onboarding and Poor NPS follow-up, in English and Japanese.

`ensure_default_programs` creates each once (found again by its slug, whatever an admin
renamed it to or changed in it since), so it is safe at every start.
"""

from __future__ import annotations

from typing import Any

from feedback.kernel.clock import utcnow
from feedback.programs.models import Program


def _lines(*lines: str) -> str:
    """A plain-text template, one paragraph a line (mail programs wrap them); lines holding
    only a block tag ({% if %}) leave nothing behind."""
    return "\n".join(lines)


_FOOTER_TEXT = _lines(
    "",
    "--",
    "You receive this because you use {{ account.name }}'s account.",
    "Unsubscribe: {{ unsubscribe_url }}",
)
_FOOTER_HTML = """
<p><small>You receive this because you use {{ account.name }}'s
account. <a href="{{ unsubscribe_url }}">Unsubscribe</a>.</small></p>"""
_FOOTER_TEXT_JA = _lines(
    "",
    "--",
    "このメールは {{ account.name }} 様のアカウントをご利用の方にお送りしています。",
    "配信停止: {{ unsubscribe_url }}",
)
_FOOTER_HTML_JA = """
<p><small>このメールは {{ account.name }} 様のアカウントをご利用の方にお送りしています。
<a href="{{ unsubscribe_url }}">配信停止</a></small></p>"""

_HI = "Hi {{ person.name or 'there' }},"
_HI_JA = "{{ person.name ~ ' 様' if person.name else 'ご担当者様' }}"

WELCOME = {
    "en": {
        "subject": "Welcome aboard{% if person.name %}, {{ person.name }}{% endif %}",
        "text": _lines(
            _HI,
            "",
            "Welcome! I'm {{ owner.name }}, and I look after {{ account.name }}'s account. "
            "Whenever a question comes up while you settle in, reply to this email: it comes "
            "straight to me.",
            "",
            "{% if owner.meeting_url %}",
            "If a short walkthrough shaped around how your team works would help, pick a time "
            "that suits you: {{ owner.meeting_url }}",
            "",
            "{% endif %}",
            "Best regards,",
            "{{ owner.name }}",
            _FOOTER_TEXT,
        ),
        "html": """<p>"""
        + _HI
        + """</p>
<p>Welcome! I'm {{ owner.name }}, and I look after {{ account.name }}'s account. Whenever a
question comes up while you settle in, reply to this email: it comes straight to me.</p>
{% if owner.meeting_url %}<p>If a short walkthrough shaped around how your team works would
help, <a href="{{ owner.meeting_url }}">pick a time that suits you</a>.</p>{% endif %}
<p>Best regards,<br>{{ owner.name }}</p>"""
        + _FOOTER_HTML,
    },
    "ja": {
        "subject": "ご利用開始のご挨拶（担当：{{ owner.name }}）",
        "text": _lines(
            _HI_JA,
            "",
            "このたびはご利用いただき、誠にありがとうございます。",
            "{{ account.name }} 様のカスタマーサクセスを担当しております、"
            "{{ owner.name }}と申します。",
            "",
            "ご不明な点がございましたら、このメールにそのままご返信ください。担当の私に直接届きます。",
            "",
            "{% if owner.meeting_url %}",
            "皆様の使い方に合わせた短いご説明（オンライン）も承っております。"
            "ご都合のよい日時を以下からお選びください。",
            "{{ owner.meeting_url }}",
            "",
            "{% endif %}",
            "今後ともどうぞよろしくお願いいたします。",
            "",
            "{{ owner.name }}",
            _FOOTER_TEXT_JA,
        ),
        "html": "<p>"
        + _HI_JA
        + """</p>
<p>このたびはご利用いただき、誠にありがとうございます。<br>
{{ account.name }} 様のカスタマーサクセスを担当しております、{{ owner.name }}と申します。</p>
<p>ご不明な点がございましたら、このメールにそのままご返信ください。担当の私に直接届きます。</p>
{% if owner.meeting_url %}<p>皆様の使い方に合わせた短いご説明（オンライン）も承っております。
<a href="{{ owner.meeting_url }}">ご都合のよい日時をお選びください</a>。</p>{% endif %}
<p>今後ともどうぞよろしくお願いいたします。<br>{{ owner.name }}</p>"""
        + _FOOTER_HTML_JA,
    },
}

TIPS = {
    "en": {
        "subject": "Your first week: three things that help",
        "text": _lines(
            _HI,
            "",
            "You have been with us for a week now. Three things help most teams at this stage:",
            "",
            "1. Invite the colleagues you work with every day, so that shared work lives in "
            "one place.",
            "2. Keep the notifications that matter to you and switch off the rest.",
            "3. Tell us what has been harder than it should be: we read every reply.",
            "",
            "If something is in your way, reply to this email and I will help."
            "{% if owner.meeting_url %} Or book half an hour with me: "
            "{{ owner.meeting_url }}{% endif %}",
            "",  # (the line's block tag takes its line break)
            "",
            "Best regards,",
            "{{ owner.name }}",
            _FOOTER_TEXT,
        ),
        "html": "<p>"
        + _HI
        + """</p>
<p>You have been with us for a week now. Three things help most teams at this stage:</p>
<ol>
<li>Invite the colleagues you work with every day, so that shared work lives in one place.</li>
<li>Keep the notifications that matter to you and switch off the rest.</li>
<li>Tell us what has been harder than it should be: we read every reply.</li>
</ol>
<p>If something is in your way, reply to this email and I will help.{% if owner.meeting_url %}
Or <a href="{{ owner.meeting_url }}">book half an hour with me</a>.{% endif %}</p>
<p>Best regards,<br>{{ owner.name }}</p>"""
        + _FOOTER_HTML,
    },
    "ja": {
        "subject": "ご利用開始から1週間：お役立ちのヒント",
        "text": _lines(
            _HI_JA,
            "",
            "ご利用開始から1週間が経ちました。"
            "この時期に多くのチームでお役に立っているのは次の3点です。",
            "",
            "1. 日頃一緒にお仕事をされている方を招待し、共同作業を一か所にまとめる。",
            "2. 必要な通知だけを残し、それ以外はオフにする。",
            "3. 使いにくいと感じた点をお知らせいただく（いただいたご返信はすべて拝読しています）。",
            "",
            "お困りのことがございましたら、このメールにご返信ください。",
            "{% if owner.meeting_url %}",
            "30分ほどのオンライン相談もご予約いただけます：{{ owner.meeting_url }}",
            "{% endif %}",
            "",
            "今後ともよろしくお願いいたします。",
            "{{ owner.name }}",
            _FOOTER_TEXT_JA,
        ),
        "html": "<p>"
        + _HI_JA
        + """</p>
<p>ご利用開始から1週間が経ちました。この時期に多くのチームでお役に立っているのは次の3点です。</p>
<ol>
<li>日頃一緒にお仕事をされている方を招待し、共同作業を一か所にまとめる。</li>
<li>必要な通知だけを残し、それ以外はオフにする。</li>
<li>使いにくいと感じた点をお知らせいただく（いただいたご返信はすべて拝読しています）。</li>
</ol>
<p>お困りのことがございましたら、このメールにご返信ください。{% if owner.meeting_url %}
<a href="{{ owner.meeting_url }}">30分ほどのオンライン相談もご予約いただけます</a>。
{% endif %}</p>
<p>今後ともよろしくお願いいたします。<br>{{ owner.name }}</p>"""
        + _FOOTER_HTML_JA,
    },
}

PERSONAL_NOTE = {
    "en": {
        "subject": "Thank you for your honest feedback",
        "text": _lines(
            _HI,
            "",
            "I'm {{ owner.name }}, and I look after {{ account.name }}'s account. I read the "
            "feedback you gave us{% if score is not none %} (a {{ score }} out of 10){% endif %}, "
            "and I'm sorry we have not lived up to what you need.",
            "",
            "{% if comment %}",
            'You wrote: "{{ comment }}"',
            "",
            "{% endif %}",
            "I would like to understand what went wrong and what we can change. "
            "{% if owner.meeting_url %}Could we talk for twenty minutes? Pick any time that "
            "suits you: {{ owner.meeting_url }}{% else %}Reply to this email and I will get back "
            "to you personally.{% endif %}",
            "",  # (the line's block tag takes its line break)
            "",
            "Thank you for telling us,",
            "{{ owner.name }}",
            _FOOTER_TEXT,
        ),
        "html": "<p>"
        + _HI
        + """</p>
<p>I'm {{ owner.name }}, and I look after {{ account.name }}'s account. I read the feedback
you gave us{% if score is not none %} (a {{ score }} out of 10){% endif %}, and I'm sorry we
have not lived up to what you need.</p>
{% if comment %}<blockquote>{{ comment }}</blockquote>{% endif %}
<p>I would like to understand what went wrong and what we can change.
{% if owner.meeting_url %}Could we talk for twenty minutes?
<a href="{{ owner.meeting_url }}">Pick any time that suits you</a>.{% else %}Reply to this
email and I will get back to you personally.{% endif %}</p>
<p>Thank you for telling us,<br>{{ owner.name }}</p>"""
        + _FOOTER_HTML,
    },
    "ja": {
        "subject": "アンケートへのご回答ありがとうございました",
        "text": _lines(
            _HI_JA,
            "",
            "{{ account.name }} 様を担当しております {{ owner.name }} です。",
            "先日はアンケートにご回答いただき、誠にありがとうございました"
            "{% if score is not none %}（ご評価：10点中 {{ score }} 点）{% endif %}。",
            "ご期待に沿えず、大変申し訳ございません。",
            "",
            "{% if comment %}",
            "いただいたコメント：「{{ comment }}」",
            "",
            "{% endif %}",
            "何が問題だったのか、どうすれば改善できるのかを、直接お伺いできれば幸いです。",
            "{% if owner.meeting_url %}",
            "20分ほどお時間をいただけないでしょうか。ご都合のよい日時を以下からお選びください。",
            "{{ owner.meeting_url }}",
            "{% else %}",
            "このメールにご返信いただければ、私から直接ご連絡いたします。",
            "{% endif %}",
            "",
            "率直なご意見をお寄せいただき、ありがとうございました。",
            "{{ owner.name }}",
            _FOOTER_TEXT_JA,
        ),
        "html": "<p>"
        + _HI_JA
        + """</p>
<p>{{ account.name }} 様を担当しております {{ owner.name }} です。<br>
先日はアンケートにご回答いただき、誠にありがとうございました。{% if score is not none %}
（ご評価：10点中 {{ score }} 点）{% endif %}<br>
ご期待に沿えず、大変申し訳ございません。</p>
{% if comment %}<blockquote>{{ comment }}</blockquote>{% endif %}
<p>何が問題だったのか、どうすれば改善できるのかを、直接お伺いできれば幸いです。
{% if owner.meeting_url %}20分ほどお時間をいただけないでしょうか。
<a href="{{ owner.meeting_url }}">ご都合のよい日時をお選びください</a>。{% else %}
このメールにご返信いただければ、私から直接ご連絡いたします。{% endif %}</p>
<p>率直なご意見をお寄せいただき、ありがとうございました。<br>{{ owner.name }}</p>"""
        + _FOOTER_HTML_JA,
    },
}

ONBOARDING: dict[str, Any] = {
    "name": "Onboarding",
    "description": (
        "Every new user with an email address: a welcome from the account's CSM with their "
        "meeting link on day 0, tips on day 7, and a check-in CTA for the CSM on day 30."
    ),
    "trigger": {"kind": "user_added", "params": {}},
    "audience": {},
    "steps": [
        {"kind": "email", "templates": WELCOME},
        {"kind": "wait", "days": 7},
        {"kind": "email", "templates": TIPS},
        {"kind": "wait", "days": 23},
        {
            "kind": "cta",
            "type": "onboarding",
            "reason": "30-day onboarding check-in",
            "detail": (
                "{{ person.name or person.email }} ({{ person.role or 'no role' }}) joined 30 "
                "days ago and got the welcome and tips mails. Check in: how is the start going?"
            ),
            "priority": 3,
            "due_days": 5,
        },
    ],
    "exit_conditions": ["unsubscribed", "churned"],
    "locale_default": "en",
}

POOR_NPS: dict[str, Any] = {
    "name": "Poor NPS follow-up",
    "description": (
        "A day after a detractor answer, a personal note from the account's CSM with their "
        "meeting link; a CTA if the person neither answers again nor has the answer's CTA "
        "closed within 5 days."
    ),
    "trigger": {"kind": "detractor_answer", "params": {}},
    "audience": {},
    "steps": [
        {"kind": "wait", "days": 1},
        {"kind": "email", "templates": PERSONAL_NOTE},
        {"kind": "wait", "days": 5},
        {
            "kind": "cta",
            "type": "risk",
            "reason": "Detractor follow-up: no reply in 5 days",
            "detail": (
                "{{ person.name or person.email }} scored {{ score }} and got your personal "
                'note 5 days ago without a reply or a new answer.{% if comment %} They wrote: "'
                '{{ comment }}"{% endif %}'
            ),
            "priority": 2,
            "due_days": 2,
        },
    ],
    "exit_conditions": ["answered", "cta_closed", "unsubscribed", "churned"],
    "locale_default": "en",
}

SHIPPED: dict[str, dict[str, Any]] = {"onboarding": ONBOARDING, "poor_nps": POOR_NPS}


async def ensure_default_programs(enabled: bool = False) -> list[int]:
    """Create each shipped program that does not exist yet (switched on when `enabled`), and
    with `enabled` switch on those that exist. Returns their ids."""
    from feedback.programs.services import create_program, set_enabled

    now = utcnow()
    ids = []
    for slug, data in SHIPPED.items():
        row = await Program.select(Program.id, Program.archived).where(Program.slug == slug).first()
        if row is None:
            name = data["name"]
            if await Program.exists().where(Program.name == name):
                name = f"{name} (shipped)"
            try:
                program = await create_program(
                    {**data, "name": name}, now, enabled=enabled, slug=slug
                )
            except Exception:
                # another process created it at the same moment (the unique slug)
                if not await Program.exists().where(Program.slug == slug):
                    raise
                return await ensure_default_programs(enabled)
            ids.append(program.id)
            continue
        if enabled and not row["archived"]:
            await set_enabled(row["id"], True, now)
        ids.append(row["id"])
    return ids
