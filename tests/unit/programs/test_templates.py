"""Program templates: sandboxed, strict about names, escaped in HTML only, refused with the
line when they do not render."""

from __future__ import annotations

from typing import Any

import pytest

from feedback.kernel.errors import InputError
from feedback.programs.definitions import parse_definition
from feedback.programs.templates import (
    TemplateProblem,
    check_templates,
    locale_of,
    render,
    render_email,
    sample_variables,
)


def email_program(subject: str = "Hi", text: str = "Hi", html: str = "<p>Hi</p>") -> Any:
    return parse_definition(
        {
            "name": "T",
            "trigger": {"kind": "manual"},
            "steps": [
                {
                    "kind": "email",
                    "templates": {"en": {"subject": subject, "text": text, "html": html}},
                }
            ],
        }
    )


def refusal(**parts: str) -> InputError:
    with pytest.raises(InputError) as raised:
        check_templates(email_program(**parts))
    return raised.value


def test_a_syntax_error_names_the_part_and_the_line() -> None:
    error = refusal(text="Hello\n\n{{ person.name }\nbye")
    assert error.field == "steps[0].templates.en.text"
    assert "line 3" in error.message and "syntax error" in error.message


def test_an_unknown_variable_names_the_line() -> None:
    error = refusal(html="<p>Hi</p>\n<p>{{ person.shoe_size }}</p>")
    assert error.field == "steps[0].templates.en.html"
    assert "line 2" in error.message and "shoe_size" in error.message


def test_an_unsafe_construct_is_refused() -> None:
    error = refusal(text="{{ ''.__class__.__mro__[1].__subclasses__() }}")
    assert error.field == "steps[0].templates.en.text"
    assert "not allowed" in error.message or "unsafe" in error.message


def test_html_is_escaped_and_text_is_not() -> None:
    variables = sample_variables("P")
    variables["comment"] = "<script>alert(1)</script> & more"
    assert "&lt;script&gt;" in render("{{ comment }}", variables, html=True)
    assert render("{{ comment }}", variables) == "<script>alert(1)</script> & more"


def test_the_person_locale_picks_the_template_and_english_is_the_fallback() -> None:
    program = parse_definition(
        {
            "name": "T",
            "trigger": {"kind": "manual"},
            "steps": [
                {
                    "kind": "email",
                    "templates": {
                        "en": {"subject": "Hello", "text": "t", "html": "h"},
                        "ja": {"subject": "こんにちは", "text": "t", "html": "h"},
                    },
                }
            ],
        }
    )
    step = program.steps[0]
    assert locale_of("ja-JP") == "ja" and locale_of("fr") == "en" and locale_of(None) == "en"
    assert render_email(step, sample_variables("T", "ja"), "ja").subject == "こんにちは"
    english_only = email_program(subject="Hello").steps[0]
    assert render_email(english_only, sample_variables("T"), "ja").subject == "Hello"


def test_a_subject_is_one_line() -> None:
    step = email_program(subject="Hello\n{{ person.name }}\r\n!").steps[0]
    assert render_email(step, sample_variables("T"), "en").subject == "Hello Alex Morgan !"


def test_a_problem_says_its_line() -> None:
    with pytest.raises(TemplateProblem) as raised:
        render("a\nb\n{{ nope }}", sample_variables("T"))
    assert raised.value.line == 3
