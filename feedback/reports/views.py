"""Report API: /api/v1/reports/..., JSON by default, CSV with format=csv."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, Response, get
from litestar.di import Provide
from litestar.params import FromQuery, QueryParameter

from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.errors import InputError
from feedback.reports.churn import churn_report
from feedback.reports.quadrant import quadrant_report
from feedback.reports.responses import COLUMNS, list_responses
from feedback.reports.segments import segment_scan
from feedback.reports.services import (
    FILTERS,
    NPSQuery,
    nps_report,
    report_csv,
    spreadsheet_safe,
)


def check_period(date_from: datetime | None, date_to: datetime | None) -> None:
    for name, value in (("from", date_from), ("to", date_to)):
        if value is not None and value.tzinfo is None:
            raise InputError(name, "needs a time zone, e.g. 2026-01-01T00:00:00Z")
    if date_from is not None and date_to is not None and date_to <= date_from:
        raise InputError("to", "must be after from")


class ReportController(Controller):
    path = "/api/v1/reports"
    tags = ["reports"]
    dependencies = {"principal": Provide(provide_principal)}

    @get("/nps", summary="NPS with confidence intervals, by segment", **access(*ALL_ROLES))
    async def nps(
        self,
        principal: CurrentPrincipal,
        group_by: FromQuery[str] = "none",
        period: FromQuery[str | None] = None,
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        ci_method: FromQuery[str] = "score",
        confidence: FromQuery[float] = 0.95,
        format: FromQuery[Literal["json", "csv"]] = "json",
        plan: FromQuery[str | None] = None,
        role: FromQuery[str | None] = None,
        industry: FromQuery[str | None] = None,
        company_size: FromQuery[str | None] = None,
        csm: FromQuery[str | None] = None,
        account: FromQuery[str | None] = None,
    ) -> Response[Any]:
        """`group_by`: none, plan, role, industry, company_size, csm, account, quarter, month;
        `period` (quarter or month) splits every group again into a trend.
        `ci_method`: score (Tango; default), adjusted-wald, wald. Every group carries its
        counts, NPS, interval and a precision flag (counts only under 5 responses, low under
        30). A CSM sees their own accounts only. Segment attributes are those at answer
        time."""
        check_period(date_from, date_to)
        values = {
            "plan": plan,
            "role": role,
            "industry": industry,
            "company_size": company_size,
            "csm": csm,
            "account": account,
        }
        filters = tuple((k, v) for k, v in values.items() if v and k in FILTERS)
        query = NPSQuery(
            group_by=group_by,
            date_from=date_from,
            date_to=date_to,
            ci_method=ci_method,
            confidence=confidence,
            filters=filters,
            period=period,
        )
        report = await nps_report(principal, query)
        if format == "csv":
            return Response(
                report_csv(report),
                media_type="text/csv; charset=utf-8",
                headers={"content-disposition": 'attachment; filename="nps.csv"'},
            )
        return Response(report)

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
    ) -> dict[str, Any]:
        """At account level: churn rate (Wilson interval) for detractor, passive, promoter and
        non-respondent accounts within `window_days` after their first answer; detractor vs
        promoter relative risk and odds ratio with intervals and Fisher's exact p;
        point-biserial correlation of account NPS with churn; Kaplan-Meier curves to the
        termination notice by category with a log-rank p. A CSM sees their own accounts."""
        check_period(date_from, date_to)
        return await churn_report(principal, window_days, confidence, date_from, date_to)

    @get(
        "/responses",
        summary="Answers with comments: explorer, promoters, per account/user",
        **access(*ALL_ROLES),
    )
    async def responses(
        self,
        principal: CurrentPrincipal,
        category: FromQuery[str | None] = None,
        q: FromQuery[str | None] = None,
        has_comment: FromQuery[bool | None] = None,
        date_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        date_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        plan: FromQuery[str | None] = None,
        role: FromQuery[str | None] = None,
        industry: FromQuery[str | None] = None,
        company_size: FromQuery[str | None] = None,
        csm: FromQuery[str | None] = None,
        account: FromQuery[str | None] = None,
        user: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000_000)] = 0,
        format: FromQuery[Literal["json", "csv"]] = "json",
    ) -> Response[Any]:
        """Newest first. `category`: promoter (whom to ask for reviews and references),
        passive, detractor; `q` searches comment text; `has_comment`; segment filters
        including `account` and `user` for the per-account and per-user views. A CSM sees
        their own accounts."""
        check_period(date_from, date_to)
        values = {
            "plan": plan,
            "role": role,
            "industry": industry,
            "company_size": company_size,
            "csm": csm,
            "account": account,
            "user": user,
        }
        result = await list_responses(
            principal,
            category=category,
            text=q,
            has_comment=has_comment,
            filters={k: v for k, v in values.items() if v},
            date_from=date_from,
            date_to=date_to,
            limit=limit,
            offset=offset,
        )
        if format == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(COLUMNS)
            for row in result["responses"]:
                writer.writerow(
                    ["" if row[c] is None else spreadsheet_safe(row[c]) for c in COLUMNS]
                )
            return Response(
                out.getvalue(),
                media_type="text/csv; charset=utf-8",
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
    ) -> dict[str, Any]:
        """Quadrants: protect (high ARR, low NPS), advocate (high ARR, high NPS), grow (low
        ARR, high NPS), fix (low ARR, low NPS). `arr_threshold` defaults to the median ARR;
        `nps_threshold` to 0. Protect accounts come first, by ARR. A CSM sees their own."""
        check_period(date_from, date_to)
        return await quadrant_report(principal, nps_threshold, arr_threshold, date_from, date_to)

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
    ) -> dict[str, Any]:
        """`dimension`: plan, industry, company_size, csm (account-level: cluster-robust
        comparison) or role (independent Wald). Each segment: NPS, the rest's NPS, the
        difference with its interval, p-value, Benjamini-Hochberg adjusted p and whether it
        is a discovery at `q`. Sorted by p-value. A CSM sees their own accounts."""
        check_period(date_from, date_to)
        return await segment_scan(principal, dimension, date_from, date_to, confidence, q)
