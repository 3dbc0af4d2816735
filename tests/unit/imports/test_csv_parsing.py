"""Reading CSV and JSON rows and parsing their cells: pure functions, no database, no app."""

from __future__ import annotations

import contextlib
import csv
import io
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feedback.imports.kinds import KINDS, check_header, parse_rows
from feedback.imports.parsing import (
    MAX_FIELD_CHARS,
    CellError,
    FileError,
    RowError,
    company_size_band,
    decode,
    normalise_header,
    parse_datetime,
    parse_email,
    parse_int,
    parse_locale,
    parse_money_cents,
    parse_score,
    read_csv,
    read_json_rows,
)

PROPERTY = settings(max_examples=200, deadline=None)

# the line breaks csv.reader sees when reading from io.StringIO(newline="")
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def write_csv(rows: list[list[str]]) -> str:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(rows)
    return out.getvalue()


def read_all(text: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    header, rows = read_csv(text)
    return header, [(row.line, row.values) for row in rows]


def file_error(text: str) -> RowError:
    with pytest.raises(FileError) as caught:
        read_all(text)
    return caught.value.error


def is_blank(cells: list[str]) -> bool:
    return all(cell.strip() == "" for cell in cells)


# text that is hard for CSV: separators, quotes, both kinds of line break, unicode, padding
tricky_piece = st.one_of(
    st.text(max_size=12),
    st.sampled_from([",", '"', '""', "\n", "\r\n", "\r", " ", "  ", "\t", "é", "日本語", "😀"]),
    st.sampled_from(["\ufeff", "\x00", "\u2028", "\x85", "a,b", '"quoted"', " lead", "trail "]),
)
tricky_cell = st.lists(tricky_piece, max_size=5).map("".join)
HEADER = ["a", "b", "c"]
data_row = st.lists(tricky_cell, min_size=1, max_size=len(HEADER)).filter(
    lambda cells: not is_blank(cells)
)
blank_line = st.sampled_from(["\r\n", ",\r\n", ",,\r\n", "  \r\n", " , ,\t\r\n", '""\r\n'])


# -- read_csv: round trip and line numbers ------------------------------------------------------


@PROPERTY
@given(rows=st.lists(data_row, max_size=8))
def test_it_gives_back_the_cells_csv_writer_wrote_with_the_line_each_record_starts_on(
    rows: list[list[str]],
) -> None:
    text = write_csv([HEADER, *rows])

    header, read = read_all(text)

    assert header == HEADER
    expected = []
    line = 2
    for cells in rows:
        padded = cells + [""] * (len(HEADER) - len(cells))
        expected.append((line, dict(zip(HEADER, padded, strict=True))))
        line += 1 + sum(len(LINE_BREAK.findall(cell)) for cell in cells)
    assert read == expected


@PROPERTY
@given(
    records=st.lists(st.tuples(st.lists(blank_line, max_size=3), data_row), max_size=6),
    trailing=st.lists(blank_line, max_size=3),
)
def test_it_skips_blank_lines_without_disturbing_the_line_numbers_of_later_rows(
    records: list[tuple[list[str], list[str]]], trailing: list[str]
) -> None:
    text = write_csv([HEADER])
    expected = []
    line = 2
    for blanks, cells in records:
        text += "".join(blanks) + write_csv([cells])
        line += len(blanks)
        padded = cells + [""] * (len(HEADER) - len(cells))
        expected.append((line, dict(zip(HEADER, padded, strict=True))))
        line += 1 + sum(len(LINE_BREAK.findall(cell)) for cell in cells)
    text += "".join(trailing)

    _, read = read_all(text)

    assert read == expected


def test_it_numbers_the_record_after_a_multi_line_cell_from_where_it_really_starts() -> None:
    text = 'id,comment\r\n1,"first\r\nsecond\nthird"\r\n2,plain\r\n\r\n3,"x\ny"\r\n4,z\r\n'

    _, read = read_all(text)

    assert read == [
        (2, {"id": "1", "comment": "first\r\nsecond\nthird"}),
        (5, {"id": "2", "comment": "plain"}),
        (7, {"id": "3", "comment": "x\ny"}),
        (9, {"id": "4", "comment": "z"}),
    ]


def test_it_keeps_cells_verbatim_with_their_spaces_for_the_parsers_to_strip() -> None:
    _, read = read_all('a,b\n  padded  ,"  quoted, with comma  "\n')

    assert read == [(2, {"a": "  padded  ", "b": "  quoted, with comma  "})]


def test_it_reads_a_crlf_file_like_an_lf_file() -> None:
    lf = "Name,Score\nAda,9\n\nBob,3\n"

    assert read_all(lf.replace("\n", "\r\n")) == read_all(lf)
    assert read_all(lf) == (
        ["name", "score"],
        [(2, {"name": "Ada", "score": "9"}), (4, {"name": "Bob", "score": "3"})],
    )


def test_it_reads_a_file_without_a_final_line_break() -> None:
    assert read_all("a,b\r\n1,2") == (["a", "b"], [(2, {"a": "1", "b": "2"})])


def test_it_skips_lines_of_only_commas_and_spaces() -> None:
    _, read = read_all("a,b,c\n,,\n , \t,\n1,2,3\n,\n")

    assert read == [(4, {"a": "1", "b": "2", "c": "3"})]


def test_it_ignores_a_byte_order_mark_in_text() -> None:
    assert read_all("\ufeffAccount ID,Name\n1,Acme\n") == (
        ["account_id", "name"],
        [(2, {"account_id": "1", "name": "Acme"})],
    )


def test_it_normalises_the_header_names() -> None:
    header, _ = read_all("  Account ID ,E-mail Address,NPS (0-10)\n")

    assert header == ["account_id", "e_mail_address", "nps_0_10"]


def test_it_pads_a_row_with_fewer_cells_than_the_header() -> None:
    _, read = read_all("a,b,c\n1\n1,2\n")

    assert read == [(2, {"a": "1", "b": "", "c": ""}), (3, {"a": "1", "b": "2", "c": ""})]


def test_it_rejects_a_row_with_more_cells_than_the_header_naming_its_line() -> None:
    error = file_error('a,b\n1,2\n3,"multi\nline"\n4,5,6\n')

    assert error.line == 5
    assert "3 cells but the header has 2" in error.reason
    assert "line 5" in str(FileError(error))


def test_it_rejects_an_empty_file() -> None:
    for text in ("", "\ufeff"):
        error = file_error(text)
        assert error.line == 1
        assert "empty" in error.reason


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("name,Name\n", "name"),
        ("Account ID,account_id\n", "account_id"),
        ("a,b,a\n1,2,3\n", "a"),
    ],
)
def test_it_rejects_a_header_with_a_duplicate_column_on_line_1(header: str, column: str) -> None:
    error = file_error(header)

    assert (error.line, error.column) == (1, column)
    assert "twice" in error.reason


