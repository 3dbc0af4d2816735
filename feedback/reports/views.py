"""Report API: /api/v1/reports/..., JSON by default, CSV with format=csv."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    Schema,
)
from litestar.params import FromQuery, QueryParameter
from litestar.response import Stream

from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.kernel.environments import parse_environment
from feedback.kernel.errors import InputError
from feedback.reports.choices import filter_choices
from feedback.reports.churn import churn_report
from feedback.reports.churn_segments import churn_segments, churn_segments_csv
from feedback.reports.explorer import COLUMNS, responses_page
from feedback.reports.loop import loop_csv, loop_report
from feedback.reports.quadrant import quadrant_report
from feedback.reports.segments import segment_scan
from feedback.reports.services import (
    TRAIT_PREFIX,
    NPSQuery,
    default_limit,
    has_comment_of,
    load_nps_report,
    nps_report_csv,
    record_dict,
    spreadsheet_safe,
)
from feedback.reports.trends import trend_csv, trend_report
from feedback.themes.reports import CSV_COLUMNS, csv_rows, theme_report


def check_period(date_from: datetime | None, date_to: datetime | None) -> None:
    for name, value in (("from", date_from), ("to", date_to)):
        if value is not None and value.tzinfo is None:
            raise InputError(name, "needs a time zone, e.g. 2026-01-01T00:00:00Z")
    if date_from is not None and date_to is not None and date_to <= date_from:
        raise InputError("to", "must be after from")


NamedFilters = NamedDependency[dict[str, str | None]]


@dataclass
class JsonOrCsv(Operation):
    """The OpenAPI operation of a report that `format=csv` answers as CSV: its 200 answer
    documents both media types."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse) and ok.content is not None:
            ok.content["text/csv"] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))


def provide_named_filters(
    plan: FromQuery[str | None] = None,
    role: FromQuery[str | None] = None,
    industry: FromQuery[str | None] = None,
    company_size: FromQuery[str | None] = None,
    csm: FromQuery[str | None] = None,
    manager: FromQuery[str | None] = None,
    account: FromQuery[str | None] = None,
    user: FromQuery[str | None] = None,
) -> dict[str, str | None]:
    """The named segment filters' query parameters, as given (checked by segment_filters)."""
    return {
        "plan": plan,
        "role": role,
        "industry": industry,
        "company_size": company_size,
        "csm": csm,
        "manager": manager,
        "account": account,
        "user": user,
    }


def segment_filters(request: Request[Any, Any, Any], **values: str | None) -> dict[str, str]:
    """The named segment filters that were given, and any number of `trait:NAME=VALUE`
    (each must hold). A trait's name is checked where the filter becomes SQL."""
    filters = {k: v for k, v in values.items() if v}
    for name, value in request.query_params.multi_items():
        if name.startswith(TRAIT_PREFIX) and isinstance(value, str) and value:
            if name in filters and filters[name] != value:
                raise InputError(name, "give one value per trait")
            filters[name] = value
    for name, value in filters.items():
        check_text(name, value)
    return filters


async def _prepend(first: str, rest: AsyncIterator[str]) -> AsyncIterator[str]:
    yield first
    async for chunk in rest:
        yield chunk


