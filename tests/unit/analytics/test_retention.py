"""Retention arithmetic on a worked example, and the month and quarter calendars."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.retention import periods, retention


def test_logo_gross_and_net_retention_on_a_worked_example() -> None:
    # four accounts at 100 each: one churns, one shrinks to 60, one grows to 150
    figures = retention([100, 100, 100, 100], [0, 60, 150, 100], [False, True, True, True])
    assert figures.logo_retention == 0.75
    assert figures.churned_arr == 100 and figures.contraction == 40 and figures.expansion == 50
    assert figures.grr == pytest.approx((0 + 60 + 100 + 100) / 400)
    assert figures.nrr == pytest.approx((0 + 60 + 150 + 100) / 400)


def test_a_churned_account_counts_zero_whatever_arr_it_reports() -> None:
    assert retention([100], [100], [False]).nrr == 0.0


def test_an_empty_cohort_has_no_rates() -> None:
    figures = retention([], [], [])
    assert figures.logo_retention is None and figures.grr is None and figures.nrr is None


def test_periods_cover_whole_months_and_quarters() -> None:
    assert periods("quarter", date(2025, 2, 10), date(2025, 7, 1)) == [
        ("2025-Q1", date(2025, 1, 1), date(2025, 4, 1)),
        ("2025-Q2", date(2025, 4, 1), date(2025, 7, 1)),
        ("2025-Q3", date(2025, 7, 1), date(2025, 10, 1)),
    ]
    assert [p[0] for p in periods("month", date(2025, 11, 30), date(2026, 1, 1))] == [
        "2025-11",
        "2025-12",
        "2026-01",
    ]
