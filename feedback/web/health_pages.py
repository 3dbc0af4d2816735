"""Health report pages: the book's, a team's or a CSM's average health per day with the
share of accounts in each band, the CSMs of a team side by side, the accounts that moved
into red or dropped most in a week, and one account's history.

Same services and scoping as /api/v1/health: a CSM sees their own accounts only (the
trend by the CSM each snapshot was taken for, today's lists by the account's CSM now), and
another CSM's account answers 403. Everything is relative to the latest snapshot day.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from litestar import get
from litestar.params import FromPath
from litestar.response import Template
from markupsafe import Markup

from analytics.health import BANDS
from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access
from feedback.health.score_settings import HealthSettings, load_health_settings
from feedback.health.services import (
    account_history,
    health_by_csm,
    health_movers,
    health_trend,
    latest_day,
    production_only,
)
from feedback.kernel.errors import DomainError, InputError
from feedback.kernel.principal import Principal, Role
from feedback.reports.teams import Member, csm_directory, managers
from feedback.web.charts import (
    Bar,
    Layer,
    Point,
    Series,
    Zone,
    bar_chart,
    line_chart,
    stacked_area_chart,
)
from feedback.web.report_views import (
    MAX_TEXT,
    Form,
    PageRequest,
    StaffPages,
    context,
    failed,
    read_form,
    render,
)

WINDOWS = ("30", "90", "180")
DEFAULT_WINDOW = "90"
MOVERS = 20
# bottom to top in the stacked chart: the share in red reads straight off the axis
STACK_ORDER = ("red", "yellow", "green", "unknown")
BAND_LABELS = {"green": "Green", "yellow": "Yellow", "red": "Red", "unknown": "No score"}


def band_zones(settings: HealthSettings) -> list[Zone]:
    return [
        Zone(settings.green_min, 100.0, "green", "zone-green"),
        Zone(settings.red_below, settings.green_min, "yellow", "zone-yellow"),
        Zone(0.0, settings.red_below, "red", "zone-red"),
    ]


def every_day(first: date, last: date) -> list[str]:
    """Each day from first to last: a day without snapshots breaks the lines."""
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def trend_charts(
    days: list[dict[str, Any]], last: date, settings: HealthSettings, whose: str
) -> tuple[Markup, Markup]:
    periods = every_day(days[0]["day"], last)
    points = {
        d["day"].isoformat(): Point(d["mean_score"], note=f"{d['accounts']} accounts") for d in days
    }
    line = line_chart(
        periods,
        [Series("Average health", points)],
        title=f"Average health score per day, {whose}",
        desc="The mean score (0 to 100) of the accounts with a score, one point per day; "
        "the shading marks today's band limits. A day without snapshots breaks the line.",
        chart_id="health-trend",
        domain=(0.0, 100.0),
        zones=band_zones(settings),
    )
    layers = []
    for band in STACK_ORDER:
        values: dict[str, float] = {}
        notes: dict[str, str] = {}
        for d in days:
            key = d["day"].isoformat()
            values[key] = 100.0 * d["bands"][band] / d["accounts"] if d["accounts"] else 0.0
            notes[key] = str(d["bands"][band])
        layers.append(Layer(BAND_LABELS[band], values, notes, f"band-{band}"))
    stack = stacked_area_chart(
        periods,
        layers,
        title=f"Share of accounts in each band per day, {whose}",
        desc="Per day, the share of accounts in red, yellow and green and without a score, "
        "stacked to 100 percent from red at the bottom; each day's tooltip gives the counts.",
        chart_id="health-bands",
    )
    return line, stack


def csm_bars(rows: list[dict[str, Any]]) -> Markup:
    return bar_chart(
        [
            Bar(
                r["csm_name"] or "(no CSM)",
                r["mean_score"],
                note=f"{r['accounts']} accounts, 7 d {_signed(r['change_7d'])}",
            )
            for r in rows
        ],
        title="Average health per CSM today",
        desc="One bar per CSM from 0 to the mean score (0 to 100) of their accounts on the "
        "latest day, with the change against 7 days before.",
        chart_id="health-csm-bars",
        domain=(0.0, 100.0),
        empty_text="no scores",
    )


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _raw(request: PageRequest) -> dict[str, str]:
    return {k: v[:MAX_TEXT] for k, v in request.query_params.items() if isinstance(v, str)}


def _signed(value: float | None) -> str:
    """+1.5, -0.3, 0.0 (no sign on what rounds to nothing), - for no value."""
    if value is None:
        return "-"
    text = f"{value:+.1f}"
    return "0.0" if text in ("+0.0", "-0.0") else text


def _down(value: float | None) -> bool:
    return value is not None and _signed(value).startswith("-")


def health_page(
    name: str,
    principal: Principal,
    form: Form,
    window: int,
    last: date | None,
    **values: Any,
) -> Template:
    """A health page with what every one shows: the window and its choices, the latest
    snapshot day, and signed numbers."""
    return render(
        name, principal, form, window=window, windows=WINDOWS, last=last, signed=_signed, **values
    )


def _whose(principal: Principal, lead: Member | None, chosen: Member | None) -> str:
    if principal.role is Role.csm:
        return "your accounts"
    if chosen is not None:
        return f"accounts of {chosen.name}"
    if lead is not None:
        return f"team of {lead.name}"
    return "every account"


def refused(name: str, principal: Principal, request: PageRequest, error: DomainError) -> Template:
    """The page with the refusal (400): health asked of an environment other than
    production."""
    return Template(
        name, status_code=400, context=context(principal, form=Form(_raw(request)), error=error)
    )


class HealthReportPages(StaffPages):
    path = "/reports/health"

    @get("/", **access(*ALL_ROLES))
    async def trend(self, principal: CurrentPrincipal, request: PageRequest) -> Template:
        """The health trend: a CSM's own book; other roles the whole book, a manager's
        team (their direct reports) or one CSM."""
        name = "reports/health.html"
        try:
            production_only(request.query_params.get("environment"))
        except InputError as exc:
            return failed(name, principal, _raw(request), exc)
        except DomainError as exc:
            return refused(name, principal, request, exc)
        try:
            form = read_form(request, filter_names=())
            window = int(form.choice("days", WINDOWS, DEFAULT_WINDOW))
            directory: dict[str, Member] = {}
            leads: list[Member] = []
            lead = chosen = None
            if principal.role is not Role.csm:
                directory = await csm_directory()
                leads = managers(directory)
                lead_email = form.get("manager")
                if "manager" not in form.raw and principal.role is Role.manager:
                    # a manager who is also in the CSM list sees their own team first
                    lead_email = (
                        principal.actor if any(m.email == principal.actor for m in leads) else ""
                    )
                if lead_email:
                    lead = next((m for m in leads if m.email == lead_email), None)
                    if lead is None:
                        raise InputError("manager", "not a manager of any CSM")
                csm_email = form.get("csm")
                if csm_email:
                    chosen = directory.get(csm_email)
                    if chosen is None:
                        raise InputError("csm", "no CSM with this email")
            scope: dict[str, Any] = {
                "csm": chosen.email if chosen else None,
                "manager": lead.email if lead else None,
            }
            last = await latest_day()
            values: dict[str, Any] = {}
            if last is not None:
                first = last - timedelta(days=window - 1)
                trend = await health_trend(principal, day_from=first, day_to=last, **scope)
                values["days"] = trend["days"]
                values["movers"] = await health_movers(principal, day=last, limit=MOVERS, **scope)
                if principal.role is not Role.csm and chosen is None:
                    values["by_csm"] = await health_by_csm(principal, day=last, **scope)
        except InputError as exc:
            return failed(name, principal, _raw(request), exc)
        whose = _whose(principal, lead, chosen)
        if last is not None and values.get("days"):
            settings = await load_health_settings()
            values["line"], values["stack"] = trend_charts(values["days"], last, settings, whose)
        if values.get("by_csm"):
            values["csm_bars"] = csm_bars(values["by_csm"])
        if last is not None:
            week_before = last - timedelta(days=7)
            values["week_before"] = week_before
            # the "vs 30 days ago" column needs a snapshot that day: none in a younger book
            values["month_before"] = last - timedelta(days=30)
            values["compared"] = any(d["day"] == week_before for d in values["days"])
        return health_page(
            name,
            principal,
            form,
            window,
            last,
            leads=leads,
            lead=lead,
            chosen=chosen,
            csms=sorted(directory.values(), key=lambda m: m.name),
            whose=whose,
            bands=BANDS,
            band_labels=BAND_LABELS,
            down=_down,
            **values,
        )

    @get("/accounts/{external_id:str}", **access(*ALL_ROLES))
    async def account(
        self, principal: CurrentPrincipal, request: PageRequest, external_id: FromPath[str]
    ) -> Template:
        """One account's score and band per day (403 for another CSM's account)."""
        name = "reports/health_account.html"
        try:
            production_only(request.query_params.get("environment"))
            form = read_form(request, filter_names=())
            window = int(form.choice("days", WINDOWS, DEFAULT_WINDOW))
        except InputError as exc:
            return failed(name, principal, _raw(request), exc)
        except DomainError as exc:
            return refused(name, principal, request, exc)
        last = await latest_day()
        first = None if last is None else last - timedelta(days=window - 1)
        # 404 for an unknown account, 403 for another CSM's, before anything is shown
        history = await account_history(principal, external_id, first, last)
        days = history["days"]
        chart = None
        if days and last is not None:
            settings = await load_health_settings()
            points = {_day(d["day"]).isoformat(): Point(d["score"], note=d["band"]) for d in days}
            periods = every_day(_day(days[0]["day"]), last)
            chart = line_chart(
                periods,
                [Series(history["name"], points)],
                title=f"Health score per day: {history['name']}",
                desc="The account's score (0 to 100) per day, each point naming its band; the "
                "shading marks today's band limits. A day without a score breaks the line.",
                chart_id="health-account",
                domain=(0.0, 100.0),
                zones=band_zones(settings),
            )
        return health_page(
            name,
            principal,
            form,
            window,
            last,
            history=history,
            days=list(reversed(days)),
            chart=chart,
        )
