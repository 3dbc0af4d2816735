"""Program definitions that make no sense are refused naming the field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from feedback.kernel.errors import InputError
from feedback.programs.definitions import in_audience, parse_definition
from feedback.programs.shipped import ONBOARDING, POOR_NPS
from feedback.programs.templates import check_templates

EMAIL = {"kind": "email", "templates": {"en": {"subject": "Hi", "text": "Hi", "html": "<p>Hi</p>"}}}


def program(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Test",
        "trigger": {"kind": "detractor_answer"},
        "steps": [EMAIL, {"kind": "wait", "days": 2}, {"kind": "end"}],
        **changes,
    }


def refused_field(data: dict[str, Any]) -> str:
    with pytest.raises(InputError) as raised:
        check_templates(parse_definition(data))
    return raised.value.field


def test_the_shipped_programs_are_valid() -> None:
    for data in (ONBOARDING, POOR_NPS):
        check_templates(parse_definition(data))


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (program(steps=[EMAIL, {"kind": "wait", "days": -1}]), "steps[1].days"),
        (program(steps=[EMAIL, {"kind": "end"}, EMAIL]), "steps[2]"),
        (program(steps=[EMAIL, {"kind": "fax"}]), "steps[1].kind"),
        (program(steps=[{"kind": "wait", "days": 1}]), "steps"),
        (program(steps=[]), "steps"),
        (program(trigger={"kind": "moon_phase"}), "trigger.kind"),
        (program(trigger={"kind": "renewal_in_days"}), "trigger.params.days"),
        (
            program(trigger={"kind": "renewal_in_days", "params": {"days": 0}}),
            "trigger.params.days",
        ),
        (program(audience={"shoe_size": ["42"]}), "audience.shoe_size"),
        (program(exit_conditions=["bored"]), "exit_conditions[0]"),
        (program(name=" "), "name"),
        (
            program(
                steps=[
                    {
                        "kind": "email",
                        "templates": {"en": {"subject": "", "text": "t", "html": "h"}},
                    }
                ]
            ),
            "steps[0].templates.en.subject",
        ),
        (
            program(
                steps=[
                    {
                        "kind": "email",
                        "templates": {"ja": {"subject": "s", "text": "t", "html": "h"}},
                    }
                ]
            ),
            "steps[0].templates.en",
        ),
        (
            program(steps=[{"kind": "cta", "type": "risk", "reason": "r", "priority": 9}]),
            "steps[0].priority",
        ),
        (program(steps=[{**EMAIL, "cc": "x"}]), "steps[0].cc"),
    ],
)
def test_a_definition_that_makes_no_sense_names_the_field(data: dict[str, Any], field: str) -> None:
    assert refused_field(data) == field


def test_an_end_step_may_only_come_last() -> None:
    parse_definition(program(steps=[EMAIL, {"kind": "end"}]))


def test_audience_filters_match_without_regard_to_case() -> None:
    definition = parse_definition(program(audience={"plan": ["Premium"], "role": "admin"}))
    assert in_audience(definition.audience, {"plan": "premium", "role": "Admin"})
    assert not in_audience(definition.audience, {"plan": "free", "role": "admin"})
    assert not in_audience(definition.audience, {"plan": "premium", "role": None})


def test_a_change_to_a_shipped_program_is_checked_too() -> None:
    data = copy.deepcopy(POOR_NPS)
    data["steps"][2]["days"] = -5
    assert refused_field(data) == "steps[2].days"
