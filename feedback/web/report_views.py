"""Report pages for staff: segment explorer, CSM, manager and executive dashboards, the
ARR x NPS quadrant, churn and the comments explorer, with server-drawn SVG charts.

The pages call the same report services as /api/v1/reports, with the same scoping: a CSM
sees their own accounts only, and the answers are production ones unless `environment=` names
another (the page then says so under its header). Query parameters are read by hand so that
a bad value comes back as the page with a message naming the field (422), never as a 500.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol, TypeVar
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.response import Template
from markupsafe import Markup
from msgspec import UnsetType

from feedback.accounts.services import AccountView, list_accounts
from feedback.auth.guards import ALL_ROLES, READ_ALL, CurrentPrincipal, access, provide_principal
from feedback.errors import domain_error_handler, http_exception_handler
from feedback.health.retention import retention_report
from feedback.health.services import health_on_day
from feedback.kernel.environments import PRODUCTION, parse_environment
from feedback.kernel.errors import DomainError, InputError
from feedback.kernel.principal import Principal, Role
from feedback.reports.choices import DIMENSIONS as CHOICE_FILTERS
from feedback.reports.choices import page_choices, page_filter_choices, trait_names
from feedback.reports.churn import churn_report
from feedback.reports.explorer import COLUMNS, responses_page
from feedback.reports.quadrant import QuadrantAccount, quadrant_report
from feedback.reports.segments import DIMENSIONS as SCAN_DIMENSIONS
from feedback.reports.segments import segment_scan
from feedback.reports.services import (
    FILTERS,
    MAX_OFFSET,
    SORTS,
    TRAIT_PREFIX,
    AccountMark,
    NPSGroup,
    NPSQuery,
    account_marks,
    default_limit,
    default_sort,
    has_comment_of,
    is_trait,
    load_nps_report,
    spreadsheet_safe,
    trait_key,
)
from feedback.reports.teams import combined, csm_directory, managers, nps_by_csm, nps_by_manager
from feedback.themes.members import all_themes
from feedback.themes.reports import shown_themes
from feedback.web.charts import (
    Bar,
    Dot,
    Point,
    Series,
    Steps,
    bar_chart,
    fmt,
    line_chart,
    scatter_chart,
    step_chart,
)

PageRequest = Request[Any, Any, State]

# segment filters, in the order the forms show them
FILTER_LABELS = {
    "plan": "Plan",
    "role": "User role",
    "industry": "Industry",
    "company_size": "Company size",
    "csm": "CSM",
    "manager": "Manager",
    "account": "Account",
    "user": "User",
}
# what the segment explorer groups by: the filters, and a custom trait named in a text field
DIMENSION_LABELS = {**FILTER_LABELS, "trait": "Custom trait"}
# the segment explorer's orders of groups (the API's `sort`)
SORT_LABELS = {
    "-responses": "most answers first",
    "responses": "fewest answers first",
    "key": "name, A to Z",
    "-key": "name, Z to A",
    "-nps": "highest NPS first",
    "nps": "lowest NPS first",
}
assert set(SORT_LABELS) == set(SORTS)
CATEGORY_LABELS = {"promoter": "Promoters", "passive": "Passives", "detractor": "Detractors"}
QUADRANT_LABELS = {
    "protect": "Protect: high ARR, low NPS",
    "advocate": "Advocate: high ARR, high NPS",
    "grow": "Grow: low ARR, high NPS",
    "fix": "Fix: low ARR, low NPS",
}
QUADRANT_ACTIONS = {
    "protect": "Revenue at risk: call them first, find what is wrong and fix it.",
    "advocate": "Happy and large: ask for references, case studies and expansion.",
    "grow": "Happy and small: offer the next plan or more seats.",
    "fix": "Unhappy and small: fix the product experience at scale, low-touch.",
}
QUADRANT_LIST = 25  # accounts listed per quadrant, the largest ARR first
CSV_ROW_LIMIT = 10_000
MAX_TEXT = 200


def page_error_handler(request: PageRequest, exc: HTTPException | DomainError) -> Response[Any]:
    """Report pages answer errors with the staff pages' one error page (feedback/errors.py);
    signing in still redirects to /login."""
    if isinstance(exc, DomainError):
        return domain_error_handler(request, exc)
    return http_exception_handler(request, exc)


class StaffPages(Controller):
    """What the report-like page controllers share: the signed-in principal, and errors as
    the staff pages' error page. Subclasses set `path`."""

    include_in_schema = False
    dependencies = {"principal": Provide(provide_principal)}
    exception_handlers = {HTTPException: page_error_handler, DomainError: page_error_handler}