@pytest.mark.parametrize(
    ("header", "column"),
    [("a,,b\n", "#2"), ("a,b,\n", "#3"), ("!!!,a\n", "#1"), ('a," "\n', "#2")],
)
def test_it_rejects_a_header_with_an_empty_column_on_line_1(header: str, column: str) -> None:
    error = file_error(header)

    assert (error.line, error.column) == (1, column)
    assert "empty column name" in error.reason


def test_it_rejects_an_unterminated_quote_naming_the_line_the_record_starts_on() -> None:
    error = file_error('a,b\n1,2\n3,"never closed\nmore\nand more\n')

    assert error.line == 3
    assert "malformed CSV" in error.reason


def test_it_rejects_text_after_a_closing_quote_naming_its_line() -> None:
    error = file_error('a,b\n1,2\n\n3,"x"y\n')

    assert error.line == 4


def test_it_reads_a_huge_field() -> None:
    comment = ("lorem, ipsum\n" * 20_000)[:200_000]

    _, read = read_all(write_csv([["id", "comment"], ["1", comment], ["2", "short"]]))

    assert read == [
        (2, {"id": "1", "comment": comment}),
        (2 + 1 + comment.count("\n"), {"id": "2", "comment": "short"}),
    ]


def test_it_reads_a_field_of_exactly_the_maximum_size() -> None:
    _, read = read_all("id,comment\n1," + "x" * MAX_FIELD_CHARS + "\n")

    assert len(read[0][1]["comment"]) == MAX_FIELD_CHARS


