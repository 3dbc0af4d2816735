"""Logistic regression against answers known in closed form and a direct optimisation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analytics.logistic import auc, brier, calibration_bins, fit_logistic, log_likelihood


def test_one_binary_predictor_gives_the_log_odds_ratio_and_its_woolf_error() -> None:
    # 2x2 table: exposed 30 churned / 70 stayed, unexposed 10 / 90
    x = np.array([1] * 100 + [0] * 100, dtype=float)
    y = np.array([1] * 30 + [0] * 70 + [1] * 10 + [0] * 90, dtype=float)
    fit = fit_logistic(x[:, None], y, ["exposed"])
    assert fit.converged
    assert fit.coefficients[0] == pytest.approx(math.log(10 / 90), abs=1e-8)
    assert fit.coefficients[1] == pytest.approx(math.log((30 * 90) / (70 * 10)), abs=1e-8)
    woolf = math.sqrt(1 / 30 + 1 / 70 + 1 / 10 + 1 / 90)
    assert fit.standard_errors[1] == pytest.approx(woolf, rel=1e-6)
    row = fit.table(0.95)[1]
    assert row["ci_low"] == pytest.approx(fit.coefficients[1] - 1.959964 * woolf, abs=1e-5)
    assert row["odds_ratio"] == pytest.approx(30 * 90 / (70 * 10))


def test_it_matches_scipy_minimize_on_the_same_likelihood() -> None:
    from scipy.optimize import minimize

    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, 3))
    eta = -0.5 + X @ np.array([1.0, -0.7, 0.0])
    y = (rng.random(400) < 1 / (1 + np.exp(-eta))).astype(float)
    fit = fit_logistic(X, y, ["a", "b", "c"])
    X1 = np.column_stack([np.ones(400), X])
    reference = minimize(
        lambda b: -log_likelihood(b, X1, y), np.zeros(4), method="BFGS", options={"gtol": 1e-8}
    )
    np.testing.assert_allclose(fit.coefficients, reference.x, atol=1e-4)
    assert fit.log_likelihood == pytest.approx(-reference.fun, abs=1e-6)


def test_a_ridge_keeps_separated_data_finite() -> None:
    x = np.array([0, 1, 2, 3, 4, 5], dtype=float)
    y = np.array([0, 0, 0, 1, 1, 1], dtype=float)
    fit = fit_logistic(x[:, None], y, ["x"], ridge=0.1)
    assert np.all(np.isfinite(fit.coefficients)) and fit.coefficients[1] > 0


def test_auc_is_the_mann_whitney_statistic() -> None:
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(3)
    scores = np.round(rng.random(200), 1)  # many ties
    y = (rng.random(200) < scores).astype(int)
    u = mannwhitneyu(scores[y == 1], scores[y == 0]).statistic
    assert auc(scores, y) == pytest.approx(u / ((y == 1).sum() * (y == 0).sum()))
    assert auc([0.1, 0.9], [0, 1]) == 1.0
    assert auc([0.5, 0.5], [0, 1]) == 0.5
    assert auc([0.1], [1]) is None


def test_calibration_bins_and_brier() -> None:
    p = np.linspace(0.05, 0.95, 20)
    y = np.array([0] * 10 + [1] * 10)
    bins = calibration_bins(p, y, bins=4)
    assert [b["n"] for b in bins] == [5, 5, 5, 5]
    assert [b["observed_rate"] for b in bins] == [0.0, 0.0, 1.0, 1.0]
    assert brier([0.0, 1.0], [0, 1]) == 0.0
    assert brier([0.5, 0.5], [0, 1]) == 0.25
