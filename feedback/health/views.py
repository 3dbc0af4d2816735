"""Health API: usage metrics in, health scores and their settings out, retention and the
churn model's validation."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Request, get, post, put
from litestar.datastructures import State
from litestar.di import Provide
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from analytics.health import BASE_COMPONENTS
from feedback.auth.guards import ALL_ROLES, CurrentPrincipal, access, provide_principal
from feedback.auth.services import audit
from feedback.health import services, usage_metrics
from feedback.health.churn_model import health_model
from feedback.health.retention import retention_report
from feedback.health.score_settings import load_health_settings, update_health_settings
from feedback.kernel.errors import InputError
from feedback.kernel.principal import Role

MAX_METRICS_BODY = 4 * 1024 * 1024
FormRequest = Request[Any, Any, State]


def day_param(value: str | None, name: str) -> date | None:
    return None if value is None else usage_metrics.parse_day(value, name)


class HealthController(Controller):
    path = "/api/v1"
    tags = ["health"]
    dependencies = {"principal": Provide(provide_principal)}

    @post(
        "/metrics",
        summary="Push usage metrics per account per day (idempotent)",
        status_code=200,
        request_max_body_size=MAX_METRICS_BODY,
        **access(Role.admin),
    )
    async def push_metrics(self, request: Request[Any, Any, Any]) -> dict[str, int]:
        """Body: a list (or `{"metrics": [...]}`) of `{"account_id", "metric", "day"
        (YYYY-MM-DD, UTC), "value"}`, up to 10,000 per request. The same account, metric
        and day again replaces the value. All or nothing: a bad item answers 422 naming it
        as `metrics[i].field`."""
        try:
            payload = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError("body", "invalid JSON") from None
        return await usage_metrics.push_metrics(payload)

    @get("/metrics", summary="Usage metric values", **access(*ALL_ROLES))
    async def list_metrics(
        self,
        principal: CurrentPrincipal,
        account: FromQuery[str | None] = None,
        metric: FromQuery[str | None] = None,
        day_from: Annotated[str | None, QueryParameter(name="from")] = None,
        day_to: Annotated[str | None, QueryParameter(name="to")] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=10000)] = 1000,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> list[dict[str, Any]]:
        """Filter by `account` (external id), `metric`, `from`/`to` days (inclusive). A CSM
        sees their own accounts."""
        return await usage_metrics.list_metrics(
            principal,
            account=account,
            metric=metric,
            day_from=day_param(day_from, "from"),
            day_to=day_param(day_to, "to"),
            limit=limit,
            offset=offset,
        )

    @get(
        "/health", summary="Health scores on a day, with 7- and 30-day trends", **access(*ALL_ROLES)
    )
    async def health(
        self,
        principal: CurrentPrincipal,
        day: FromQuery[str | None] = None,
        csm: FromQuery[str | None] = None,
        manager: FromQuery[str | None] = None,
        band: FromQuery[str | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=10000)] = 100,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        environment: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """`day` defaults to the latest computed day. Filter by `csm` or `manager` (emails;
        a manager's team) and `band` (green, yellow, red, unknown). Lowest scores first; the
        summary counts every account before the band filter. A CSM sees their own.
        `environment`: health is computed from production answers only; another
        environment answers 400."""
        services.production_only(environment)
        if band is not None and band not in ("green", "yellow", "red", "unknown"):
            raise InputError("band", "must be green, yellow, red or unknown")
        return await services.health_on_day(
            principal,
            day=day_param(day, "day"),
            csm=csm,
            manager=manager,
            band=band,
            limit=limit,
            offset=offset,
        )

    @get(
        "/health/trend",
        summary="Daily mean health and bands for a CSM, a team or the book",
        **access(*ALL_ROLES),
    )
    async def health_trend(
        self,
        principal: CurrentPrincipal,
        csm: FromQuery[str | None] = None,
        manager: FromQuery[str | None] = None,
        day_from: Annotated[str | None, QueryParameter(name="from")] = None,
        day_to: Annotated[str | None, QueryParameter(name="to")] = None,
        environment: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """By the CSM each account had on that day. A CSM sees their own accounts.
        Production answers only (`environment`: another answers 400)."""
        services.production_only(environment)
        return await services.health_trend(
            principal,
            csm=csm,
            manager=manager,
            day_from=day_param(day_from, "from"),
            day_to=day_param(day_to, "to"),
        )

    @get(
        "/health/accounts/{external_id:str}",
        summary="One account's daily health history",
        **access(*ALL_ROLES),
    )
    async def account_history(
        self,
        principal: CurrentPrincipal,
        external_id: FromPath[str],
        day_from: Annotated[str | None, QueryParameter(name="from")] = None,
        day_to: Annotated[str | None, QueryParameter(name="to")] = None,
        environment: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """Production answers only (`environment`: another answers 400)."""
        services.production_only(environment)
        return await services.account_history(
            principal, external_id, day_param(day_from, "from"), day_param(day_to, "to")
        )

    @get(
        "/reports/health-model",
        summary="Churn model: coefficients with intervals, out-of-time AUC and calibration",
        **access(*ALL_ROLES),
    )
    async def health_model(
        self,
        principal: CurrentPrincipal,
        horizon_days: FromQuery[int] = 365,
        feature_days: FromQuery[int] = 30,
        train_share: FromQuery[float] = 0.7,
        confidence: FromQuery[float] = 0.95,
        environment: FromQuery[str | None] = None,
    ) -> dict[str, Any]:
        """Logistic regression of churn within `horizon_days` of the prediction point (the
        first answer + `feature_days`) on NPS, detractor share, coverage, trend, days to
        renewal and usage metrics. Trained on the earliest `train_share` of accounts by
        prediction time, validated on the later ones: AUC, calibration deciles, Brier.
        `suggested_weights` are what "adopt the model's weights" would store. A CSM's model
        uses their own accounts. Production answers only (`environment`: another answers
        400)."""
        services.production_only(environment)
        return await health_model(
            principal,
            horizon_days=horizon_days,
            feature_days=feature_days,
            train_share=train_share,
            confidence=confidence,
        )

    @get(
        "/reports/retention",
        summary="Logo retention, gross and net revenue retention per month or quarter",
        **access(*ALL_ROLES),
    )
    async def retention(
        self,
        principal: CurrentPrincipal,
        period: FromQuery[str] = "quarter",
        day_from: Annotated[str | None, QueryParameter(name="from")] = None,
        day_to: Annotated[str | None, QueryParameter(name="to")] = None,
    ) -> dict[str, Any]:
        """Per period, for the accounts that were customers when it began: logo retention,
        GRR (churn and contraction), NRR (with expansion), in cents. `from`/`to` are days
        (default: the last 12 months or 8 quarters, the current one marked partial). A CSM
        sees their own accounts."""
        return await retention_report(
            principal, period, day_param(day_from, "from"), day_param(day_to, "to")
        )

    @get("/settings/health", summary="Health-score weights and bands", **access(*ALL_ROLES))
    async def get_settings(self) -> dict[str, Any]:
        return (await load_health_settings()).as_dict()

    @put("/settings/health", summary="Change health-score weights and bands", **access(Role.admin))
    async def put_settings(self, request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Partial updates: `weights` (component: weight >= 0; nps, detractor_share,
        coverage, trend, metric.<name>), `metric_weight` (for metrics without their own),
        `green_min`, `red_below` (0-100). Applies from the next snapshot."""
        try:
            payload = json.loads(await request.body() or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise InputError("body", "invalid JSON") from None
        return (await update_health_settings(payload)).as_dict()


class HealthAdminPages(Controller):
    """/admin/health: weights and bands, and the model's weights to adopt."""

    path = "/admin/health"
    include_in_schema = False
    dependencies = {"principal": Provide(provide_principal)}
    guards = access(Role.admin)["guards"]

    @get("/")
    async def page(
        self,
        principal: CurrentPrincipal,
        fit: FromQuery[bool] = False,
        horizon_days: FromQuery[int] = 365,
        feature_days: FromQuery[int] = 30,
        saved: FromQuery[str | None] = None,
    ) -> Template:
        model = None
        error = None
        if fit:
            try:
                model = await health_model(
                    principal, horizon_days=horizon_days, feature_days=feature_days
                )
            except InputError as exc:
                error = exc
        return await self._page(principal, model=model, error=error, saved=saved)

    async def _page(
        self,
        principal: Any,
        *,
        model: dict[str, Any] | None = None,
        error: InputError | None = None,
        saved: str | None = None,
        status_code: int = 200,
    ) -> Template:
        settings = await load_health_settings()
        names = list(dict.fromkeys([*BASE_COMPONENTS, *settings.weights]))
        return Template(
            "admin/health.html",
            status_code=status_code,
            context={
                "principal": principal,
                "settings": settings,
                "names": names,
                "model": model,
                "error": error,
                "saved": saved,
            },
        )

    @post("/")
    async def save(self, principal: CurrentPrincipal, request: FormRequest) -> Redirect | Template:
        form = await request.form()
        payload: dict[str, Any] = {"weights": {}}
        for key, value in form.items():
            if key.startswith("weight."):
                payload["weights"][key.removeprefix("weight.")] = value.strip() or "0"
            elif key in ("metric_weight", "green_min", "red_below"):
                payload[key] = value.strip()
        new = (form.get("new_metric") or "").strip()
        if new:
            payload["weights"][f"metric.{new}"] = (form.get("new_metric_weight") or "0").strip()
        try:
            await update_health_settings(payload)
        except InputError as exc:
            return await self._page(principal, error=exc, status_code=422)
        await audit(principal.actor, "web", "health_settings.update", "health_score", payload)
        return Redirect(path="/admin/health", query_params={"saved": "settings"}, status_code=303)

    @post("/adopt-model")
    async def adopt(self, principal: CurrentPrincipal, request: FormRequest) -> Redirect | Template:
        """The weights the model suggested, as shown on the page, become the score weights."""
        form = await request.form()
        weights = {k.removeprefix("weight."): v for k, v in form.items() if k.startswith("weight.")}
        try:
            if not weights:
                raise InputError("weights", "fit the model first")
            await update_health_settings({"weights": weights})
        except InputError as exc:
            return await self._page(principal, error=exc, status_code=422)
        await audit(principal.actor, "web", "health_settings.adopt_model", "health_score", weights)
        return Redirect(path="/admin/health", query_params={"saved": "model"}, status_code=303)