@pytest.mark.parametrize("quoted", [False, True])
def test_it_rejects_a_field_above_the_maximum_size_with_a_file_error(quoted: bool) -> None:
    field = "x" * (MAX_FIELD_CHARS + 1)
    if quoted:
        field = f'"{field}"'

    error = file_error(f"id,comment\n1,ok\n2,{field}\n")

    assert error.line == 3
    assert "field limit" in error.reason


def test_it_rejects_a_header_field_above_the_maximum_size_with_a_file_error() -> None:
    error = file_error("x" * (MAX_FIELD_CHARS + 1) + "\n1\n")

    assert error.line == 1


@PROPERTY
@given(text=st.text())
def test_it_reads_arbitrary_text_or_raises_only_a_file_error(text: str) -> None:
    try:
        header, rows = read_csv(text)
        read = [(row.line, row.values) for row in rows]
    except FileError as exc:
        assert exc.error.line >= 1
        return
    lines = [line for line, _ in read]
    assert lines == sorted(set(lines))
    assert all(line >= 2 for line in lines)
    assert all(list(values) == header for _, values in read)


@PROPERTY
@given(text=st.lists(tricky_piece, max_size=20).map("".join))
def test_it_reads_arbitrary_csv_like_text_or_raises_only_a_file_error(text: str) -> None:
    with contextlib.suppress(FileError):
        read_all(text)


# -- decode --------------------------------------------------------------------------------------


def test_it_ignores_a_byte_order_mark_in_bytes() -> None:
    text = decode(b"\xef\xbb\xbfAccount ID,Name\r\n1,Caf\xc3\xa9\r\n")

    assert text == "Account ID,Name\r\n1,Café\r\n"
    assert read_all(text)[0] == ["account_id", "name"]


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"\xff,name\n1,x\n", 1),
        (b"id,name\n1,Caf\xe9\n", 2),
        (b"id,name\r\n1,ok\r\n2,ok\r\n3,Caf\xe9\r\n", 4),
        (b"id,name\n1,ok\n2,\xc3\n", 3),  # a truncated two-byte sequence
    ],
)
def test_it_rejects_bytes_that_are_not_utf8_naming_the_line(data: bytes, line: int) -> None:
    with pytest.raises(FileError) as caught:
        decode(data)

    assert caught.value.error.line == line
    assert "not UTF-8" in caught.value.error.reason


@PROPERTY
@given(
    lines=st.lists(
        st.text(st.characters(exclude_characters="\r\n", exclude_categories=("Cs",))),
        min_size=1,
        max_size=8,
    ),
    data=st.data(),
)
def test_it_names_the_line_of_the_first_byte_that_is_not_utf8(
    lines: list[str], data: st.DataObject
) -> None:
    bad = data.draw(st.integers(0, len(lines) - 1), label="bad line index")
    encoded = [line.encode() for line in lines]
    cut = data.draw(st.integers(0, len(encoded[bad])), label="byte offset")
    # 0xff never occurs in UTF-8, so cutting a character in two only adds more invalid bytes after
    encoded[bad] = encoded[bad][:cut] + b"\xff" + encoded[bad][cut:]

    with pytest.raises(FileError) as caught:
        decode(b"\n".join(encoded))

    assert caught.value.error.line == bad + 1


