"""CSV exports defuse what a spreadsheet would run as a formula (feedback.reports.services),
also behind leading whitespace, line breaks and invisible characters, and in full width."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from feedback.reports.services import FORMULA_STARTS, spreadsheet_safe

LEADING = st.text(alphabet=" \t\n\r\x0b\x0c\u00a0\u2003\u3000\u200b\ufeff\x00", max_size=5)


@given(leading=LEADING, first=st.sampled_from(sorted(FORMULA_STARTS)), rest=st.text(max_size=20))
def test_a_formula_behind_whitespace_is_defused(leading: str, first: str, rest: str) -> None:
    value = leading + first + rest
    assert spreadsheet_safe(value) == "'" + value


@given(first=st.characters(exclude_characters="".join(FORMULA_STARTS)), rest=st.text(max_size=20))
def test_text_that_starts_visibly_with_anything_else_is_kept(first: str, rest: str) -> None:
    value = first + rest
    if first.isspace() or not first.isprintable():
        return  # covered above
    assert spreadsheet_safe(value) == value


def test_the_reported_cells_are_defused() -> None:
    for cell in (
        " =1+1",
        '\n=HYPERLINK("x")',
        "\uff1dcmd|' /c calc'!A0",
        "\uff0b1",
        "\uff0d1",
        "\uff20SUM(A1)",
        "\t1",
        "\r1",
    ):
        assert spreadsheet_safe(cell).startswith("'"), repr(cell)
    assert spreadsheet_safe("fine = good") == "fine = good"
    assert spreadsheet_safe(7) == 7
    assert spreadsheet_safe("") == ""
