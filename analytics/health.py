"""The health score: components on a 0-100 scale, a weighted mean, bands and trends.

Every component is oriented so that higher is healthier, and scaled to 0-100:

- ``nps``: the account's NPS over the look-back window, (NPS + 100) / 2;
- ``detractor_share``: 100 x (1 - detractors / responses);
- ``coverage``: 100 x distinct respondents / end users (capped at 100);
- ``trend``: 50 + (NPS of the recent half-window - NPS of the half-window before) / 4, so a
  rise of 200 points is 100 and a fall of 200 points is 0;
- ``metric.<name>``: the account's latest value of a pushed usage metric as a mid-rank
  percentile among the accounts that reported it that day (100 x (rank - 0.5) / n).

The score is the weighted mean of the components an account has (weights are renormalised
over the available ones, so a missing survey does not read as a bad one), clipped to 0-100.
An account with no component has no score. Pure numpy; no web or database code.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

BASE_COMPONENTS = ("nps", "detractor_share", "coverage", "trend")
DEFAULT_WEIGHTS: dict[str, float] = {
    "nps": 35.0,
    "detractor_share": 20.0,
    "coverage": 15.0,
    "trend": 10.0,
}
# a pushed metric without its own weight counts this much
DEFAULT_METRIC_WEIGHT = 20.0
DEFAULT_GREEN_MIN = 70.0
DEFAULT_RED_BELOW = 40.0
BANDS = ("green", "yellow", "red", "unknown")


@dataclass(frozen=True)
class Bands:
    """score >= green_min is green; score < red_below is red; in between yellow."""

    green_min: float = DEFAULT_GREEN_MIN
    red_below: float = DEFAULT_RED_BELOW

    def __post_init__(self) -> None:
        if not 0 <= self.red_below <= self.green_min <= 100:
            raise ValueError("need 0 <= red_below <= green_min <= 100")


def nps_component(promoters: int, detractors: int, responses: int) -> float | None:
    if responses <= 0:
        return None
    return 50.0 * (1.0 + (promoters - detractors) / responses)


def detractor_component(detractors: int, responses: int) -> float | None:
    if responses <= 0:
        return None
    return 100.0 * (1.0 - detractors / responses)


def coverage_component(respondents: int, users: int) -> float | None:
    if users <= 0:
        return None
    return min(100.0, 100.0 * respondents / users)


def trend_component(recent: tuple[int, int, int], prior: tuple[int, int, int]) -> float | None:
    """(promoters, detractors, responses) of the recent and the prior half-window; None
    unless both have answers."""
    if recent[2] <= 0 or prior[2] <= 0:
        return None
    change = 100.0 * ((recent[0] - recent[1]) / recent[2] - (prior[0] - prior[1]) / prior[2])
    return min(100.0, max(0.0, 50.0 + change / 4.0))


def percentile_components(values: Sequence[float]) -> np.ndarray:
    """Mid-rank percentiles on 0-100 (ties share their average rank); one value gives 50."""
    x = np.asarray(values, dtype=float)
    n = x.size
    if n == 0:
        return x
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(n)
    ranks[order] = np.arange(1, n + 1)
    # average the ranks of ties
    uniq, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks, minlength=uniq.size)
    counts = np.bincount(inverse, minlength=uniq.size)
    ranks = (sums / counts)[inverse]
    return 100.0 * (ranks - 0.5) / n


def normalise_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """Weights scaled to sum to 1; negative or zero weights drop out."""
    for name, w in weights.items():
        if not math.isfinite(w):
            raise ValueError(f"weight {name!r} is not a finite number")
    positive = {k: float(w) for k, w in weights.items() if w > 0}
    total = sum(positive.values())
    if total <= 0:
        raise ValueError("at least one weight must be positive")
    return {k: w / total for k, w in positive.items()}


def weight_of(name: str, weights: Mapping[str, float], metric_weight: float) -> float:
    if name in weights:
        return float(weights[name])
    return metric_weight if name.startswith("metric.") else 0.0


def health_score(
    components: Mapping[str, float | None],
    weights: Mapping[str, float],
    metric_weight: float = DEFAULT_METRIC_WEIGHT,
) -> float | None:
    """Weighted mean of the components present, over 0-100; None when none has weight."""
    total = 0.0
    weight_sum = 0.0
    for name, value in components.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        w = weight_of(name, weights, metric_weight)
        if w <= 0:
            continue
        total += w * min(100.0, max(0.0, float(value)))
        weight_sum += w
    if weight_sum <= 0:
        return None
    return min(100.0, max(0.0, total / weight_sum))


def score_matrix(components: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Vectorised `health_score`: rows are accounts, columns components, NaN = missing.
    Returns NaN where an account has no weighted component."""
    c = np.clip(np.asarray(components, dtype=float), 0.0, 100.0)
    w = np.where(np.asarray(weights, dtype=float) > 0, weights, 0.0)
    present = ~np.isnan(c)
    w_rows = np.where(present, w, 0.0)
    weight_sum = w_rows.sum(axis=1)
    total = np.where(present, c * w, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(weight_sum > 0, total / weight_sum, np.nan)
    return np.clip(score, 0.0, 100.0)


def band_of(score: float | None, bands: Bands = Bands()) -> str:
    if score is None or math.isnan(score):
        return "unknown"
    if score >= bands.green_min:
        return "green"
    if score < bands.red_below:
        return "red"
    return "yellow"


def trend(score: float | None, earlier: float | None) -> float | None:
    """Points gained since an earlier snapshot (None when either is missing)."""
    if score is None or earlier is None:
        return None
    return score - earlier


def weights_from_coefficients(
    coefficients: Mapping[str, float], scale: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Turn a churn model's coefficients into score weights summing to 100.

    The model predicts churn, so a protective component has a negative coefficient; its
    weight is -coefficient x the component's standard deviation (the effect of one typical
    step). Components that the model finds harmful or null get weight 0.
    """
    raw: dict[str, float] = {}
    for name, beta in coefficients.items():
        s = 1.0 if scale is None else float(scale.get(name, 1.0))
        raw[name] = max(0.0, -float(beta) * s)
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("no component lowers churn in this model")
    return {k: round(100.0 * v / total, 2) for k, v in raw.items()}