def test_it_names_the_right_line_of_a_non_utf8_byte_in_a_file_with_a_byte_order_mark() -> None:
    with pytest.raises(FileError) as caught:
        decode(b"\xef\xbb\xbfid,name\n1,ok\n\xff\n")

    assert caught.value.error.line == 3


def test_it_names_the_right_line_of_a_non_utf8_byte_in_a_file_with_cr_line_breaks() -> None:
    data = b"id,name\r1,ok\r2,Caf\xe9\r"
    assert [line for line, _ in read_all(data.replace(b"\xe9", b"e").decode())[1]] == [2, 3]

    with pytest.raises(FileError) as caught:
        decode(data)

    assert caught.value.error.line == 3


@PROPERTY
@given(data=st.binary(max_size=200))
def test_it_decodes_and_reads_arbitrary_bytes_or_raises_only_a_file_error(data: bytes) -> None:
    with contextlib.suppress(FileError):
        read_all(decode(data))


# -- read_json_rows ------------------------------------------------------------------------------


def test_it_reads_json_rows_numbering_them_from_1_and_normalising_keys() -> None:
    header, rows = read_json_rows(
        {"rows": [{"Account ID": "A1", "Score": 9}, {"Account ID": "A2", "Active": True}]}
    )

    assert header == ["account_id", "score", "active"]
    assert [(row.line, row.values) for row in rows] == [
        (1, {"account_id": "A1", "score": "9"}),
        (2, {"account_id": "A2", "active": "true"}),
    ]


def test_it_reads_json_nulls_as_empty_cells_and_floats_as_text() -> None:
    _, rows = read_json_rows([{"a": None, "b": 7.0, "c": False}])

    assert next(rows).values == {"a": "", "b": "7.0", "c": "false"}


@pytest.mark.parametrize(
    ("payload", "line"),
    [
        ({"rows": "nope"}, 0),
        ("nope", 0),
        ([{"a": 1}, ["not", "an", "object"]], 2),
        ([{"a": 1}, {"a": 2}, {"a": {"nested": 1}}], 3),
        ([{"!!!": 1}], 1),
    ],
)
def test_it_rejects_json_rows_of_the_wrong_shape(payload: object, line: int) -> None:
    with pytest.raises(FileError) as caught:
        read_json_rows(payload)

    assert caught.value.error.line == line


# -- cell parsers --------------------------------------------------------------------------------


@PROPERTY
@given(
    amount=st.decimals(
        min_value=0, max_value=10**15, places=2, allow_nan=False, allow_infinity=False
    ),
    style=st.sampled_from(["{:f}", "{:,}", "{:,.2f}", "${:,.2f}", "  ${:f}  ", "{:.1f}"]),
)
def test_it_parses_an_amount_with_at_most_two_decimals_to_exact_cents(
    amount: Decimal, style: str
) -> None:
    if style == "{:.1f}":
        amount = amount.quantize(Decimal("0.1"))

    assert parse_money_cents(style.format(amount)) == int(amount * 100)


@PROPERTY
@given(milli=st.integers(min_value=0, max_value=10**15).filter(lambda m: m % 10 != 0))
def test_it_rejects_an_amount_with_three_decimals(milli: int) -> None:
    with pytest.raises(CellError, match="more than two decimal places"):
        parse_money_cents(str(Decimal(milli).scaleb(-3)))


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        ("12000", 1_200_000),
        ("12,000.50", 1_200_050),
        ("$12,000", 1_200_000),
        ("$ 1,234,567.89", 123_456_789),
        ("€99.9", 9990),
        ("1_000", 100_000),
        (" 0.01 ", 1),
        ("0", 0),
        ("1.230", 123),
    ],
)
def test_it_parses_money_with_separators_and_a_currency_sign(value: str, cents: int) -> None:
    assert parse_money_cents(value) == cents


