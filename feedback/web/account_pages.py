"""The account page (issue 18): one account's answers, health, CTAs, programs and churn.

Every role that may see the account reads it; a CSM reads only their own accounts (another's
is the 403 page, an unknown one the 404 page). Those who may enrol (the programs' route,
`POST /programs/{id}/enroll`) get a form to put the account, or one of its people, in a
program; the CTA page shows the same form for its account (`enrol_form`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from litestar import get
from litestar.params import FromPath, FromQuery
from litestar.response import Template
from markupsafe import Markup

from feedback.accounts.overview import ANSWERS_PER_PAGE, AccountOverview, account_overview
from feedback.accounts.services import get_account, list_account_users
from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access
from feedback.ctas.actions import OUTCOME_LABELS
from feedback.ctas.rule_settings import cta_types
from feedback.health.score_settings import load_health_settings
from feedback.kernel.errors import Forbidden, InputError, NotFound
from feedback.kernel.principal import Principal, Role
from feedback.programs.services import list_programs
from feedback.web.charts import Point, Series, line_chart
from feedback.web.health_pages import band_zones, every_day
from feedback.web.program_pages import ENROL
from feedback.web.program_pages import NOTICES as PROGRAM_NOTICES
from feedback.web.report_views import StaffPages, trend_chart
from feedback.web.views import accounts_page

MAX_OFFSET = 1_000_000


@dataclass(frozen=True, slots=True)
class EnrolForm:
    """What the "Enroll in a program" form offers: the enabled programs (`(id, name)`), the
    account's people with an email address (`(external_id, label)`), the CTA it comes from
    and the page to come back to."""

    account_external_id: str
    programs: list[tuple[int, str]]
    people: list[tuple[str, str]]
    cta_id: int | None
    next_path: str


async def enrol_form(
    principal: Principal, account_external_id: str, *, cta_id: int | None = None
) -> EnrolForm | None:
    """The enrol form for an account (from one of its CTAs with `cta_id`), or None when the
    principal may not enrol it: a role the route refuses, or an account that is not theirs
    (a specialist reading their pool's CTA)."""
    if principal.role not in ENROL:
        return None
    try:
        account = await get_account(principal, account_external_id)
        users = await list_account_users(principal, account_external_id)
    except (Forbidden, NotFound):
        return None
    if account.csm_email is None and principal.role is Role.csm:
        return None  # a pool's account: the programs' rule leaves it to managers
    enabled = [p for p in await list_programs() if p.enabled]
    # the programs made for enrolling by hand first, then those a trigger also fills
    enabled.sort(key=lambda p: (p.definition.trigger_kind != "manual", p.definition.name))
    programs = [(p.id, p.definition.name) for p in enabled]
    people = [
        (u.external_id, f"{u.email} ({u.role})" if u.role else u.email) for u in users if u.email
    ]
    back = f"/ctas/{cta_id}" if cta_id is not None else f"/accounts/{account_external_id}"
    return EnrolForm(account_external_id, programs, people, cta_id, back)


class AccountPages(StaffPages):
    path = "/accounts"

    @get("/", **access(*ALL_ROLES))
    async def index(
        self, principal: CurrentPrincipal, status: FromQuery[str] = "", offset: FromQuery[int] = 0
    ) -> Template:
        """Every account the caller may see (the home page's list, for those whose home is
        Today)."""
        return await accounts_page(principal, status, offset, "/accounts/")

    @get("/{external_id:str}", **access(*ALL_ROLES))
    async def account(
        self,
        principal: CurrentPrincipal,
        external_id: FromPath[str],
        answers: FromQuery[int] = 0,
        done: FromQuery[str | None] = None,
        cta: FromQuery[int | None] = None,
    ) -> Template:
        """Everything about one account: who looks after it, how its people feel, its health,
        what was done (CTAs, programs) and whether it left; `done=enrolled` after the enrol
        form, `cta=` one of its CTAs to enrol from (the form then comes back to the CTA)."""
        if not 0 <= answers <= MAX_OFFSET or answers % ANSWERS_PER_PAGE:
            raise InputError("answers", f"a multiple of {ANSWERS_PER_PAGE} from 0")
        overview = await account_overview(principal, external_id, answers_offset=answers)
        name = overview.account.name
        return Template(
            "accounts/detail.html",
            context={
                "principal": principal,
                "o": overview,
                "a": overview.account,
                "types": await cta_types(),
                "outcome_labels": {str(k): v for k, v in OUTCOME_LABELS.items()},
                "nps_chart": trend_chart(
                    overview.nps_by_quarter, f"NPS by quarter: {name}", "account-nps"
                ),
                "health_chart": await _health_chart(overview),
                "answers_offset": answers,
                "page_size": ANSWERS_PER_PAGE,
                "enrol": await enrol_form(
                    principal,
                    external_id,
                    cta_id=cta if cta in {c.id for c in overview.ctas} else None,
                ),
                "notice": PROGRAM_NOTICES["enrolled"] if done == "enrolled" else None,
            },
        )


async def _health_chart(overview: AccountOverview) -> Markup | None:
    days = overview.health.days
    if not days or overview.health.day is None:
        return None
    first = _day(days[0]["day"])
    points = {_day(d["day"]).isoformat(): Point(d["score"], note=d["band"]) for d in days}
    return line_chart(
        every_day(first, max(_day(days[-1]["day"]), first + timedelta(days=1))),
        [Series(overview.account.name, points)],
        title=f"Health score per day: {overview.account.name}",
        desc="The account's score (0 to 100) per day, each point naming its band; the shading "
        "marks the band limits. A day without a score breaks the line.",
        chart_id="account-health",
        domain=(0.0, 100.0),
        zones=band_zones(await load_health_settings()),
    )


def _day(value: object) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value  # type: ignore[return-value]
