"""What the themes mean for the score: per theme its answers, NPS with its interval, the share
of detractors who mention it, the theme against the rest of the comments (Benjamini-Hochberg
across themes), its trend per quarter and the churn of the accounts that mention it; and the
themes rising this week.

Counts come from SQL (feedback/themes/queries.py), intervals and tests from `analytics`. The
answers compared are those with a comment: "the rest" of a theme is every other commented
answer in the selection, so a theme is not compared with the silent majority. A CSM sees
their own accounts' comments only.

Every figure counts the answers of one environment: production unless asked for another.
The themes themselves are learned from production comments only (feedback/themes/build.py);
staging or development comments are shown as the same model placed them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from analytics.churn import churn_rates
from analytics.compare import benjamini_hochberg, compare_nps
from analytics.nps import COUNTS_ONLY_BELOW, nps_interval
from feedback.kernel.clock import utcnow
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Principal
from feedback.reports.queries import add_scope, period_sql, report_joins
from feedback.reports.services import report_rows
from feedback.themes import queries
from feedback.themes.members import LANGUAGES, ThemeRecord, all_themes
from feedback.themes.models import ThemeStatus


@dataclass(frozen=True, slots=True)
class Score:
    """An NPS with its interval (None under 5 answers) and the counts it is made of."""

    responses: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    ci_low: float | None
    ci_high: float | None
    precision: str


@dataclass(frozen=True, slots=True)
class VersusRest:
    """The theme's NPS less the rest's (the other commented answers), Wald interval."""

    rest_nps: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float
    significant: bool


@dataclass(frozen=True, slots=True)
class Churn:
    """Accounts that mention the theme (no churn notice before their first mention) and
    those with a notice since; Wilson interval."""

    accounts: int
    churned: int
    rate: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True, slots=True)
class QuarterScore:
    quarter: str
    score: Score


@dataclass(frozen=True, slots=True)
class ThemeFigures:
    id: int
    label: str
    language: str
    source: str
    pinned: bool
    keyphrases: list[str]
    score: Score
    accounts: int
    detractor_share: float | None  # of the commenting detractors, those in this theme
    versus_rest: VersusRest | None  # None when either side has under 5 answers
    churn: Churn
    trend: list[QuarterScore] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ThemeReport:
    confidence: float
    q: float
    language: str | None
    environment: str  # whose answers are counted: production unless asked otherwise
    commented: Score  # every commented answer in the selection
    churn: Churn  # of every account that commented
    themes: list[ThemeFigures]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def score_of(responses: int, promoters: int, detractors: int, confidence: float) -> Score:
    passives = responses - promoters - detractors
    result = nps_interval(promoters, passives, detractors, confidence)
    return Score(
        responses=responses,
        promoters=promoters,
        passives=passives,
        detractors=detractors,
        nps=result.nps,
        ci_low=result.ci_low,
        ci_high=result.ci_high,
        precision=result.precision,
    )


def _churn(accounts: int, churned: int, confidence: float) -> Churn:
    (rate,) = churn_rates({"theme": (accounts, churned)}, confidence)
    return Churn(accounts, churned, rate.rate, rate.ci_low, rate.ci_high)


def check_options(confidence: float, q: float, language: str | None) -> None:
    if not 0.5 <= confidence < 1:
        raise InputError("confidence", "must be between 0.5 and 1, e.g. 0.95")
    if not 0 < q < 1:
        raise InputError("q", "must be between 0 and 1, e.g. 0.05")
    if language is not None and language not in LANGUAGES:
        raise InputError("language", f"must be one of {', '.join(LANGUAGES)}")


def _selection(
    principal: Principal,
    language: str | None,
    date_from: datetime | None,
    date_to: datetime | None,
    environment: str = PRODUCTION,
) -> tuple[str, list[str], list[Any]]:
    where: list[str] = ["1 = 1"]
    args: list[Any] = []
    if language is not None:
        where.append(queries.IN_LANGUAGE)
        args.append(language)
    add_scope(where, args, principal, date_from, date_to, environment)
    return report_joins(principal, *where), where, args


def shown_themes(themes: list[ThemeRecord], language: str | None) -> list[ThemeRecord]:
    """The themes reports show: active ones (not hidden, merged or retired)."""
    return [
        t
        for t in themes
        if t.status == ThemeStatus.active.value and (language is None or t.language == language)
    ]


async def theme_report(
    principal: Principal,
    *,
    language: str | None = None,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    confidence: float = 0.95,
    q: float = 0.05,
    environment: str = PRODUCTION,
) -> ThemeReport:
    """The report over the answers of `environment` (an environment's name, checked by the
    caller with `feedback.kernel.environments.parse_environment`)."""
    check_options(confidence, q, language)
    joins, where, args = _selection(principal, language, date_from, date_to, environment)
    counts = {
        int(r["theme"]): r for r in await report_rows(queries.theme_counts_sql(joins, where), *args)
    }
    (total,) = await report_rows(queries.commented_counts_sql(joins, where), *args)
    quarter = period_sql("quarter")
    trend: dict[int, list[QuarterScore]] = defaultdict(list)
    for row in await report_rows(queries.theme_counts_sql(joins, where, quarter), *args):
        trend[int(row["theme"])].append(
            QuarterScore(
                str(row["period"]),
                score_of(
                    int(row["responses"]),
                    int(row["promoters"] or 0),
                    int(row["detractors"] or 0),
                    confidence,
                ),
            )
        )
    churn_rows = await report_rows(queries.theme_churn_sql(joins, where), *args, *args)
    churn = {r["theme"]: (int(r["accounts"]), int(r["churned"] or 0)) for r in churn_rows}
    all_n = int(total["responses"] or 0)
    all_p = int(total["promoters"] or 0)
    all_d = int(total["detractors"] or 0)
    figures: list[ThemeFigures] = []
    comparisons: list[tuple[int, Any]] = []
    for theme in shown_themes(await all_themes(), language):
        counted = counts.get(theme.id)
        n = int(counted["responses"]) if counted else 0
        p = int(counted["promoters"] or 0) if counted else 0
        d = int(counted["detractors"] or 0) if counted else 0
        rest = (all_p - p, (all_n - n) - (all_p - p) - (all_d - d), all_d - d)
        compared = None
        if n >= COUNTS_ONLY_BELOW and all_n - n >= COUNTS_ONLY_BELOW:
            compared = compare_nps((p, n - p - d, d), rest, confidence)
            comparisons.append((len(figures), compared))
        accounts, churned = churn.get(theme.id, (0, 0))
        figures.append(
            ThemeFigures(
                id=theme.id,
                label=theme.shown_label,
                language=theme.language,
                source=theme.source,
                pinned=theme.pinned,
                keyphrases=theme.keyphrases,
                score=score_of(n, p, d, confidence),
                accounts=int(counted["accounts"]) if counted else 0,
                detractor_share=d / all_d if all_d else None,
                versus_rest=None,
                churn=_churn(accounts, churned, confidence),
                trend=sorted(trend.get(theme.id, []), key=lambda s: s.quarter),
            )
        )
    if comparisons:
        fdr = benjamini_hochberg([c.p_value for _, c in comparisons], q)
        for (index, c), adjusted, found in zip(
            comparisons, fdr.adjusted, fdr.discoveries, strict=True
        ):
            versus = VersusRest(
                rest_nps=c.nps_b,
                diff=c.diff,
                ci_low=c.ci_low,
                ci_high=c.ci_high,
                p_value=c.p_value,
                p_adjusted=adjusted,
                significant=found,
            )
            old = figures[index]
            figures[index] = ThemeFigures(**{**_fields(old), "versus_rest": versus})
    figures.sort(key=lambda f: (-f.score.responses, f.label))
    everyone = churn.get(None, (0, 0))
    return ThemeReport(
        confidence=confidence,
        q=q,
        language=language,
        environment=environment,
        commented=score_of(all_n, all_p, all_d, confidence),
        churn=_churn(everyone[0], everyone[1], confidence),
        themes=figures,
    )


def _fields(figures: ThemeFigures) -> dict[str, Any]:
    return {name: getattr(figures, name) for name in ThemeFigures.__dataclass_fields__}


CSV_COLUMNS = (
    "theme_id",
    "label",
    "language",
    "source",
    "answers",
    "accounts",
    "nps",
    "ci_low",
    "ci_high",
    "detractor_share",
    "rest_nps",
    "diff_vs_rest",
    "diff_ci_low",
    "diff_ci_high",
    "p_value",
    "p_adjusted",
    "significant",
    "churn_accounts",
    "churned",
    "churn_rate",
    "churn_ci_low",
    "churn_ci_high",
)


def csv_rows(report: ThemeReport) -> list[list[Any]]:
    """One row per theme in CSV_COLUMNS' order (the trend is in the JSON only)."""
    rows = []
    for f in report.themes:
        v = f.versus_rest
        rows.append(
            [
                f.id,
                f.label,
                f.language,
                f.source,
                f.score.responses,
                f.accounts,
                f.score.nps,
                f.score.ci_low,
                f.score.ci_high,
                f.detractor_share,
                v and v.rest_nps,
                v and v.diff,
                v and v.ci_low,
                v and v.ci_high,
                v and v.p_value,
                v and v.p_adjusted,
                v and v.significant,
                f.churn.accounts,
                f.churn.churned,
                f.churn.rate,
                f.churn.ci_low,
                f.churn.ci_high,
            ]
        )
    return rows


