"""The number formats every staff page uses: signs, separators, currencies, missing values."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from hypothesis import given
from hypothesis import strategies as st

from feedback.web.formats import (
    MINUS,
    MISSING,
    health_component,
    isodate,
    money,
    nps,
    number,
    pct,
    pvalue,
    signed,
)

finite = st.floats(min_value=-1e12, max_value=1e12, allow_nan=False, allow_infinity=False)


def test_money_writes_the_currency_and_thousands_separators() -> None:
    assert money(120000.5, "USD") == "$120,000"
    assert money("1234567", "eur") == "€1,234,567"
    assert money(1200000, "JPY", digits=2) == "¥1,200,000"  # yen have no minor unit
    assert money(9500, "CHF") == "CHF 9,500"
    assert money(-42, "GBP") == f"{MINUS}£42"
    assert money(-0.3, "USD") == "$0"  # nothing to owe: no sign
    assert money(12.5, "USD", digits=2) == "$12.50"
    assert money(None) == MISSING and money("") == MISSING and money("n/a") == MISSING
    assert money(float("inf")) == MISSING


@given(finite, st.sampled_from(["USD", "EUR", "GBP", "JPY", "CHF", "SEK"]))
def test_money_keeps_the_sign_and_reads_back(value: float, currency: str) -> None:
    text = money(value, currency)
    rounded = round(abs(value))
    digits = "".join(ch for ch in text if ch.isdigit())
    assert text.startswith(MINUS) is (value < 0 and int(digits) > 0)
    assert abs(int(digits) - rounded) <= 1  # rounding half to even
    body = text.lstrip(MINUS)
    groups = body.split(" ")[-1].lstrip("$€£¥").split(",")
    assert all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3


def test_nps_is_always_signed_and_zero_has_no_sign() -> None:
    assert nps(12.34) == "+12.3"
    assert nps(-4) == f"{MINUS}4.0"
    assert nps(0) == "0" and nps(-0.04) == "0" and nps(0.04) == "0"
    assert nps(33, digits=0) == "+33"
    assert nps(None) == MISSING and nps(float("nan")) == MISSING
    assert signed(1.25, 2) == "+1.25"


@given(st.floats(min_value=-100, max_value=100, allow_nan=False))
def test_nps_sign_follows_the_value_as_shown(value: float) -> None:
    text = nps(value)
    shown = round(value, 1)
    if text == "0":
        assert abs(value) < 0.05 + 1e-9
    else:
        assert text[0] == ("+" if value > 0 else MINUS)
        assert math.isclose(float(text[1:]), abs(shown), abs_tol=0.051)


def test_percentages_numbers_and_p_values() -> None:
    assert pct(0.123) == "12.3%" and pct(1) == "100.0%" and pct(None) == MISSING
    assert number(1234567) == "1,234,567" and number(-3.5, 1) == f"{MINUS}3.5"
    assert pvalue(0.0004) == "< 0.001" and pvalue(0.04) == "0.040" and pvalue(None) == MISSING


def test_dates_are_iso() -> None:
    assert isodate(date(2026, 12, 5)) == "2026-12-05"
    assert isodate(datetime(2026, 12, 5, 23, 59, tzinfo=UTC)) == "2026-12-05"
    assert isodate("2026-12-05T10:00:00") == "2026-12-05"
    assert isodate(None) == MISSING


def test_health_components_read_as_words() -> None:
    assert health_component("nps") == "NPS"
    assert health_component("detractor_share") == "Answers that are not detractors"
    assert health_component("coverage") == "Users who answered"
    assert health_component("metric.weekly_logins") == "Usage: weekly logins"
    assert health_component("something_new") == "Something new"