# --- reading the query string -------------------------------------------------------------


@dataclass
class Form:
    """The query string as the form shows it again, and its parsed values."""

    raw: dict[str, str]
    date_from: datetime | None = None
    date_to: datetime | None = None
    filters: dict[str, str] = field(default_factory=dict)
    # whose answers the page reads (`environment=`; production when none is given)
    environment: str = PRODUCTION

    def get(self, name: str, default: str = "") -> str:
        return self.raw.get(name, default)

    def choice(self, name: str, choices: Mapping[str, Any] | tuple[str, ...], default: str) -> str:
        value = self.raw.get(name) or default
        if value not in choices:
            raise InputError(name, f"must be one of {', '.join(choices)}")
        return value

    def number(self, name: str, default: float | None, low: float, high: float) -> float | None:
        text = self.raw.get(name, "").strip()
        if not text:
            return default
        try:
            value = float(text)
        except ValueError:
            raise InputError(name, f"must be a number, got {text!r}") from None
        if not low <= value <= high:
            raise InputError(name, f"must be between {low:g} and {high:g}")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self.number(name, default, low, high)
        if value is None or value != int(value):
            raise InputError(name, "must be a whole number")
        return int(value)

    def query_string(self, **changes: str | None) -> str:
        values = {**self.raw, **changes}
        return urlencode({k: v for k, v in values.items() if v})

    def production_href(self, path: str) -> str:
        """`path` with this query string but production's answers (the banner's way back)."""
        query = self.query_string(environment=None, offset=None)
        return f"{path}?{query}" if query else path

    def environment_query(self) -> str:
        """`environment=NAME` to carry into a link to another report, or "" for production."""
        if self.environment == PRODUCTION:
            return ""
        return urlencode({"environment": self.environment})


def read_form(
    request: PageRequest, filter_names: tuple[str, ...] = tuple(FILTERS), traits: bool = False
) -> Form:
    """The query string; `filter_names` (and with `traits` any `trait:NAME`) become the
    segment filters."""
    raw = {k: v.strip()[:MAX_TEXT] for k, v in request.query_params.items() if isinstance(v, str)}
    for name, value in raw.items():
        # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the query
        if "\x00" in value:
            raise InputError(name, "must not contain NUL characters")
    form = Form(raw)
    form.environment = parse_environment(raw.get("environment"))
    form.date_from = _day(form, "from")
    until = _day(form, "to")
    # a "to" day is inclusive on the page; the services take an exclusive end
    form.date_to = None if until is None or until.date() == date.max else until + timedelta(days=1)
    if form.date_from and form.date_to and form.date_to <= form.date_from:
        raise InputError("to", "must be on or after from")
    form.filters = {k: raw[k] for k in filter_names if raw.get(k)}
    if traits:
        form.filters.update((k, v) for k, v in raw.items() if k.startswith(TRAIT_PREFIX) and v)
    return form


def _day(form: Form, name: str) -> datetime | None:
    text = form.raw.get(name, "")
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
    except ValueError:
        raise InputError(name, f"must be a date like 2026-01-31, got {text!r}") from None


def nps_query(form: Form, **values: Any) -> NPSQuery:
    confidence = form.number("confidence", 0.95, 0.5, 0.999) or 0.95
    return NPSQuery(
        date_from=form.date_from,
        date_to=form.date_to,
        confidence=confidence,
        filters=tuple(form.filters.items()),
        environment=form.environment,
        **values,
    )


# --- turning report rows into charts -------------------------------------------------------