# ------------------------------------------------------------------------- rising themes


@dataclass(frozen=True, slots=True)
class RisingTheme:
    """A theme mentioned more this week than in an average week of the four before."""

    id: int
    label: str
    this_week: int
    weekly_before: float  # the mean per week over the four weeks before

    @property
    def change(self) -> float:
        return self.this_week - self.weekly_before


MIN_RISING = 3


async def rising_themes(
    principal: Principal, now: datetime | None = None, limit: int = 5
) -> list[RisingTheme]:
    """Themes with at least MIN_RISING production answers in the last 7 days and more than in
    an average week of the 28 days before, the largest rise first (for the daily digest,
    /nps themes and the Insights page)."""
    now = now or utcnow()
    week_start = now - timedelta(days=7)
    before_start = week_start - timedelta(days=28)

    async def counts(start: datetime, end: datetime) -> dict[int, int]:
        joins, where, args = _selection(principal, None, start, end)
        rows = await report_rows(queries.theme_counts_sql(joins, where), *args)
        return {int(r["theme"]): int(r["responses"]) for r in rows}

    this_week = await counts(week_start, now)
    before = await counts(before_start, week_start)
    rising = [
        RisingTheme(t.id, t.shown_label, this_week.get(t.id, 0), before.get(t.id, 0) / 4)
        for t in shown_themes(await all_themes(), None)
        if this_week.get(t.id, 0) >= MIN_RISING and this_week.get(t.id, 0) > before.get(t.id, 0) / 4
    ]
    rising.sort(key=lambda r: (-r.change, r.label))
    return rising[:limit]


async def answers_per_theme(principal: Principal, environment: str = PRODUCTION) -> dict[int, int]:
    """The number of answers of `environment` with a comment in each theme that the
    principal sees."""
    joins, where, args = _selection(principal, None, None, None, environment)
    rows = await report_rows(queries.theme_counts_sql(joins, where), *args)
    return {int(r["theme"]): int(r["responses"]) for r in rows}
