"""Churn against NPS at account level: the database aggregates per account, analytics/ tests.

An account's category comes from its mean score over the responses in the period (9-10
promoter, 7-8 passive, 0-6 detractor) given in one environment (production unless asked);
accounts without such responses are non-respondents, so an account whose only answers are
staging ones has no NPS in the production report. The
clock starts at the account's first answer (non-respondents: when the account was created)
and an account counts as churned when a termination notice or non-renewal is noticed within
`window_days` after that. Accounts whose churn was noticed before their clock started are
left out and counted.

Survival (Kaplan-Meier, log-rank) follows an account from its clock's start to its churn
notice, or censors it at the end of what was observed: the earliest of its
`observed_until` (set by an import that knows where its data stops), the time of the report,
and `window_days` after the start (so the log-rank answers the same question as the rates).
docs/churn.md describes every figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from analytics.churn import (
    ChurnRate,
    Correlation,
    LogRankTest,
    RiskSummary,
    SurvivalCurve,
    churn_rates,
    kaplan_meier,
    logrank_test,
    point_biserial,
    risk_summary,
)
from feedback.db import Row, as_utc_datetime
from feedback.kernel.clock import utcnow
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.errors import InputError
from feedback.kernel.nps import category
from feedback.kernel.principal import Principal, Role
from feedback.reports.queries import churn_accounts_sql
from feedback.reports.services import check_environment, report_rows

CATEGORIES = ("detractor", "passive", "promoter", "non_respondent")
MAX_WINDOW_DAYS = 3650


@dataclass(frozen=True, slots=True)
class LogRankTests:
    """The log-rank tests of the report: all categories with accounts, and detractors
    against promoters alone."""

    k_sample: LogRankTest
    detractor_vs_promoter: LogRankTest


@dataclass(frozen=True, slots=True)
class ChurnReport:
    """Churn against NPS (`churn_report`); its JSON object has these keys in this order.
    No number in it is infinite or NaN: an undefined ratio is null with a `*_reason`."""

    window_days: int
    confidence: float
    accounts: int  # those counted
    excluded: int  # churned before their clock started
    censored_by_observation: int  # survival ended at the account's observed_until
    rates: list[ChurnRate]  # per category, in CATEGORIES' order
    detractor_vs_promoter: RiskSummary
    detractor_vs_rest: RiskSummary  # the rest: passives, promoters and non-respondents
    nps_churn_correlation: Correlation
    survival_days: list[SurvivalCurve]  # the categories with accounts
    logrank: LogRankTests
    logrank_p: float | None  # logrank.k_sample.p, kept for earlier readers

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict; the analytics records in it encode as JSON objects."""
        return {field.name: getattr(self, field.name) for field in fields(self)}


@dataclass(frozen=True, slots=True)
class AccountOutcome:
    """One counted account: its category, segment, answers, whether it churned within the
    window, and its survival time in days with whether that ends in churn (`event`) or is
    censored."""

    category: str
    segment: str | None
    promoters: int
    passives: int
    detractors: int
    churned: bool
    days: float
    event: bool
    censored_by_observation: bool


def category_of(mean_score: float | None) -> str:
    """An account's category from its mean score; non_respondent without answers."""
    if mean_score is None:
        return "non_respondent"
    return category(mean_score)


def check_options(window_days: int, confidence: float) -> None:
    if not 1 <= window_days <= MAX_WINDOW_DAYS:
        raise InputError("window_days", f"must be between 1 and {MAX_WINDOW_DAYS}")
    if not 0 < confidence < 1:
        raise InputError("confidence", "must be between 0 and 1, e.g. 0.95")


async def churn_account_rows(
    principal: Principal,
    date_from: datetime | None,
    date_to: datetime | None,
    segment: tuple[str, tuple[Any, ...]] | None = None,
    environment: str = PRODUCTION,
) -> list[Row]:
    """The accounts the principal may see, with their answers in the period and
    environment and first churn notice (`churn_accounts_sql`), and a `segment` value when
    one is asked for."""
    check_environment(environment)
    by_csm = principal.role is Role.csm
    sql = churn_accounts_sql(
        date_from=date_from is not None,
        date_to=date_to is not None,
        csm=by_csm,
        segment=segment[0] if segment else None,
        # another environment's view classifies every account by that environment's answers
        production=environment == PRODUCTION,
    )
    args = [
        *(segment[1] if segment else ()),
        environment,
        *(a for a in (date_from, date_to) if a is not None),
        *([principal.csm_id] if by_csm else []),
    ]
    return await report_rows(sql, *args)