class Scored(Protocol):
    """A group the charts and tables show: an NPS report's (`NPSGroup`) or the summed one of
    several CSMs (`TeamGroup`)."""

    @property
    def key(self) -> str | None: ...
    @property
    def period(self) -> str | UnsetType | None: ...
    @property
    def responses(self) -> int: ...
    @property
    def nps(self) -> float | None: ...
    @property
    def ci_low(self) -> float | None: ...
    @property
    def ci_high(self) -> float | None: ...
    @property
    def precision(self) -> str: ...


G = TypeVar("G", bound=Scored)


@dataclass(frozen=True, slots=True)
class BookRow:
    """An account of the CSM dashboard's book, with its NPS group (None: no answers in the
    period) and its latest daily health."""

    account: AccountView
    nps: NPSGroup | None
    health: dict[str, Any] | None


def flag(group: Scored | QuadrantAccount) -> str:
    """The precision note of a report's group or of a quadrant's account."""
    precision = group.precision
    if precision == "counts_only":
        return "counts only: under 5 answers"
    if precision == "low":
        return "low precision: under 30 answers"
    return ""


def bars_for(groups: Sequence[G], label: Callable[[G], object] | None = None) -> list[Bar]:
    return [
        Bar(
            label=str(label(g) if label else g.key if g.key is not None else "(none)"),
            value=g.nps,
            low=g.ci_low,
            high=g.ci_high,
            note=f"n={g.responses}" + (", low precision" if g.precision == "low" else ""),
            flagged=g.precision != "ok",
        )
        for g in groups
    ]


def trend_series(
    groups: Sequence[G], name_of: Callable[[G], object] | None = None
) -> tuple[list[str], list[Series]]:
    """Report groups split by period -> the periods and one series per key."""
    periods = sorted({g.period for g in groups if isinstance(g.period, str) and g.period})
    points: dict[str, dict[str, Point]] = defaultdict(dict)
    for g in groups:
        if not isinstance(g.period, str):  # never in a trend
            continue
        key = str(name_of(g) if name_of else g.key)
        points[key][g.period] = Point(g.nps, g.ci_low, g.ci_high, f"n={g.responses}")
    return periods, [Series(name, pts) for name, pts in points.items()]


def trend_chart(
    groups: Sequence[G],
    title: str,
    chart_id: str,
    name_of: Callable[[G], object] | None = None,
) -> Markup | None:
    periods, series = trend_series(groups, name_of)
    if not periods:
        return None
    if len(series) > 1:
        # overlapping bands of several series hide each other: the dots carry the intervals
        desc = "NPS per period, one line per series; each point names its interval."
        return line_chart(periods, series, title=title, desc=desc, chart_id=chart_id, bands=False)
    return line_chart(
        periods,
        series,
        title=title,
        desc="NPS per period as a line, its confidence interval as a shaded band; "
        "periods with fewer than 5 answers show no value.",
        chart_id=chart_id,
    )


def nps_bars(
    groups: Sequence[G],
    title: str,
    chart_id: str,
    label: Callable[[G], object] | None = None,
) -> Markup:
    return bar_chart(
        bars_for(groups, label),
        title=title,
        desc="One bar per segment from 0 to its NPS (-100 to 100), a whisker across its "
        "confidence interval; segments with fewer than 5 answers show counts only.",
        chart_id=chart_id,
    )


def context(principal: Principal, **values: Any) -> dict[str, Any]:
    return {
        "principal": principal,
        "dimension_labels": DIMENSION_LABELS,
        "filter_labels": FILTER_LABELS,
        "trait_prefix": TRAIT_PREFIX,
        "category_labels": CATEGORY_LABELS,
        "sort_labels": SORT_LABELS,
        "flag": flag,
        "num": fmt,
        "choices": {},
        "themes": [],
        "trait_names": [],
        "trait_filters": [],
        "trait_values": {},
        "has_comment_labels": HAS_COMMENT_LABELS,
        **values,
    }


def render(name: str, principal: Principal, form: Form | None, **values: Any) -> Template:
    return Template(name, context=context(principal, form=form, **values))


def form_again(raw: Mapping[str, str]) -> Form:
    """The query string of a page refused for a bad value, to show in its form again: the
    environment asked for stays (and its banner shows) when it was a good one."""
    form = Form(dict(raw))
    with contextlib.suppress(InputError):
        form.environment = parse_environment(raw.get("environment"))
    return form


