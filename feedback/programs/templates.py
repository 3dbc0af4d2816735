"""Program mails and messages as jinja2 templates: sandboxed, undefined names are errors, the
HTML part autoescaped and the text part not.

A template is checked when its program is saved, by rendering it for a sample participant:
a syntax error, an unknown variable or an unsafe construct (the sandbox refuses attribute
access to internals) is refused with the field and the line. The variables:

- `person`: name, email, role, locale
- `account`: name, plan, external_id
- `score`, `comment`: the answer that enrolled the person (None and "" otherwise)
- `owner`: name, email, meeting_url (the account's CSM, else its pool)
- `unsubscribe_url`, `program`: name
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from feedback.kernel.errors import InputError
from feedback.programs.definitions import LOCALES, Definition, EmailTemplate, Step

# a block tag alone on its line leaves no blank line behind (plain-text mail reads as written)
_html = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=True, trim_blocks=True, lstrip_blocks=True
)
_text = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
)
_TEMPLATE_FILE = "<template>"  # what jinja names a template made from a string


class TemplateProblem(Exception):
    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(f"line {line}: {reason}" if line else reason)
        self.line = line
        self.reason = reason


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    locale: str


def _line_of(traceback: TracebackType | None) -> int | None:
    """The template line an error was raised on: jinja rewrites the traceback so that the
    template's frames carry the template's line numbers."""
    line = None
    while traceback is not None:
        if traceback.tb_frame.f_code.co_filename == _TEMPLATE_FILE:
            line = traceback.tb_lineno
        traceback = traceback.tb_next
    return line


def render(source: str, variables: dict[str, Any], *, html: bool = False) -> str:
    """The template rendered, or TemplateProblem naming the line and the reason."""
    environment = _html if html else _text
    try:
        template = environment.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(exc.lineno, f"syntax error: {exc.message}") from None
    try:
        return template.render(variables)
    except SecurityError as exc:
        raise TemplateProblem(_line_of(exc.__traceback__), f"not allowed: {exc}") from None
    except TemplateError as exc:  # UndefinedError among them
        raise TemplateProblem(_line_of(exc.__traceback__), str(exc.message or exc)) from None
    except Exception as exc:  # e.g. a division by zero inside an expression
        raise TemplateProblem(_line_of(exc.__traceback__), f"{type(exc).__name__}: {exc}") from None


def locale_of(person_locale: str | None, default: str = "en") -> str:
    """The template locale for a person: "ja", "ja-JP" → ja; anything else → the default."""
    value = (person_locale or "").strip().lower()
    if value.startswith("ja"):
        return "ja"
    if value.startswith("en"):
        return "en"
    return default


def render_email(step: Step, variables: dict[str, Any], locale: str) -> RenderedEmail:
    """An email step rendered in the person's locale, or English when it has no template in
    that locale."""
    chosen = locale if locale in step.templates else "en"
    template: EmailTemplate = step.templates[chosen]
    subject = " ".join(render(template.subject, variables).split())
    return RenderedEmail(
        subject=subject[:300],
        text=render(template.text, variables),
        html=render(template.html, variables, html=True),
        locale=chosen,
    )


def sample_variables(program_name: str, locale: str = "en") -> dict[str, Any]:
    """A made-up participant for previews and for checking templates when saved."""
    japanese = locale == "ja"
    return {
        "person": {
            "name": "佐藤 花子" if japanese else "Alex Morgan",
            "email": "alex.morgan@example.com",
            "role": "Admin",
            "locale": locale,
        },
        "account": {"name": "Example Corp", "plan": "Business", "external_id": "acct-example"},
        "score": 4,
        "comment": "Exports keep timing out on large projects.",
        "owner": {
            "name": "Sam Rivera",
            "email": "sam.rivera@example.com",
            "meeting_url": "https://cal.example.com/sam",
        },
        "unsubscribe_url": "https://feedback.example.com/unsubscribe/sample",
        "program": {"name": program_name},
    }


def check_templates(definition: Definition) -> None:
    """Every template of the definition renders for the sample participant; else InputError
    naming the step's field and the line."""
    for n, step in enumerate(definition.steps):
        where = f"steps[{n}]"
        parts: list[tuple[str, str, bool, dict[str, Any]]] = []
        if step.kind == "email":
            for locale in LOCALES:
                template = step.templates.get(locale)
                if template is None:
                    continue
                variables = sample_variables(definition.name, locale)
                at = f"{where}.templates.{locale}"
                parts += [
                    (f"{at}.subject", template.subject, False, variables),
                    (f"{at}.text", template.text, False, variables),
                    (f"{at}.html", template.html, True, variables),
                ]
        elif step.kind == "cta":
            variables = sample_variables(definition.name)
            parts += [
                (f"{where}.reason", step.reason, False, variables),
                (f"{where}.detail", step.detail, False, variables),
            ]
        elif step.kind == "slack":
            parts.append((f"{where}.text", step.text, False, sample_variables(definition.name)))
        for field, source, html, variables in parts:
            try:
                render(source, variables, html=html)
            except TemplateProblem as problem:
                raise InputError(field, str(problem)) from None
