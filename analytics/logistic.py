"""Logistic regression by Newton-Raphson (IRLS) with Wald intervals, and its validation.

- Fit: maximum likelihood by Newton's method with step halving; standard errors are the
  square roots of the diagonal of the inverse observed information (the Hessian of the
  negative log-likelihood at the optimum), intervals are Wald intervals on the log-odds
  scale, exponentiated for odds ratios (Hosmer, Lemeshow and Sturdivant, Applied Logistic
  Regression, 3rd ed., ch. 1-2). An optional ridge penalty (not applied to the intercept)
  keeps separated data finite; with it the intervals are approximate.
- Discrimination: the AUC as the Mann-Whitney U statistic divided by n1 x n0, ties counted
  one half (Hanley and McNeil 1982).
- Calibration: observed churn against the mean predicted probability in deciles of the
  prediction, and the Brier score (mean squared error of the probability).

numpy only; no scipy, web or database imports.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np
from numpy.typing import ArrayLike


def sigmoid(eta: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * eta))


def log_likelihood(beta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    eta = X @ beta
    # log(1 + e^eta) computed stably
    return float(np.sum(y * eta - np.logaddexp(0.0, eta)))


@dataclass(frozen=True)
class LogisticFit:
    names: tuple[str, ...]  # "intercept" first
    coefficients: np.ndarray
    standard_errors: np.ndarray
    log_likelihood: float
    iterations: int
    converged: bool
    n: int
    events: int

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Probabilities for rows of X *without* the intercept column."""
        X1 = np.column_stack([np.ones(len(X)), np.asarray(X, dtype=float)])
        return sigmoid(X1 @ self.coefficients)

    def table(self, confidence: float = 0.95) -> list[dict[str, Any]]:
        z_crit = NormalDist().inv_cdf(0.5 + confidence / 2)
        rows = []
        for name, b, se in zip(self.names, self.coefficients, self.standard_errors, strict=True):
            z = b / se if se > 0 else math.nan
            rows.append(
                {
                    "name": name,
                    "coefficient": float(b),
                    "standard_error": float(se),
                    "z": float(z),
                    "p_value": math.erfc(abs(z) / math.sqrt(2)) if math.isfinite(z) else None,
                    "ci_low": float(b - z_crit * se),
                    "ci_high": float(b + z_crit * se),
                    "odds_ratio": math.exp(b),
                    "odds_ratio_ci_low": math.exp(b - z_crit * se),
                    "odds_ratio_ci_high": math.exp(b + z_crit * se),
                }
            )
        return rows


def fit_logistic(
    X: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    *,
    ridge: float = 0.0,
    max_iterations: int = 100,
    tolerance: float = 1e-10,
) -> LogisticFit:
    """Fit P(y = 1) = 1 / (1 + exp(-(b0 + X b))). X has no intercept column."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError("X must be 2-D with one row per outcome")
    if len(names) != X.shape[1]:
        raise ValueError("one name per column of X")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("y must be 0 or 1")
    X1 = np.column_stack([np.ones(len(X)), X])
    k = X1.shape[1]
    penalty = np.full(k, ridge)
    penalty[0] = 0.0

    def objective(beta: np.ndarray) -> float:
        return log_likelihood(beta, X1, y) - 0.5 * float(np.sum(penalty * beta**2))

    beta = np.zeros(k)
    mean = y.mean()
    if 0 < mean < 1:
        beta[0] = math.log(mean / (1 - mean))
    current = objective(beta)
    converged = False
    iterations = 0
    hessian = np.eye(k)
    for iterations in range(1, max_iterations + 1):  # noqa: B007 - reported below
        p = sigmoid(X1 @ beta)
        w = p * (1 - p)
        gradient = X1.T @ (y - p) - penalty * beta
        hessian = (X1 * w[:, None]).T @ X1 + np.diag(penalty)
        try:
            step = np.linalg.solve(hessian, gradient)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(hessian, gradient, rcond=None)[0]
        size = 1.0
        while True:
            candidate = beta + size * step
            value = objective(candidate)
            if value >= current - 1e-12 or size < 1e-8:
                break
            size /= 2
        beta, previous, current = candidate, current, value
        if abs(current - previous) < tolerance * (abs(current) + tolerance) and np.max(
            np.abs(size * step)
        ) < 1e-8 * (1 + np.max(np.abs(beta))):
            converged = True
            break
    p = sigmoid(X1 @ beta)
    w = p * (1 - p)
    hessian = (X1 * w[:, None]).T @ X1 + np.diag(penalty)
    try:
        covariance = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        covariance = np.linalg.pinv(hessian)
    errors = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    return LogisticFit(
        names=("intercept", *names),
        coefficients=beta,
        standard_errors=errors,
        log_likelihood=log_likelihood(beta, X1, y),
        iterations=iterations,
        converged=converged,
        n=len(y),
        events=int(y.sum()),
    )


def average_ranks(values: np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(1, len(x) + 1)
    uniq, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks, minlength=len(uniq))
    counts = np.bincount(inverse, minlength=len(uniq))
    return (sums / counts)[inverse]


def auc(scores: ArrayLike, outcomes: ArrayLike) -> float | None:
    """P(score of a random positive > score of a random negative), ties one half."""
    s = np.asarray(scores, dtype=float)
    y = np.asarray(outcomes, dtype=bool)
    positives, negatives = int(y.sum()), int((~y).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = average_ranks(s)
    u = ranks[y].sum() - positives * (positives + 1) / 2
    return float(u / (positives * negatives))


def brier(probabilities: ArrayLike, outcomes: ArrayLike) -> float | None:
    p = np.asarray(probabilities, dtype=float)
    if p.size == 0:
        return None
    return float(np.mean((p - np.asarray(outcomes, dtype=float)) ** 2))


def calibration_bins(
    probabilities: ArrayLike, outcomes: ArrayLike, bins: int = 10
) -> list[dict[str, Any]]:
    """Observed rate against mean prediction in `bins` groups of (nearly) equal size,
    ordered by prediction."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(outcomes, dtype=float)
    order = np.argsort(p, kind="mergesort")
    out = []
    for i, part in enumerate(np.array_split(order, min(bins, len(p)))):
        if len(part) == 0:
            continue
        out.append(
            {
                "bin": i + 1,
                "n": len(part),
                "mean_predicted": float(p[part].mean()),
                "observed_rate": float(y[part].mean()),
                "churned": int(y[part].sum()),
            }
        )
    return out


def standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Columns scaled to mean 0, sd 1 (sd 0 columns left at 0): (Z, means, sds)."""
    X = np.asarray(X, dtype=float)
    means = X.mean(axis=0)
    sds = X.std(axis=0)
    safe = np.where(sds > 0, sds, 1.0)
    return (X - means) / safe, means, sds