def failed(name: str, principal: Principal, raw: Mapping[str, str], error: InputError) -> Template:
    return Template(
        name,
        status_code=422,
        # the trait filters asked for stay in the form, their values typed
        context=context(
            principal,
            form=form_again(raw),
            error=error,
            trait_filters=[k for k in raw if is_trait(k)],
        ),
    )


def _raw(request: PageRequest) -> dict[str, str]:
    return {k: v[:MAX_TEXT] for k, v in request.query_params.items() if isinstance(v, str)}


# --- the pages ----------------------------------------------------------------------------


class ReportPages(StaffPages):
    path = "/reports"

    @get("/", **access(*ALL_ROLES))
    async def index(self, principal: CurrentPrincipal) -> Template:
        return render("reports/index.html", principal, None)

    @get("/segments", **access(*ALL_ROLES))
    async def segments(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        """Segment explorer for product teams: which segments are happier or unhappier than
        the rest, first as the scan of each segment against the rest, then the groups."""
        name = "reports/segments.html"
        try:
            form = read_form(request, traits=True)
            theme = _theme(form)
            dimension = form.choice("dimension", DIMENSION_LABELS, "plan")
            group_by, label = dimension, DIMENSION_LABELS[dimension]
            if dimension == "trait":
                trait = form.get("trait")
                if not trait:
                    raise InputError("trait", "name the trait to segment by, e.g. region")
                group_by, label = TRAIT_PREFIX + trait, f"Trait {trait}"
                trait_key("trait", group_by)
            period = form.choice("period", ("quarter", "month"), "quarter")
            segment = form.get("segment") or None
            # a page of groups by account or user (the largest first), every group otherwise
            sort = form.choice("sort", SORT_LABELS, default_sort(group_by))
            offset = form.integer("offset", 0, 0, MAX_OFFSET)
            page_size = default_limit(group_by)
            report = await load_nps_report(
                principal,
                nps_query(form, group_by=group_by, sort=sort, limit=page_size, offset=offset),
            )
            overall = await load_nps_report(principal, nps_query(form))
            selection = dict(form.filters)
            if segment is not None:
                selection[group_by] = segment
            chosen = Form(form.raw, form.date_from, form.date_to, selection, form.environment)
            trend = await load_nps_report(principal, nps_query(chosen, period=period))
            scan = None
            if dimension in SCAN_DIMENSIONS or dimension == "trait":
                scan = await segment_scan(
                    principal,
                    group_by,
                    form.date_from,
                    form.date_to,
                    confidence=nps_query(form).confidence,
                    environment=form.environment,
                )
            # a theme narrows the answers listed; the NPS figures above are of every answer
            comments = await responses_page(
                principal,
                has_comment=True,
                filters=selection,
                date_from=form.date_from,
                date_to=form.date_to,
                limit=20,
                theme=theme,
                environment=form.environment,
            )
            promoters = await responses_page(
                principal,
                category="promoter",
                filters=selection,
                date_from=form.date_from,
                date_to=form.date_to,
                limit=20,
                theme=theme,
                environment=form.environment,
            )
            choices = await page_choices(
                principal, CHOICE_FILTERS, form.date_from, form.date_to, form.environment
            )
            traits = await trait_fields(principal, form)
        except InputError as exc:
            return failed(name, principal, _raw(request), exc)
        themes = await theme_options()
        return render(
            name,
            principal,
            form,
            choices=choices,
            themes=themes,
            theme_label=dict(themes).get(str(theme), f"#{theme}") if theme is not None else None,
            **traits,
            dimension=dimension,
            label=label,
            period=period,
            segment=segment,
            overall=overall.groups[0],
            groups=report.groups,
            sort=sort,
            offset=offset,
            page_size=page_size,
            total_groups=report.total_groups,
            bars=nps_bars(report.groups, f"NPS by {label.lower()}", "segments-bars"),
            trend=trend_chart(
                trend.groups,
                f"NPS by {period}" + (f" for {label.lower()} {segment}" if segment else ""),
                "segments-trend",
            ),
            trend_groups=trend.groups,
            scan=scan,
            differing=[s for s in scan.segments if s.significant] if scan else [],
            comments=comments,
            promoters=promoters,
            selection=selection,
            selection_query=Form(
                {
                    **selection,
                    "from": form.get("from"),
                    "to": form.get("to"),
                    "theme": form.get("theme"),
                    "environment": form.get("environment"),
                }
            ).query_string(),
        )

    @get("/my-accounts", **access(*ALL_ROLES))
    async def my_accounts(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        """The CSM dashboard: which accounts need attention (NPS below zero or health red),
        NPS per account with interval, trend, recent detractors. A CSM sees their own book;
        other roles pick a CSM (or see every account)."""
        name = "reports/my_accounts.html"
        try:
            form = read_form(request, filter_names=("csm",))
            if principal.role is Role.csm:
                form.filters.pop("csm", None)
            query = nps_query(form, group_by="account")
            report = await load_nps_report(principal, query)
            overall = await load_nps_report(principal, nps_query(form))
            trend = await load_nps_report(principal, nps_query(form, period="quarter"))
            detractors = await responses_page(
                principal,
                category="detractor",
                has_comment=True,
                filters=form.filters,
                date_from=form.date_from,
                date_to=form.date_to,
                limit=25,
                environment=form.environment,
            )
            book = await list_accounts(principal, csm_email=form.filters.get("csm"), limit=5000)
            directory = await csm_directory() if principal.role is not Role.csm else {}
            health = await health_on_day(principal, csm=form.filters.get("csm"), limit=5000)
        except InputError as exc:
            return failed(name, principal, _raw(request), exc)
        scores = {g.key: g for g in report.groups}
        healths = {h["account_id"]: h for h in health["accounts"]}
        # one row per account of the book, with its latest daily health snapshot
        rows = [BookRow(a, scores.get(a.external_id), healths.get(a.external_id)) for a in book]
        # the accounts needing attention first, then the lowest NPS
        rows.sort(
            key=lambda r: (
                not needs_attention(r),
                r.nps is None,
                (r.nps.nps if r.nps else None) or 0,
            )
        )
        with_scores = [r.nps for r in rows if r.nps is not None]
        return render(
            name,
            principal,
            form,
            rows=rows,
            attention=sum(1 for r in rows if needs_attention(r)),
            needs_attention=needs_attention,
            overall=overall.groups[0],
            bars=nps_bars(
                with_scores,
                "NPS per account",
                "accounts-bars",
                label=lambda g: _account_label(g.key, book),
            )
            if with_scores
            else None,
            trend=trend_chart(trend.groups, "NPS by quarter", "accounts-trend"),
            trend_groups=trend.groups,
            health_day=health["day"],
            detractors=detractors,
            csms=[(m.email, m.name) for m in sorted(directory.values(), key=lambda m: m.name)],
        )

    @get("/team", **access(*READ_ALL))
    async def team(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        """Manager dashboard: how each CSM's book feels about us, with intervals, and the
        team's trend."""
        name = "reports/team.html"
        try:
            form = read_form(request, filter_names=())
            directory = await csm_directory()
            leads = managers(directory)
            lead = form.get("manager") or None
            if lead is not None:
                by_email = {m.email.lower(): m.email for m in leads}
                if lead.lower() not in by_email:
                    raise InputError("manager", "not a manager of any CSM")
                lead = by_email[lead.lower()]
            team = None
            if lead is not None:
                team = {m.email for m in directory.values() if m.manager_email == lead}
            sort = form.choice("sort", SORT_LABELS, "key")
            query = nps_query(form, period="quarter", sort=sort)
            result = await nps_by_csm(principal, query, team)
        except InputError as exc:
            return failed(name, principal, _raw(request), exc)

        def csm_name(g: NPSGroup | Mapping[str, Any]) -> str:
            """A CSM's name, from a group of theirs (the page passes {"key": email})."""
            key = g["key"] if isinstance(g, Mapping) else g.key
            member = directory.get(key) if key else None
            return member.name if member else (key or "(no CSM)")

        return render(
            name,
            principal,
            form,
            leads=[(m.email, m.name) for m in leads],
            lead=lead,
            lead_name=directory[lead].name if lead in directory else lead,
            sort=sort,
            overall=combined("team", result.groups, query) if result.groups else None,
            groups=result.groups,
            csm_name=csm_name,
            bars=nps_bars(result.groups, "NPS per CSM", "team-bars", label=csm_name)
            if result.groups
            else None,
            trend=trend_chart(result.team_trend, "Team NPS by quarter", "team-trend"),
            csm_trend=trend_chart(
                result.trend, "NPS per CSM by quarter", "team-csm-trend", name_of=csm_name
            ),
            team_trend=result.team_trend,
            by_quarter=_pivot(result.trend),
        )

    @get("/executive", **access(*READ_ALL))
    async def executive(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        """Executive dashboard: where NPS is going (the overall trend by quarter) and who
        drives it (NPS by manager), with retention."""
        name = "reports/executive.html"
        try:
            form = read_form(request, filter_names=())
            groups = await nps_by_manager(principal, nps_query(form))
            overall = await load_nps_report(principal, nps_query(form))
            trend = await load_nps_report(principal, nps_query(form, period="quarter"))
            retention = await retention_report(principal, "quarter", None, None)
        except InputError as exc:
            return failed(name, principal, _raw(request), exc)
        periods = [g for g in trend.groups if g.nps is not None]
        return render(
            name,
            principal,
            form,
            groups=groups,
            overall=overall.groups[0],
            latest=periods[-1] if periods else None,
            previous=periods[-2] if len(periods) > 1 else None,
            bars=nps_bars(groups, "NPS by manager", "executive-bars", label=lambda g: g.name)
            if groups
            else None,
            trend=trend_chart(trend.groups, "Overall NPS by quarter", "executive-trend"),
            trend_groups=trend.groups,
            retention=retention["periods"],
        )

    @get("/quadrant", **access(*ALL_ROLES))
    async def quadrant(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        """Which accounts to protect, grow or turn into advocates: each quadrant's accounts
        by ARR, churned accounts marked (their revenue is lost, not at risk)."""
        name = "reports/quadrant.html"
        try:
            form = read_form(request, filter_names=())
            nps_threshold = form.number("nps_threshold", 0.0, -100, 100) or 0.0
            arr_threshold = form.number("arr_threshold", None, 0, 1e12)
            report = await quadrant_report(
                principal,
                nps_threshold,
                arr_threshold,
                form.date_from,
                form.date_to,
                environment=form.environment,
            )
            marks = await account_marks(principal)
        except InputError as exc:
            return failed(name, principal, _raw(request), exc)
        dots = [
            Dot(f"{a.name} ({a.account_id})", a.arr, a.nps, a.quadrant, short=a.name)
            for a in report.accounts
        ]
        chart = scatter_chart(
            dots,
            title="ARR x NPS per account",
            desc="Each account as a dot at its ARR (across) and NPS (up); the lines are the "
            f"thresholds: ARR {report.arr_threshold:,.0f}, NPS {nps_threshold:g}.",
            x_label="ARR",
            y_label="NPS",
            x_threshold=report.arr_threshold,
            y_threshold=nps_threshold,
            corner_labels=("Grow", "Advocate", "Fix", "Protect"),
            chart_id="quadrant-scatter",
        )
        by_quadrant: dict[str, list[QuadrantAccount]] = defaultdict(list)
        for account in report.accounts:
            by_quadrant[account.quadrant].append(account)
        currencies = {
            marks[a.account_id].currency for a in report.accounts if a.account_id in marks
        }
        churned = {k: [a for a in v if _churned(a, marks)] for k, v in by_quadrant.items()}
        return render(
            name,
            principal,
            form,
            report=report,
            chart=chart,
            quadrant_labels=QUADRANT_LABELS,
            quadrant_actions=QUADRANT_ACTIONS,
            by_quadrant=by_quadrant,
            churned={k: len(v) for k, v in churned.items()},
            churned_arr={k: sum(a.arr for a in v) for k, v in churned.items()},
            marks=marks,
            # one currency for the totals and thresholds when every account shares it
            currency=currencies.pop() if len(currencies) == 1 else None,
            list_size=QUADRANT_LIST,
        )

    @get("/churn", **access(*ALL_ROLES))
    async def churn(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        name = "reports/churn.html"
        try:
            form = read_form(request, filter_names=())
            window = form.integer("window_days", 365, 1, 3650)
            report = await churn_report(
                principal,
                window,
                0.95,
                date_from=form.date_from,
                date_to=form.date_to,
                environment=form.environment,
            )
        except InputError as exc:
            return failed(name, principal, _raw(request), exc)
        rates = [
            Bar(
                r.group.replace("_", "-"),
                None if r.rate is None else 100 * r.rate,
                None if r.ci_low is None else 100 * r.ci_low,
                None if r.ci_high is None else 100 * r.ci_high,
                note=f"{r.churned} of {r.accounts} accounts",
            )
            for r in report.rates
        ]
        # the axis fits the largest upper bound, rounded up to the next 10 %
        highest = max((r.ci_high or 0.0) for r in report.rates)
        rate_chart = bar_chart(
            rates,
            title=f"Churn within {window} days, by NPS category (%)",
            desc="One bar per category from 0 to its churn rate in percent, a whisker across "
            "its Wilson interval.",
            chart_id="churn-rates",
            domain=(0.0, min(100.0, max(10.0, 10.0 * -(-highest * 10 // 1)))),
            empty_text="no accounts",
        )
        curves = [
            Steps(c.group.replace("_", "-"), c.times, c.survival) for c in report.survival_days
        ]
        survival = (
            step_chart(
                curves,
                title="Accounts without a termination notice (Kaplan-Meier)",
                desc="Share of accounts still without a churn notice by days since their first "
                "answer, one step curve per NPS category.",
                x_label="days since first answer",
                y_label="share without churn",
                chart_id="churn-survival",
            )
            if curves
            else None
        )
        return render(
            name, principal, form, report=report, rate_chart=rate_chart, survival=survival
        )

    @get("/comments", **access(*ALL_ROLES))
    async def comments(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        """What people are saying: answers with a comment by default, newest first."""
        name = "reports/comments.html"
        try:
            form, options = _comment_options(request)
            page_size = 50
            offset = form.integer("offset", 0, 0, 10_000_000)
            result = await responses_page(principal, **options, limit=page_size, offset=offset)
            choices = await page_choices(
                principal, CHOICE_FILTERS, form.date_from, form.date_to, form.environment
            )
            traits = await trait_fields(principal, form)
        except InputError as exc:
            return failed(name, principal, _raw(request), exc)
        return render(
            name,
            principal,
            form,
            choices=choices,
            themes=await theme_options(),
            **traits,
            has_comment=_has_comment_choice(form),
            result=result,
            page_size=page_size,
            offset=offset,
            csv_query=form.query_string(offset=None),
        )

    @get("/comments.csv", **access(*ALL_ROLES))
    async def comments_csv(
        self, principal: CurrentPrincipal, request: PageRequest
    ) -> Response[Any]:
        """The explorer's selection as CSV: the API's columns and formula escaping (the API
        itself takes tokens, not the page's session cookie)."""
        _, options = _comment_options(request)
        result = await responses_page(principal, **options, limit=CSV_ROW_LIMIT)
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for row in result.responses:
            values = (getattr(row, c) for c in COLUMNS)
            writer.writerow(["" if v is None else spreadsheet_safe(v) for v in values])
        return Response(
            out.getvalue(),
            media_type="text/csv",  # Litestar adds the charset (once: text/csv; charset=utf-8)
            headers={"content-disposition": 'attachment; filename="responses.csv"'},
        )


HAS_COMMENT_LABELS = {"yes": "with a comment", "no": "without a comment", "all": "with or without"}


def _has_comment_choice(form: Form) -> str:
    """The dropdown's value for the query's `has_comment` (true -> yes, ...); with a
    comment unless asked otherwise."""
    wanted = has_comment_of(form.get("has_comment"), True)
    return {True: "yes", False: "no", None: "all"}[wanted]


def _comment_options(request: PageRequest) -> tuple[Form, dict[str, Any]]:
    form = read_form(request, traits=True)
    category = form.get("category") or None
    if category is not None:
        form.choice("category", CATEGORY_LABELS, "promoter")
    return form, {
        "category": category,
        "text": form.get("q") or None,
        "has_comment": has_comment_of(form.get("has_comment"), True),
        "theme": _theme(form),
        "filters": form.filters,
        "date_from": form.date_from,
        "date_to": form.date_to,
        "environment": form.environment,
    }


def _theme(form: Form) -> int | None:
    """The comment theme chosen (its id), if any."""
    return form.integer("theme", 1, 1, 2**31 - 1) if form.get("theme") else None


async def theme_options() -> list[tuple[str, str]]:
    """The active comment themes as the Theme dropdown takes them, by label."""
    themes = [(str(t.id), t.shown_label) for t in shown_themes(await all_themes(), None)]
    return sorted(themes, key=lambda t: t[1].lower())


# the trait filters whose values are offered as a dropdown (one query over the answers each)
TRAIT_VALUE_DROPDOWNS = 5


async def trait_names_offered(
    principal: Principal, form: Form, accounts: bool = False
) -> list[tuple[str, str]]:
    """The custom trait names in the data (of the answers in the period, or with `accounts`
    of the accounts), as (name, "name (answers)") pairs for a dropdown."""
    names = await trait_names(
        principal, form.date_from, form.date_to, accounts=accounts, environment=form.environment
    )
    unit = "account" if accounts else "answer"
    return [
        (c.value, f"{c.value} ({c.responses:,} {unit}{'' if c.responses == 1 else 's'})")
        for c in names
    ]


async def trait_fields(principal: Principal, form: Form) -> dict[str, Any]:
    """What a page's trait filters show: the trait names in the data (`trait_names`, the
    "Filter by trait" dropdown, whose choice is `trait_filter`), the filters to show
    (`trait_filters`: each `trait:NAME` of the query string, and `trait:` + the trait
    chosen), and the values of each as a dropdown (`trait_values`, for the first
    TRAIT_VALUE_DROPDOWNS of them; the others keep their value only)."""
    shown = [k for k in form.raw if is_trait(k)]
    chosen = form.get("trait_filter")
    if chosen:
        trait_key("trait_filter", TRAIT_PREFIX + chosen)
        if TRAIT_PREFIX + chosen not in shown:
            shown.append(TRAIT_PREFIX + chosen)
    values: dict[str, list[tuple[str, str]]] = {}
    for key in shown[:TRAIT_VALUE_DROPDOWNS]:
        trait_key(key, key)
        found = await page_filter_choices(
            principal, key, form.date_from, form.date_to, form.environment
        )
        values[key] = [(c.value, f"{c.label} ({c.responses:,})") for c in found.choices]
    return {
        "trait_names": await trait_names_offered(principal, form),
        "trait_filters": shown,
        "trait_values": values,
    }


def needs_attention(row: BookRow) -> bool:
    """An account of the book to look at first: its NPS is below zero, or its latest
    health is red."""
    low_nps = row.nps is not None and row.nps.nps is not None and row.nps.nps < 0
    red = row.health is not None and row.health.get("band") == "red"
    return low_nps or red


def _churned(account: QuadrantAccount, marks: Mapping[str, AccountMark]) -> bool:
    mark = marks.get(account.account_id)
    return mark is not None and mark.churned


def _account_label(external_id: str | None, book: list[AccountView]) -> str:
    for account in book:
        if account.external_id == external_id:
            return str(account.name)
    return str(external_id)


def _pivot(groups: list[NPSGroup]) -> dict[str, Any]:
    """Per-CSM trend rows as a table: CSM x period."""
    in_periods = [(g, g.period) for g in groups if isinstance(g.period, str)]  # every one
    periods = sorted({period for _, period in in_periods})
    cells: dict[str, dict[str, NPSGroup]] = defaultdict(dict)
    for g, period in in_periods:
        cells[g.key or "(no CSM)"][period] = g
    return {"periods": periods, "rows": sorted(cells.items())}
