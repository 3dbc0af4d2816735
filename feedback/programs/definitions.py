"""What a program is made of, read from JSON and checked: its trigger, audience, steps and
exit conditions. A definition that makes no sense is refused naming the field at fault
(`steps[2].days`), the way the API and the editor show it.

Pure: no database, no templates (feedback/programs/templates.py checks those).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from feedback.kernel.errors import InputError

# what enrols someone; the person-level ones enrol a person, the others an account
TRIGGERS: dict[str, str] = {
    "account_created": "An account is created or imported",
    "user_added": "A user with an email address joins an account",
    "detractor_answer": "A detractor answers (0 to 6)",
    "promoter_comment": "A promoter (9 or 10) leaves a comment",
    "renewal_in_days": "The account renews in N days",
    "health_red": "The account's health moves into red",
    "manual": "Enrolled by hand, from a CTA or an account",
}
PERSON_TRIGGERS = frozenset({"user_added", "detractor_answer", "promoter_comment"})
EXITS: dict[str, str] = {
    "answered": "The person answered a survey after enrolling",
    "cta_closed": "The CTA raised by the program (or the one that enrolled them) was closed",
    "unsubscribed": "The person unsubscribed (or their address bounced)",
    "churned": "The account churned",
}
# audience filters: an account's or a person's attribute and the values allowed
AUDIENCE: dict[str, str] = {
    "plan": "Plan",
    "industry": "Industry",
    "company_size": "Company size",
    "role": "User role",
    "account_status": "Account status",
}
STEP_KINDS = ("email", "wait", "cta", "slack", "end")
LOCALES = ("en", "ja")
MAX_STEPS = 30
MAX_WAIT_DAYS = 730
MAX_TEMPLATE = 50_000


@dataclass(frozen=True)
class EmailTemplate:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Step:
    """One step; which fields matter depends on `kind`."""

    kind: str
    days: int = 0  # wait
    templates: Mapping[str, EmailTemplate] = field(default_factory=dict)  # email, per locale
    cta_type: str = ""  # cta
    reason: str = ""  # cta (a text template)
    detail: str = ""  # cta (a text template)
    priority: int = 3  # cta
    due_days: int = 3  # cta
    channel: str | None = None  # slack; None is the default channel
    text: str = ""  # slack (a text template)

    def as_json(self) -> dict[str, Any]:
        if self.kind == "wait":
            return {"kind": "wait", "days": self.days}
        if self.kind == "email":
            return {
                "kind": "email",
                "templates": {
                    locale: {"subject": t.subject, "text": t.text, "html": t.html}
                    for locale, t in self.templates.items()
                },
            }
        if self.kind == "cta":
            return {
                "kind": "cta",
                "type": self.cta_type,
                "reason": self.reason,
                "detail": self.detail,
                "priority": self.priority,
                "due_days": self.due_days,
            }
        if self.kind == "slack":
            return {"kind": "slack", "channel": self.channel, "text": self.text}
        return {"kind": self.kind}

    def describe(self) -> str:
        """A few words for lists: "Email: Welcome to ...", "Wait 7 days"."""
        if self.kind == "wait":
            return f"Wait {self.days} day{'' if self.days == 1 else 's'}"
        if self.kind == "email":
            first = self.templates.get("en") or next(iter(self.templates.values()))
            return f"Email: {first.subject}"
        if self.kind == "cta":
            return f"Raise a {self.cta_type} CTA: {self.reason}"
        if self.kind == "slack":
            return f"Post to Slack{f' ({self.channel})' if self.channel else ''}"
        return "End"


@dataclass(frozen=True)
class Definition:
    name: str
    trigger_kind: str
    trigger_params: Mapping[str, Any]
    audience: Mapping[str, tuple[str, ...]]
    steps: tuple[Step, ...]
    exit_conditions: tuple[str, ...]
    description: str = ""
    locale_default: str = "en"

    @property
    def person_level(self) -> bool:
        return self.trigger_kind in PERSON_TRIGGERS


def _text(data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = data.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InputError(f"{where}{key}", "a text")
    if required and not value.strip():
        raise InputError(f"{where}{key}", "must not be empty")
    if len(value) > MAX_TEMPLATE:
        raise InputError(f"{where}{key}", f"at most {MAX_TEMPLATE} characters")
    return value


def _whole(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputError(where, "a whole number")
    if not low <= value <= high:
        raise InputError(where, f"from {low} to {high}")
    return value


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(where, "an object")
    return value


def parse_trigger(kind: Any, params: Any) -> tuple[str, dict[str, Any]]:
    if kind not in TRIGGERS:
        raise InputError("trigger.kind", f"unknown trigger; one of: {', '.join(TRIGGERS)}")
    params = dict(_object(params if params is not None else {}, "trigger.params"))
    if kind == "renewal_in_days":
        params = {"days": _whole(params.get("days"), "trigger.params.days", 1, 365)}
    elif params:
        raise InputError("trigger.params", f"the {kind} trigger takes no parameters")
    return kind, params


def parse_audience(value: Any) -> dict[str, tuple[str, ...]]:
    audience: dict[str, tuple[str, ...]] = {}
    for key, values in _object(value if value is not None else {}, "audience").items():
        if key not in AUDIENCE:
            raise InputError(f"audience.{key}", f"unknown filter; one of: {', '.join(AUDIENCE)}")
        if isinstance(values, str):
            values = [values]
        if not isinstance(values, list) or not all(
            isinstance(v, str) and v.strip() for v in values
        ):
            raise InputError(f"audience.{key}", "a list of values")
        if values:
            audience[key] = tuple(v.strip() for v in values)
    return audience


def parse_step(data: Any, n: int) -> Step:
    where = f"steps[{n}]"
    data = _object(data, where)
    kind = data.get("kind")
    if kind not in STEP_KINDS:
        raise InputError(f"{where}.kind", f"unknown step; one of: {', '.join(STEP_KINDS)}")
    known = {
        "email": {"kind", "templates"},
        "wait": {"kind", "days"},
        "cta": {"kind", "type", "reason", "detail", "priority", "due_days"},
        "slack": {"kind", "channel", "text"},
        "end": {"kind"},
    }[kind]
    for key in data:
        if key not in known:
            raise InputError(f"{where}.{key}", f"not a field of a {kind} step")
    if kind == "wait":
        return Step("wait", days=_whole(data.get("days"), f"{where}.days", 0, MAX_WAIT_DAYS))
    if kind == "email":
        templates = _object(data.get("templates"), f"{where}.templates")
        if "en" not in templates:
            raise InputError(f"{where}.templates.en", "an English template is required")
        parsed: dict[str, EmailTemplate] = {}
        for locale, template in templates.items():
            at = f"{where}.templates.{locale}"
            if locale not in LOCALES:
                raise InputError(at, f"unknown locale; one of: {', '.join(LOCALES)}")
            template = _object(template, at)
            for key in template:
                if key not in ("subject", "text", "html"):
                    raise InputError(f"{at}.{key}", "not a part of an email (subject, text, html)")
            parsed[locale] = EmailTemplate(
                subject=_text(template, "subject", at + "."),
                text=_text(template, "text", at + "."),
                html=_text(template, "html", at + "."),
            )
        return Step("email", templates=parsed)
    if kind == "cta":
        cta_type = _text(data, "type", where + ".")
        return Step(
            "cta",
            cta_type=cta_type.strip(),
            reason=_text(data, "reason", where + "."),
            detail=_text(data, "detail", where + ".", required=False),
            priority=_whole(data.get("priority", 3), f"{where}.priority", 1, 4),
            due_days=_whole(data.get("due_days", 3), f"{where}.due_days", 0, 365),
        )
    if kind == "slack":
        channel = data.get("channel")
        if channel is not None and (not isinstance(channel, str) or len(channel) > 80):
            raise InputError(f"{where}.channel", "a Slack channel name or id")
        return Step(
            "slack", channel=(channel or "").strip() or None, text=_text(data, "text", where + ".")
        )
    return Step("end")


def parse_steps(value: Any) -> tuple[Step, ...]:
    if not isinstance(value, list):
        raise InputError("steps", "a list of steps")
    if not value:
        raise InputError("steps", "a program needs at least one step")
    if len(value) > MAX_STEPS:
        raise InputError("steps", f"at most {MAX_STEPS} steps")
    steps = tuple(parse_step(each, n) for n, each in enumerate(value))
    for n, step in enumerate(steps[:-1]):
        if step.kind == "end":
            raise InputError(f"steps[{n + 1}]", "no step may follow an end step")
    if all(step.kind in ("wait", "end") for step in steps):
        raise InputError("steps", "a program needs a step that does something (email, cta, slack)")
    return steps


def parse_exits(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InputError("exit_conditions", "a list")
    for n, each in enumerate(value):
        if each not in EXITS:
            raise InputError(
                f"exit_conditions[{n}]", f"unknown exit condition; one of: {', '.join(EXITS)}"
            )
    return tuple(dict.fromkeys(value))


def parse_definition(data: Mapping[str, Any]) -> Definition:
    """A program's definition from its JSON form (the API's body, the editor's fields)."""
    name = _text(data, "name", "")
    if len(name.strip()) > 200:
        raise InputError("name", "at most 200 characters")
    trigger = _object(data.get("trigger") or {}, "trigger")
    kind, params = parse_trigger(trigger.get("kind"), trigger.get("params"))
    locale_default = data.get("locale_default") or "en"
    if locale_default not in LOCALES:
        raise InputError("locale_default", f"one of: {', '.join(LOCALES)}")
    description = data.get("description") or ""
    if not isinstance(description, str) or len(description) > 2000:
        raise InputError("description", "a text of at most 2000 characters")
    return Definition(
        name=name.strip(),
        trigger_kind=kind,
        trigger_params=params,
        audience=parse_audience(data.get("audience")),
        steps=parse_steps(data.get("steps")),
        exit_conditions=parse_exits(data.get("exit_conditions")),
        description=description.strip(),
        locale_default=locale_default,
    )


def steps_json(steps: tuple[Step, ...]) -> list[dict[str, Any]]:
    return [step.as_json() for step in steps]


def audience_json(audience: Mapping[str, tuple[str, ...]]) -> dict[str, list[str]]:
    return {key: list(values) for key, values in audience.items()}


def in_audience(audience: Mapping[str, tuple[str, ...]], facts: Mapping[str, Any]) -> bool:
    """Whether an account and person (`facts`: plan, industry, company_size, role,
    account_status) match every filter; values compare without regard to case."""
    for key, allowed in audience.items():
        value = facts.get(key)
        if value is None or str(value).casefold() not in {a.casefold() for a in allowed}:
            return False
    return True