def check_text(name: str, value: str | None) -> None:
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the query
    if value is not None and "\x00" in value:
        raise InputError(name, "must not contain NUL characters")


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]
    dependencies = {
        "principal": Provide(provide_principal),
        "named_filters": Provide(provide_named_filters, sync_to_thread=False),
    }

    @get(
        "/nps",
        summary="NPS with confidence intervals, by segment",
        operation_class=JsonOrCsv,
        **access(*ALL_ROLES),
    )
    async def nps(
        self,
        principal: CurrentPrincipal,
        request: Request[Any, Any, Any],
        named_filters: NamedFilters,
        group_by: FromQuery[str] = "none",
        period: FromQuery[str | None] = None,
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        ci_method: FromQuery[str] = "score",
        confidence: FromQuery[float] = 0.95,
        format: FromQuery[Literal["json", "csv"]] = "json",
        sort: FromQuery[str | None] = None,
        limit: FromQuery[int | None] = None,
        offset: FromQuery[int] = 0,
        environment: FromQuery[str | None] = None,
    ) -> Response[Any] | Stream:
        """`group_by`: none, plan, role, industry, company_size, csm, manager (by email: the
        current manager of the CSM at answer time), account, user (by external id), quarter,
        month, or `trait:NAME` for a custom trait (NAME: 1-100 of `A-Z a-z 0-9 _ . -`); the same
        names filter (`manager=boss@example.com`, `user=u1`, `trait:region=EMEA`, several
        traits allowed). Answers with no value (no CSM, a CSM with no manager, no such
        trait) form the group with key null. `period` (quarter or month) splits every group
        again into a trend. `ci_method`: score (Tango; default), adjusted-wald, wald. Every
        group carries its counts, NPS, interval and a precision flag (counts only under 5
        responses, low under 30). A CSM sees their own accounts only. Segment attributes
        and traits are those at answer time.

        Paging: `sort` is key, -key, responses, -responses, nps or -nps ('-': descending;
        groups under 5 answers, which have no score, come last); by default -responses for
        account and user, key for the rest. `limit` (1-1000) groups from `offset`; by
        default 100 for account and user and 1000 for the rest. `total_groups` counts every
        group. With a `period` the page is of groups, each with all its periods, ranked by
        their totals. `format=csv` streams every group unless `limit` is given.

        `environment`: production (default), staging or development: the answers given on
        that environment's widget keys only (docs/environments.md); the same on every
        report but /reports/loop."""
        check_period(date_from, date_to)
        filters = segment_filters(request, **named_filters)
        query = NPSQuery(
            environment=parse_environment(environment),
            group_by=group_by,
            date_from=date_from,
            date_to=date_to,
            ci_method=ci_method,
            confidence=confidence,
            filters=tuple(filters.items()),
            period=period,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        if format == "csv":
            rows = nps_report_csv(principal, query)
            # checks the query before the first byte goes out: a bad value is still a 422
            header = await anext(rows)
            return Stream(
                _prepend(header, rows),
                media_type="text/csv",  # Litestar adds the charset
                headers={"content-disposition": 'attachment; filename="nps.csv"'},
            )
        if limit is None:
            query = replace(query, limit=default_limit(group_by))
        return Response(await load_nps_report(principal, query))

    @get(
        "/churn",
        summary="Churn by NPS category, risk ratios, correlation, survival",
        **access(*ALL_ROLES),
    )
    async def churn(
        self,
        principal: CurrentPrincipal,
        window_days: Annotated[int, QueryParameter(ge=1, le=3650)] = 365,
        confidence: FromQuery[float] = 0.95,
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        environment: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """At account level: churn rate (Wilson interval) for detractor, passive, promoter and
        non-respondent accounts within `window_days` after their first answer; detractor vs
        promoter relative risk and odds ratio with intervals and Fisher's exact p;
        point-biserial correlation of account NPS with churn; Kaplan-Meier curves to the
        termination notice by category with a log-rank p. A CSM sees their own accounts.
        `environment` (production by default): whose answers classify the accounts; an
        account with none there is a non-respondent."""
        check_period(date_from, date_to)
        report = await churn_report(
            principal,
            window_days,
            confidence,
            date_from,
            date_to,
            environment=parse_environment(environment),
        )
        return report.as_dict()

    @get(
        "/churn/segments",
        summary="Churn by segment: each segment's churn rate against the rest, with FDR control",
        operation_class=JsonOrCsv,
        **access(*ALL_ROLES),
    )
    async def churn_segments(
        self,
        principal: CurrentPrincipal,
        dimension: FromQuery[str] = "plan",
        window_days: Annotated[int, QueryParameter(ge=1, le=3650)] = 365,
        confidence: FromQuery[float] = 0.95,
        q: FromQuery[float] = 0.05,
        sort: FromQuery[str] = "diff",
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        format: FromQuery[Literal["json", "csv"]] = "json",
        environment: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """`dimension`: plan, industry, company_size, csm, manager (the account's today) or
        `trait:NAME` (an account trait). Accounts, churn and NPS categories follow the churn
        report (`window_days` after the first answer in the period). Per segment: accounts,
        churned, churn rate with its Wilson interval; NPS of the segment's answers with its
        score interval; detractor share of the accounts that answered; detractors' relative
        risk of churn against the segment's other accounts (null with
        `detractor_rr_reason` when undefined); the difference in churn rate from the rest
        with Newcombe's hybrid score interval, Fisher's exact p, Benjamini-Hochberg
        `q_value` across the segments and `significant` at `q`. `sort`: diff (default),
        accounts, rate or key. A CSM sees their own accounts. `environment` as in
        /reports/churn. docs/churn.md explains each figure."""
        check_period(date_from, date_to)
        check_text("dimension", dimension)
        scan = await churn_segments(
            principal,
            dimension,
            window_days,
            confidence,
            date_from,
            date_to,
            q,
            sort,
            environment=parse_environment(environment),
        )
        if format == "csv":
            return Response(
                churn_segments_csv(scan),
                media_type="text/csv",  # Litestar adds the charset
                headers={"content-disposition": 'attachment; filename="churn-segments.csv"'},
            )
        return Response(scan.as_dict())

    @get(
        "/responses",
        summary="Answers with comments: explorer, promoters, per account/user",
        operation_class=JsonOrCsv,
        **access(*ALL_ROLES),
    )
    async def responses(
        self,
        principal: CurrentPrincipal,
        request: Request[Any, Any, Any],
        named_filters: NamedFilters,
        category: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        has_comment: FromQuery[str | None] = None,
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        theme: Annotated[int | None, QueryParameter(ge=1, le=2**31 - 1)] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000_000)] = 0,
        format: FromQuery[Literal["json", "csv"]] = "json",
        environment: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """Newest first. `category`: promoter (whom to ask for reviews and references),
        passive, detractor; `q` searches comment text; `has_comment`; segment filters
        including `account` and `user` for the per-account and per-user views, `manager`
        and `trait:NAME=VALUE` as in /reports/nps; `theme` (an id of /api/v1/themes): the
        answers in that theme; `environment` as in /reports/nps. A CSM sees their own
        accounts."""
        check_period(date_from, date_to)
        check_text("q", q)
        filters = segment_filters(request, **named_filters)
        result = await responses_page(
            principal,
            environment=parse_environment(environment),
            category=category,
            text=q,
            has_comment=has_comment_of(has_comment, None),
            filters=filters,
            date_from=date_from,
            date_to=date_to,
            limit=limit,
            offset=offset,
            theme=theme,
        )
        if format == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            for row in result.responses:
                values = (getattr(row, c) for c in COLUMNS)
                writer.writerow(["" if v is None else spreadsheet_safe(v) for v in values])
            return Response(
                out.getvalue(),
                media_type="text/csv",  # Litestar adds the charset
                headers={"content-disposition": 'attachment; filename="responses.csv"'},
            )
        return Response(result)

    @get(
        "/quadrant",
        summary="ARR x NPS per account, by the action each quadrant calls for",
        **access(*ALL_ROLES),
    )
    async def quadrant(
        self,
        principal: CurrentPrincipal,
        nps_threshold: Annotated[float, QueryParameter(ge=-100, le=100)] = 0.0,
        arr_threshold: Annotated[float | None, QueryParameter(ge=0, le=1e13)] = None,
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        environment: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """Quadrants: protect (high ARR, low NPS), advocate (high ARR, high NPS), grow (low
        ARR, high NPS), fix (low ARR, low NPS). `arr_threshold` defaults to the median ARR;
        `nps_threshold` to 0. Protect accounts come first, by ARR. A CSM sees their own.
        `environment` as in /reports/nps."""
        check_period(date_from, date_to)
        report = await quadrant_report(
            principal,
            nps_threshold,
            arr_threshold,
            date_from,
            date_to,
            environment=parse_environment(environment),
        )
        return record_dict(report)

    @get(
        "/segments",
        summary="Each segment's NPS against the rest, with FDR control",
        **access(*ALL_ROLES),
    )
    async def segments(
        self,
        principal: CurrentPrincipal,
        dimension: FromQuery[str] = "plan",
        confidence: FromQuery[float] = 0.95,
        q: FromQuery[float] = 0.05,
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        environment: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """`dimension`: plan, industry, company_size, csm, manager (account-level:
        cluster-robust comparison), role (independent Wald) or `trait:NAME` (account and user
        traits cannot be told apart: cluster-robust, each account's answers outside the
        segment one cluster). Each segment: NPS, the rest's NPS, the difference with its
        interval, p-value, Benjamini-Hochberg adjusted p and whether it is a discovery at
        `q`; `method` says which comparison. Sorted by p-value. A CSM sees their own
        accounts. `environment` as in /reports/nps."""
        check_period(date_from, date_to)
        scan = await segment_scan(
            principal,
            dimension,
            date_from,
            date_to,
            confidence,
            q,
            environment=parse_environment(environment),
        )
        return record_dict(scan)

    # --- NPS trends by segment (issue 17) ---------------------------------------------------

    @get(
        "/trends",
        summary="NPS trend per segment on one chart, with the period-over-period change",
        operation_class=JsonOrCsv,
        **access(*ALL_ROLES),
    )
    async def trends(
        self,
        principal: CurrentPrincipal,
        dimension: FromQuery[str] = "plan",
        period: FromQuery[str] = "quarter",
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        top: FromQuery[int] = 5,
        confidence: FromQuery[float] = 0.95,
        ci_method: FromQuery[str] = "score",
        format: FromQuery[Literal["json", "csv"]] = "json",
        environment: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """`dimension`: plan, role, industry, company_size, csm, manager or `trait:NAME`;
        `period`: quarter or month; `top` (1-10, default 5): the segments with the most
        answers in the range get a line each, the others are summed into one line "Other"
        (`members` names them) and every answer into "All", so the lines add up to the total.
        Each line has a point per period from the first to the last period with answers:
        answers, counts, NPS with its interval (`ci_method` as in /reports/nps) and a
        precision flag (counts only under 5 answers, low under 30). `change`: the last period
        against the one before, `diff` = last - previous with its Wald interval and
        two-sided p (independent samples, `analytics.compare.compare_nps`), `p_adjusted`
        (Benjamini-Hochberg over the segments and Other) and `significant` (adjusted p at
        most 1 - confidence; for All its own p); `note` says when a period has too few
        answers for a comparison. A CSM sees their own accounts. `environment` as in
        /reports/nps. `format=csv`: one row per line and period, the change on each line's
        last row."""
        check_period(date_from, date_to)

        report = await trend_report(
            principal,
            dimension,
            period,
            date_from,
            date_to,
            top,
            confidence,
            ci_method,
            environment=parse_environment(environment),
        )
        if format == "csv":
            return Response(
                "".join([chunk async for chunk in trend_csv(report)]),
                media_type="text/csv",  # Litestar adds the charset
                headers={"content-disposition": 'attachment; filename="trends.csv"'},
            )
        return Response(report)

    # --- filter choices (issue 17) -----------------------------------------------------------

    @get(
        "/choices",
        summary="The values a report filter can take, with their answers",
        **access(*ALL_ROLES),
    )
    async def choices(
        self,
        principal: CurrentPrincipal,
        dimension: FromQuery[str | None] = None,
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        environment: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """`dimension`: plan, role, industry, company_size, csm, manager (emails, with the
        person's name as `label`) or `trait:NAME`. The distinct values among the answers the
        caller may see (a CSM: their own accounts'), in the period when `from`/`to` are
        given, each with its number of answers, sorted by label. Values that differ only in
        case are one choice (the report filters match them alike). At most `limit` (200)
        values, the most answered; `truncated` says when there were more. A missing or
        unknown dimension is a 422 naming `dimension`. The answers are those of
        `environment` (as in /reports/nps)."""

        check_period(date_from, date_to)
        check_text("dimension", dimension)
        chosen = parse_environment(environment)
        return Response(
            await filter_choices(principal, dimension, date_from, date_to, environment=chosen)
        )

    # --- comment themes (issue 17) -----------------------------------------------------------

    @get(
        "/themes",
        summary="Per comment theme: answers, NPS, detractors, against the rest, trend, churn",
        operation_class=JsonOrCsv,
        **access(*ALL_ROLES),
    )
    async def themes(
        self,
        principal: CurrentPrincipal,
        language: FromQuery[str | None] = None,
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        confidence: FromQuery[float] = 0.95,
        q: FromQuery[float] = 0.05,
        format: FromQuery[Literal["json", "csv"]] = "json",
        environment: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """Per active theme (learned or keyword; `language` en or ja, default both), over
        the answers with a comment in the period: `score` (answers, counts, NPS with its
        score interval), `accounts`, `detractor_share` (of the commenting detractors, the
        share in this theme), `versus_rest` (the theme's NPS less that of the other
        commented answers: Wald difference, p, Benjamini-Hochberg `p_adjusted` across the
        themes, `significant` at `q`; null under 5 answers on either side), `trend` per
        quarter and `churn` (accounts that mention it with no churn notice before their
        first mention, those with a notice since, Wilson interval). `commented` and `churn`
        at the top are the same over every commented answer. A CSM sees their own
        accounts. `environment` as in /reports/nps. `format=csv`: one row per theme (without
        the trend). docs/themes.md explains each figure."""

        check_period(date_from, date_to)
        report = await theme_report(
            principal,
            environment=parse_environment(environment),
            language=language,
            date_from=date_from,
            date_to=date_to,
            confidence=confidence,
            q=q,
        )
        if format == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(CSV_COLUMNS)
            for row in csv_rows(report):
                writer.writerow(["" if v is None else spreadsheet_safe(v) for v in row])
            return Response(
                out.getvalue(),
                media_type="text/csv",  # Litestar adds the charset
                headers={"content-disposition": 'attachment; filename="themes.csv"'},
            )
        return Response(report.as_dict())

    # --- closing the loop (issue 18) ---------------------------------------------------------

    @get(
        "/loop",
        summary="Closing the loop with detractors: closure, time to close, recovered accounts",
        operation_class=JsonOrCsv,
        **access(*ALL_ROLES),
    )
    async def loop(
        self,
        principal: CurrentPrincipal,
        group: FromQuery[str] = "csm",
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        confidence: FromQuery[float] = 0.95,
        format: FromQuery[Literal["json", "csv"]] = "json",
    ) -> Response[Any]:
        """The risk CTAs that detractor answers raised in the period (`from`, `to`: when the
        CTA was raised), per `group`: csm (the owner), pool (the pool serving the account)
        or team (the owner's manager). Per group and in `total`: `cases`, `closed`,
        `closure` (closed of cases, with its Wilson interval at `confidence`),
        `median_hours_to_close` (of the closed ones), `outcomes` (closed CTAs per outcome;
        `none`: closed without one), `followed_up` (closed CTAs whose account answered
        again since), `recovered` (those whose next answer was 7 or more: passive or
        promoter), `recovery` (recovered of followed_up, Wilson interval) and
        `recovered_accounts`. CTAs the answer rules closed because the person changed their
        score are left out and counted in `withdrawn`. A CSM sees the CTAs they own or of
        their accounts. `format=csv`: one row per group, then All. docs/closing-the-loop.md
        explains each figure. Production only: CTAs are raised from production answers
        alone, so there is no `environment` here."""
        check_period(date_from, date_to)
        check_text("group", group)
        report = await loop_report(principal, group, date_from, date_to, confidence)
        if format == "csv":
            return Response(
                loop_csv(report),
                media_type="text/csv",  # Litestar adds the charset
                headers={"content-disposition": 'attachment; filename="loop.csv"'},
            )
        return Response(report)