def account_outcomes(
    rows: Iterable[Row], window_days: int, now: datetime
) -> tuple[list[AccountOutcome], int]:
    """Each account's outcome (see the module's docstring), and how many were left out
    because their churn was noticed before their clock started."""
    window = timedelta(days=window_days)
    outcomes: list[AccountOutcome] = []
    excluded = 0
    for row in rows:
        responses = int(row["responses"] or 0)
        mean = float(row["mean_score"]) if responses else None
        start = as_utc_datetime(row["first_answer"]) or as_utc_datetime(row["created_at"])
        churned_at = as_utc_datetime(row["churned_at"])
        if start is None or (churned_at is not None and churned_at < start):
            excluded += 1
            continue
        observed_until = as_utc_datetime(row["observed_until"])
        observed = now if observed_until is None else min(observed_until, now)
        end = min(observed, start + window)
        event = churned_at is not None and churned_at <= end
        stop = churned_at if event and churned_at is not None else end
        outcomes.append(
            AccountOutcome(
                category=category_of(mean),
                segment=None if row["segment"] is None else str(row["segment"]),
                promoters=int(row["promoters"] or 0),
                passives=int(row["passives"] or 0),
                detractors=int(row["detractors"] or 0),
                churned=churned_at is not None and churned_at <= start + window,
                days=max((stop - start).total_seconds() / 86400, 0.0),
                event=event,
                censored_by_observation=not event and observed < start + window,
            )
        )
    return outcomes, excluded


async def churn_report(
    principal: Principal,
    window_days: int = 365,
    confidence: float = 0.95,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    now: datetime | None = None,
    environment: str = PRODUCTION,
) -> ChurnReport:
    """`now` (default the clock) is where an account without `observed_until` is
    censored; `environment` whose answers classify the accounts (production by default)."""
    check_options(window_days, confidence)
    rows = await churn_account_rows(principal, date_from, date_to, environment=environment)
    outcomes, excluded = account_outcomes(rows, window_days, now or utcnow())

    counts = {c: [0, 0] for c in CATEGORIES}  # accounts, churned
    survival: dict[str, tuple[list[float], list[bool]]] = {c: ([], []) for c in CATEGORIES}
    account_nps: list[float] = []
    account_churned: list[bool] = []
    for outcome in outcomes:
        group = outcome.category
        counts[group][0] += 1
        counts[group][1] += outcome.churned
        survival[group][0].append(outcome.days)
        survival[group][1].append(outcome.event)
        answers = outcome.promoters + outcome.passives + outcome.detractors
        if answers:
            account_nps.append(100 * (outcome.promoters - outcome.detractors) / answers)
            account_churned.append(outcome.churned)

    rates = churn_rates({c: (counts[c][0], counts[c][1]) for c in CATEGORIES}, confidence)
    detractors, promoters = counts["detractor"], counts["promoter"]
    rest = [sum(counts[c][i] for c in CATEGORIES if c != "detractor") for i in (0, 1)]
    present = {c: survival[c] for c in CATEGORIES if survival[c][0]}
    k_sample = logrank_test(present)
    return ChurnReport(
        window_days=window_days,
        confidence=confidence,
        accounts=len(outcomes),
        excluded=excluded,
        censored_by_observation=sum(o.censored_by_observation for o in outcomes),
        rates=rates,
        detractor_vs_promoter=risk_summary(
            ("detractors", detractors[0], detractors[1]),
            ("promoters", promoters[0], promoters[1]),
            confidence,
        ),
        detractor_vs_rest=risk_summary(
            ("detractors", detractors[0], detractors[1]),
            ("other accounts", rest[0], rest[1]),
            confidence,
        ),
        nps_churn_correlation=point_biserial(account_nps, account_churned, confidence),
        survival_days=[kaplan_meier(c, *survival[c]) for c in present],
        logrank=LogRankTests(
            k_sample=k_sample,
            detractor_vs_promoter=logrank_test({c: survival[c] for c in ("detractor", "promoter")}),
        ),
        logrank_p=k_sample.p,
    )