@pytest.mark.parametrize(
    "value",
    ["-1", "-0.01", "$-5", "-$5", "abc", "", "12..5", "NaN", "Infinity", "1.005", "1e30", "1e3"],
)
def test_it_rejects_negative_fractional_or_garbled_money(value: str) -> None:
    with pytest.raises(CellError):
        parse_money_cents(value)


def test_it_rejects_money_with_a_huge_exponent_as_a_cell_error() -> None:
    with pytest.raises(CellError):
        parse_money_cents("1e999999")


@pytest.mark.parametrize("value", ["1.00000000000000000000000000001", "1e-999999999"])
def test_it_rejects_money_whose_extra_decimals_lie_beyond_decimal_precision(value: str) -> None:
    with pytest.raises(CellError):
        parse_money_cents(value)


@pytest.mark.parametrize(
    ("value", "number"), [("42", 42), (" 1,234 ", 1234), ("12.0", 12), ("0", 0)]
)
def test_it_parses_whole_numbers(value: str, number: int) -> None:
    assert parse_int(value) == number


@pytest.mark.parametrize("value", ["12.5", "abc", "", "NaN", "-1", str(2**31), "Infinity"])
def test_it_rejects_a_fraction_garbage_or_an_out_of_range_number(value: str) -> None:
    with pytest.raises(CellError):
        parse_int(value)


def test_it_rejects_a_whole_number_with_a_huge_exponent_as_a_cell_error() -> None:
    with pytest.raises(CellError):
        parse_int("1e5000")


@pytest.mark.parametrize("value", [str(n) for n in range(11)])
def test_it_accepts_every_score_from_zero_to_ten(value: str) -> None:
    assert parse_score(value) == int(value)


@pytest.mark.parametrize(("value", "score"), [("7.0", 7), (" 9 ", 9), ("10.00", 10), ("07", 7)])
def test_it_accepts_a_score_written_with_a_zero_fraction_or_padding(value: str, score: int) -> None:
    assert parse_score(value) == score


def test_it_rejects_a_score_of_eleven() -> None:
    with pytest.raises(CellError, match="from 0 to 10"):
        parse_score("11")


@pytest.mark.parametrize("value", ["-1", "7.5", "abc", "", "100", "10.5", "7.", "+7", "1e1"])
def test_it_rejects_a_score_that_is_not_a_whole_number_from_zero_to_ten(value: str) -> None:
    with pytest.raises(CellError):
        parse_score(value)


@PROPERTY
@given(number=st.integers(min_value=-(10**6), max_value=10**6))
def test_it_accepts_an_integer_score_exactly_when_it_is_from_zero_to_ten(number: int) -> None:
    if 0 <= number <= 10:
        assert parse_score(str(number)) == number
    else:
        with pytest.raises(CellError):
            parse_score(str(number))


@pytest.mark.parametrize(
    ("value", "moment"),
    [
        ("2024-03-01T12:30:00", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("2024-03-01 12:30", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("2024-03-01T12:30:00Z", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("2024-03-01T12:30:00+02:00", datetime(2024, 3, 1, 10, 30, tzinfo=UTC)),
        ("2024-03-01T01:00:00-05:30", datetime(2024, 3, 1, 6, 30, tzinfo=UTC)),
        ("2024-03-01T23:00:00-02:00", datetime(2024, 3, 2, 1, 0, tzinfo=UTC)),
        ("2024-03-01 12:30:00 UTC", datetime(2024, 3, 1, 12, 30, tzinfo=UTC)),
        ("2024-03-01", datetime(2024, 3, 1, tzinfo=UTC)),
        ("  2024-03-01  ", datetime(2024, 3, 1, tzinfo=UTC)),
    ],
)
def test_it_parses_timestamps_to_utc(value: str, moment: datetime) -> None:
    parsed = parse_datetime(value)

    assert parsed == moment
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "yesterday",
        "2024-13-01",
        "2024-02-30",
        "2024-03-01T25:00",
        "01/03/2024",
        "2024-03-01T12:00:00+25:00",
        "1969-12-31T23:00:00",
        "2201-01-01T00:00:00",
    ],
)
def test_it_rejects_garbage_or_out_of_range_timestamps(value: str) -> None:
    with pytest.raises(CellError):
        parse_datetime(value)


@pytest.mark.parametrize("value", ["0001-01-01", "9999-12-31"])
def test_it_rejects_a_date_alone_outside_the_accepted_years(value: str) -> None:
    with pytest.raises(CellError):
        parse_datetime(value)


@PROPERTY
@given(
    moment=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2199, 1, 1)),
    offset_minutes=st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)
