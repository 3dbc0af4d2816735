"""The input rule's checks of JSON and form bodies (feedback/web/inputs.py), without HTTP."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feedback.kernel.errors import InputError
from feedback.web.inputs import (
    MAX_JSON_DEPTH,
    _may_break_the_rule,
    check_form,
    check_json,
    check_typed,
)


def refused_field(body: object) -> str:
    with pytest.raises(InputError) as refused:
        check_json(json.dumps(body).encode())
    return refused.value.field


def test_the_field_path_names_keys_and_list_positions() -> None:
    assert refused_field({"user_id": "a\x00b"}) == "user_id"
    assert refused_field({"traits": {"role": "x\x1b"}}) == "traits.role"
    assert refused_field({"metrics": [{"day": "ok"}, {"day": "\x7f"}]}) == "metrics[1].day"
    assert refused_field([{"name": "ok"}, {"name": "\x85"}]) == "[1].name"
    assert refused_field({"traits": {"ro\x00le": "admin"}}) == "traits"
    assert refused_field("\x00") == "body"


def test_tabs_and_line_breaks_are_text() -> None:
    check_json(json.dumps({"comment": "one\r\ntwo\n\tthree", "emoji": "🙂", "ja": "日本"}).encode())


def test_nesting_deeper_than_the_limit_is_refused_at_any_depth() -> None:
    check_json(("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH).encode())
    for depth in (MAX_JSON_DEPTH + 1, 100_000):
        with pytest.raises(InputError) as refused:
            check_json(("[" * depth + "]" * depth).encode())
        assert refused.value.field == "body"


def test_numbers_no_column_holds_name_their_field() -> None:
    for number in ("1" * 5000, "99999999999999999999", "1e999", "-1e400"):
        with pytest.raises(InputError) as refused:
            check_json(b'{"rows": [{"a": 1}, {"arr": ' + number.encode() + b"}]}")
        assert refused.value.field == "rows[1].arr"
        assert refused.value.message == "number out of range"


def test_a_body_that_is_not_json_is_left_to_the_view() -> None:
    for body in (b"{not json", b"", b"\xff\xfe", b'{"a": NaN}'):
        check_json(body)


def test_a_widget_body_is_decoded_only_when_it_could_break_the_rule() -> None:
    usual = {"user_id": "u1", "account_id": "a1", "traits": {"role": "admin", "seats": 5}}
    assert not _may_break_the_rule(json.dumps(usual, ensure_ascii=False).encode())
    assert not _may_break_the_rule(json.dumps({"comment": "a\nb\t\u00e9"}).encode())
    assert _may_break_the_rule(json.dumps({"user_id": "a\x00"}).encode())
    assert _may_break_the_rule(json.dumps({"user_id": "a\x85"}, ensure_ascii=False).encode())
    assert _may_break_the_rule(b"[" * 65 + b"]" * 65)
    assert _may_break_the_rule(json.dumps({"comment": "a\x7f"}).encode())  # DEL stays raw


def test_the_quick_look_sees_every_control_character_however_it_is_encoded() -> None:
    for code in [*range(0xA1), 0x2028, 0xFEFF]:
        for ensure_ascii in (True, False):
            body = json.dumps({"comment": f"a{chr(code)}b"}, ensure_ascii=ensure_ascii).encode()
            try:
                check_json(body)
            except InputError:
                assert _may_break_the_rule(body), (hex(code), ensure_ascii)


@given(st.text() | st.text(alphabet=st.characters(max_codepoint=0xA0)))
def test_the_quick_look_never_misses_what_the_walk_refuses(text: str) -> None:
    for ensure_ascii in (True, False):
        body = json.dumps({"comment": text}, ensure_ascii=ensure_ascii).encode()
        try:
            check_json(body)
        except InputError:
            assert _may_break_the_rule(body)


def test_form_fields_keep_line_breaks_but_not_other_controls() -> None:
    check_form(b"survey_question=How%20likely%3F%0D%0ASecond+line&x=%09tab")
    with pytest.raises(InputError) as refused:
        check_form(b"email=a%00%40example.com&password=x")
    assert refused.value.field == "email"
    with pytest.raises(InputError):
        check_form(b"name=%C2%85")


@pytest.mark.parametrize(
    ("value", "kind", "refused"),
    [
        ("2147483647", int, False),
        ("2147483648", int, True),
        ("-2147483649", int, True),
        ("9" * 5000, int, True),
        ("abc", int, False),  # not a number: Litestar says so itself
        ("inf", float, True),
        ("nan", float, True),
        ("0.95", float, False),
        ("1899-12-31", date, True),
        ("1900-01-01", date, False),
        ("2200-12-31T23:59:59Z", datetime, False),
        ("9999-12-31T00:00:00Z", datetime, True),
    ],
)
def test_typed_query_values_out_of_range(value: str, kind: type, refused: bool) -> None:
    if refused:
        with pytest.raises(InputError):
            check_typed("p", value, kind)
    else:
        check_typed("p", value, kind)
