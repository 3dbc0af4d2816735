"""The health model: logistic regression of churn within a horizon on account features,
validated out of time.

Per account (the database aggregates; Python sees one row per account):

- the clock starts at the account's first answer, t0; the prediction is made at
  T = t0 + `feature_days`, from the answers in [t0, T];
- features: NPS (-100..100), detractor share, response coverage (respondents / end users),
  trend (NPS of the second half of [t0, T] minus the first half; 0 when a half is empty),
  days from T to renewal (when at least half the accounts have a renewal date), and the
  mean of each usage metric over [t0, T] (when at least half the accounts report it);
  missing values are filled with the training mean;
- outcome: a churn event noticed in (T, T + `horizon_days`]. Accounts that churned at or
  before T, or whose horizon has not ended yet without churn, are left out and counted.

Out of time: accounts are ordered by T (then id); the earliest `train_share` are the
training cohort, the rest the test cohort. The model is fitted on standardised features of
the training cohort; the test cohort gives the AUC, calibration by deciles and the Brier
score. Coefficients are reported per standard deviation and per unit, with Wald intervals.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from analytics.health import BASE_COMPONENTS, weights_from_coefficients
from analytics.logistic import auc, brier, calibration_bins, fit_logistic, standardise
from feedback.db import as_utc_datetime, fetch
from feedback.health.queries import account_features_sql, feature_window_sql, metric_means_sql
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal

MIN_ACCOUNTS = 20
MIN_EVENTS = 5
RIDGE = 1e-4  # keeps a separated training cohort finite; negligible otherwise


async def account_features(
    principal: Principal, feature_days: int
) -> tuple[list[dict[str, Any]], dict[int, dict[str, float]]]:
    within, second_half, metric_within = feature_window_sql(float(feature_days))
    by_csm = not principal.can_see_csm(None)
    rows = await fetch(
        account_features_sql(within, second_half, csm=by_csm),
        *([principal.csm_id] if by_csm else []),
    )
    metrics: dict[int, dict[str, float]] = {}
    for m in await fetch(metric_means_sql(metric_within)):
        metrics.setdefault(m["account"], {})[f"metric.{m['name']}"] = float(m["value"])
    return rows, metrics


def _nps(p: int, d: int, n: int) -> float:
    return 100.0 * (p - d) / n if n else 0.0


def build_dataset(
    rows: list[dict[str, Any]],
    metrics: dict[int, dict[str, float]],
    feature_days: int,
    horizon_days: int,
    now: datetime,
) -> dict[str, Any]:
    cases: list[tuple[datetime, int, dict[str, float | None], int]] = []
    excluded = {"churned_before_prediction": 0, "horizon_not_over": 0}
    for row in rows:
        t0 = as_utc_datetime(row["t0"])
        assert t0 is not None
        at = t0 + timedelta(days=feature_days)
        churned_at = as_utc_datetime(row["churned_at"])
        if churned_at is not None and churned_at <= at:
            excluded["churned_before_prediction"] += 1
            continue
        churned = churned_at is not None and churned_at <= at + timedelta(days=horizon_days)
        if not churned and at + timedelta(days=horizon_days) > now:
            excluded["horizon_not_over"] += 1
            continue
        n, p, d = int(row["responses"]), int(row["promoters"] or 0), int(row["detractors"] or 0)
        late = (int(row["late_n"] or 0), int(row["late_p"] or 0), int(row["late_d"] or 0))
        early = (n - late[0], p - late[1], d - late[2])
        trend = (
            _nps(late[1], late[2], late[0]) - _nps(early[1], early[2], early[0])
            if late[0] and early[0]
            else 0.0
        )
        renewal = row["renewal_date"]
        if isinstance(renewal, str):
            renewal = date.fromisoformat(renewal)
        features: dict[str, float | None] = {
            "nps": _nps(p, d, n),
            "detractor_share": d / n,
            "coverage": min(1.0, int(row["respondents"] or 0) / max(int(row["users"] or 0), 1)),
            "trend": trend,
            "days_to_renewal": None if renewal is None else float((renewal - at.date()).days),
            **metrics.get(row["id"], {}),
        }
        cases.append((at, int(row["id"]), features, int(churned)))
    cases.sort(key=lambda c: (c[0], c[1]))
    return {"cases": cases, "excluded": excluded}


def _matrix(
    cases: list[tuple[datetime, int, dict[str, float | None], int]], names: list[str]
) -> np.ndarray:
    return np.array(
        [[np.nan if (v := c[2].get(n)) is None else float(v) for n in names] for c in cases],
        dtype=np.float64,
    ).reshape(len(cases), len(names))


async def health_model(
    principal: Principal,
    *,
    horizon_days: int = 365,
    feature_days: int = 30,
    train_share: float = 0.7,
    confidence: float = 0.95,
) -> dict[str, Any]:
    if not 1 <= horizon_days <= 3650:
        raise InputError("horizon_days", "must be between 1 and 3650")
    if not 0 <= feature_days <= 365:
        raise InputError("feature_days", "must be between 0 and 365")
    if not 0.1 <= train_share <= 0.9:
        raise InputError("train_share", "must be between 0.1 and 0.9")
    if not 0 < confidence < 1:
        raise InputError("confidence", "must be between 0 and 1, e.g. 0.95")
    rows, metrics = await account_features(principal, feature_days)
    data = build_dataset(rows, metrics, feature_days, horizon_days, utcnow())
    cases = data["cases"]
    result: dict[str, Any] = {
        "horizon_days": horizon_days,
        "feature_days": feature_days,
        "train_share": train_share,
        "confidence": confidence,
        "accounts": len(cases),
        "excluded": data["excluded"],
    }
    cut = round(len(cases) * train_share)
    train, test = cases[:cut], cases[cut:]
    y_train = np.array([c[3] for c in train], dtype=float)
    y_test = np.array([c[3] for c in test], dtype=float)
    if (
        len(train) < MIN_ACCOUNTS
        or len(test) < MIN_ACCOUNTS // 2
        or min(y_train.sum(), len(train) - y_train.sum()) < MIN_EVENTS
    ):
        result["status"] = "insufficient_data"
        result["detail"] = (
            f"needs at least {MIN_ACCOUNTS} training accounts with {MIN_EVENTS} churned and "
            f"{MIN_EVENTS} retained, and {MIN_ACCOUNTS // 2} test accounts"
        )
        return result

    candidates = sorted({n for c in cases for n in c[2]})
    X_train_all = _matrix(train, candidates)
    present = ~np.isnan(X_train_all)
    names = [
        n
        for j, n in enumerate(candidates)
        if present[:, j].mean() >= 0.5 and np.nanstd(X_train_all[:, j]) > 0
    ]
    order = [*BASE_COMPONENTS, "days_to_renewal"]
    names.sort(key=lambda n: (order.index(n) if n in order else len(order), n))
    X_train = _matrix(train, names)
    fill = np.nanmean(X_train, axis=0)
    X_train = np.where(np.isnan(X_train), fill, X_train)
    X_test = _matrix(test, names)
    X_test = np.where(np.isnan(X_test), fill, X_test)
    Z_train, means, sds = standardise(X_train)
    Z_test = (X_test - means) / np.where(sds > 0, sds, 1.0)

    fit = fit_logistic(Z_train, y_train, names, ridge=RIDGE)
    predicted = fit.predict(Z_test)
    table = fit.table(confidence)
    coefficients = []
    for row, sd, mean in zip(table[1:], sds, means, strict=True):
        per_unit = {
            k: (row[k] / sd if sd > 0 else None)
            for k in ("coefficient", "standard_error", "ci_low", "ci_high")
        }
        coefficients.append(
            {
                "name": row["name"],
                "per_sd": {
                    k: row[k] for k in ("coefficient", "standard_error", "ci_low", "ci_high")
                },
                "per_unit": per_unit,
                "odds_ratio_per_sd": row["odds_ratio"],
                "odds_ratio_per_sd_ci": [row["odds_ratio_ci_low"], row["odds_ratio_ci_high"]],
                "z": row["z"],
                "p_value": row["p_value"],
                "mean": float(mean),
                "sd": float(sd),
            }
        )
    result.update(
        {
            "status": "ok",
            "converged": fit.converged,
            "intercept": table[0],
            "coefficients": coefficients,
            "train": {
                "accounts": len(train),
                "churned": int(y_train.sum()),
                "from": train[0][0],
                "to": train[-1][0],
                "auc": auc(fit.predict(Z_train), y_train),
            },
            "validation": {
                "accounts": len(test),
                "churned": int(y_test.sum()),
                "from": test[0][0],
                "to": test[-1][0],
                "auc": auc(predicted, y_test),
                "brier": brier(predicted, y_test),
                "base_rate_brier": brier(np.full(len(y_test), y_train.mean()), y_test),
                "mean_predicted": float(predicted.mean()),
                "observed_rate": float(y_test.mean()),
                "calibration": calibration_bins(predicted, y_test, 10),
            },
            "suggested_weights": suggested_weights(
                {c["name"]: c["per_sd"]["coefficient"] for c in coefficients}
            ),
        }
    )
    return result


def suggested_weights(per_sd: dict[str, float]) -> dict[str, float] | None:
    """Score weights from the standardised coefficients of the features that are score
    components (detractor share enters the score as 1 - share, so its sign flips)."""
    component_coefficients = {}
    for name, beta in per_sd.items():
        if name == "detractor_share":
            component_coefficients[name] = -beta
        elif name in BASE_COMPONENTS or name.startswith("metric."):
            component_coefficients[name] = beta
    try:
        weights = weights_from_coefficients(component_coefficients)
    except ValueError:
        return None
    return {**{n: 0.0 for n in BASE_COMPONENTS}, **weights}