def test_it_converts_any_iso_timestamp_with_an_offset_to_the_same_instant_in_utc(
    moment: datetime, offset_minutes: int
) -> None:
    aware = moment.replace(tzinfo=timezone(timedelta(minutes=offset_minutes)))

    parsed = parse_datetime(aware.isoformat())

    assert parsed == aware
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "email"), [("Ada@Example.COM", "ada@example.com"), (" a.b@c.io ", "a.b@c.io")]
)
def test_it_lowercases_and_strips_an_email(value: str, email: str) -> None:
    assert parse_email(value) == email


@pytest.mark.parametrize("value", ["", "ada", "ada@example", "@example.com", "a b@c.io"])
def test_it_rejects_something_that_is_not_an_email(value: str) -> None:
    with pytest.raises(CellError):
        parse_email(value)


@pytest.mark.parametrize(
    ("value", "locale"), [("en", "en"), ("ja_JP", "ja-JP"), ("zh-Hant", "zh-Hant")]
)
def test_it_accepts_locale_tags(value: str, locale: str) -> None:
    assert parse_locale(value) == locale


@pytest.mark.parametrize("value", ["", "e", "english!", "en-", "12"])
def test_it_rejects_something_that_is_not_a_locale_tag(value: str) -> None:
    with pytest.raises(CellError):
        parse_locale(value)


@PROPERTY
@given(name=st.text())
def test_it_normalises_any_header_to_snake_case_idempotently(name: str) -> None:
    normalised = normalise_header(name)

    assert re.fullmatch(r"([^\W_]+(_[^\W_]+)*)?", normalised)
    assert normalise_header(normalised) == normalised


@pytest.mark.parametrize(
    ("employees", "band"),
    [
        (1, "1-10"),
        (10, "1-10"),
        (11, "11-50"),
        (50, "11-50"),
        (51, "51-200"),
        (200, "51-200"),
        (201, "201-1000"),
        (1000, "201-1000"),
        (1001, "1001-5000"),
        (5000, "1001-5000"),
        (5001, "5000+"),
        (10_000_000, "5000+"),
    ],
)
def test_it_puts_a_company_in_its_size_band(employees: int, band: str) -> None:
    assert company_size_band(employees) == band


# -- parse_rows and check_header -----------------------------------------------------------------


def parse_csv(kind: str, text: str):
    header, rows = read_csv(text)
    return parse_rows(KINDS[kind], header, rows)


def test_it_maps_an_account_id_header_to_external_id_through_its_alias() -> None:
    header, _ = read_csv("Account ID,Account Name\n")

    mapping, traits, errors = check_header(KINDS["accounts"], header)

    assert mapping == {"account_id": "external_id", "account_name": "name"}
    assert (traits, errors) == ([], [])


def test_it_turns_unknown_account_columns_into_traits() -> None:
    parsed = parse_csv(
        "accounts",
        "Account ID,Name,Region,Tier\nA1, Acme ,EU, gold \nA2,Globex,,\n",
    )

    assert parsed.errors == []
    assert parsed.columns == ["external_id", "name"]
    assert parsed.trait_columns == ["region", "tier"]
    assert parsed.rows == [
        (2, {"external_id": "A1", "name": "Acme", "traits": {"region": "EU", "tier": "gold"}}),
        (3, {"external_id": "A2", "name": "Globex", "traits": {}}),
    ]


def test_it_reports_unknown_csm_columns_as_header_errors_on_line_1() -> None:
    parsed = parse_csv("csms", "email,name,Region\nada@example.com,Ada,EU\n")

    assert parsed.header_failed
    assert parsed.rows == []
    assert [(e.line, e.column) for e in parsed.errors] == [(1, "region")]
    assert "unknown column" in parsed.errors[0].reason


@pytest.mark.parametrize(
    ("kind", "text", "missing"),
    [
        ("accounts", "id,plan\nA1,free\n", "name"),
        ("csms", "name\nAda\n", "email"),
        ("responses", "account,user,score\nA1,U1,9\n", "answered_at"),
    ],
)
def test_it_names_a_missing_required_column(kind: str, text: str, missing: str) -> None:
    parsed = parse_csv(kind, text)

    assert parsed.header_failed
    assert RowError(1, missing, "required column is missing") in parsed.errors


def test_it_reports_two_columns_that_alias_the_same_name() -> None:
    parsed = parse_csv("accounts", "id,external_id,name\n1,1,Acme\n")

    assert parsed.header_failed
    assert [(e.line, e.column) for e in parsed.errors] == [(1, "external_id")]


def test_it_reports_an_empty_required_cell_with_its_line_and_column() -> None:
    parsed = parse_csv(
        "accounts",
        'external_id,name,notes\nA1,Acme,"two\nlines"\nA2,   \nA3,Initech,\n',
    )

    assert parsed.errors == [RowError(4, "name", "required value is empty")]
    assert parsed.invalid_lines == {4}
    assert [line for line, _ in parsed.rows] == [2, 5]


def test_it_reports_a_bad_cell_with_its_line_and_canonical_column() -> None:
    parsed = parse_csv(
        "responses",
        "Account,User,NPS,Date,Feedback\n"
        'A1,U1,9,2024-03-01,"great,\nreally"\n'
        "A1,U2,11,2024-03-01,\n"
        "A1,U3,lots,not a date,\n",
    )

    assert [(e.line, e.column) for e in parsed.errors] == [
        (4, "score"),
        (5, "score"),
        (5, "answered_at"),
    ]
    assert parsed.invalid_lines == {4, 5}
    assert parsed.rows[0][0] == 2
    assert parsed.rows[0][1]["score"] == 9
    assert parsed.rows[0][1]["comment"] == "great,\nreally"
    assert parsed.rows[0][1]["answered_at"] == datetime(2024, 3, 1, tzinfo=UTC)


def test_it_parses_every_account_column_of_a_good_row() -> None:
    parsed = parse_csv(
        "accounts",
        "id,account_name,plan,employees,arr,csm,renewal_date,status,created_at\n"
        'A1,Acme,premium,"1,200","$12,000.50",CSM@Example.com,2025-01-31,Active,'
        "2020-05-01T09:00:00+09:00\n",
    )

    assert parsed.errors == []
    assert parsed.rows == [
        (
            2,
            {
                "external_id": "A1",
                "name": "Acme",
                "plan": "premium",
                "employee_count": 1200,
                "arr": 1_200_050,
                "csm_email": "csm@example.com",
                "renewal_date": datetime(2025, 1, 31).date(),
                "status": "active",
                "created_at": datetime(2020, 5, 1, 0, 0, tzinfo=UTC),
            },
        )
    ]


@pytest.mark.parametrize("row", ["A1,Acme,1e5000,1", "A1,Acme,1,1e999999"])
def test_it_reports_a_huge_exponent_in_an_account_row_as_a_cell_error(row: str) -> None:
    parsed = parse_csv("accounts", f"id,name,employees,arr\n{row}\n")

    assert parsed.invalid_lines == {2}
