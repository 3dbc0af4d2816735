"""The Litestar application factory: the one place routes, middleware and errors are wired."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from litestar import Litestar, Response, get
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.middleware.session.client_side import CookieBackendConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from bot.app import build_bolt_app
from bot.http import slack_events
from feedback import __version__
from feedback.accounts.views import AccountController
from feedback.auth.views import AdminController
from feedback.ctas.views import CtaController
from feedback.db import close_database, open_database, ping, warn_when_autovacuum_is_off
from feedback.errors import EXCEPTION_HANDLERS
from feedback.health.views import HealthAdminPages, HealthController
from feedback.imports.views import import_rows
from feedback.lifecycle.views import LifecycleController
from feedback.mail.views import UnsubscribeController
from feedback.observability import configure_logging, observability_middleware
from feedback.pools.views import PoolController
from feedback.programs.views import ProgramController
from feedback.ratelimit import limiter_for
from feedback.reports.views import ReportController
from feedback.runtime import serve_loops, use_slack_messages
from feedback.settings import Settings, get_settings
from feedback.surveys.assets import widget_asset
from feedback.surveys.views import SurveyAdminController, WidgetController
from feedback.themes.views import ThemeController
from feedback.today.views import TodayController
from feedback.web.account_pages import AccountPages
from feedback.web.admin_views import AdminPages
from feedback.web.api_docs import docs_router, render_plugins
from feedback.web.churn_pages import ChurnSegmentPages
from feedback.web.csrf import csrf_middleware
from feedback.web.cta_pages import CtaAdminPages, CtaPages
from feedback.web.formats import register as register_formats
from feedback.web.health_pages import HealthReportPages
from feedback.web.inputs import input_guard_middleware
from feedback.web.insight_pages import InsightPages
from feedback.web.loop_pages import LoopPages
from feedback.web.mail_pages import MailPages
from feedback.web.metrics import metrics
from feedback.web.pool_pages import PoolPages
from feedback.web.program_pages import ProgramPages
from feedback.web.report_views import ReportPages
from feedback.web.security import security_headers
from feedback.web.theme_pages import ThemeAdminPages, ThemePages
from feedback.web.today_pages import TodayPages
from feedback.web.trend_pages import TrendPages
from feedback.web.user_pages import UserPages
from feedback.web.views import PageController
from feedback.web.webhook_pages import WebhookPages
from feedback.webhooks.views import WebhookController

WEB_DIR = Path(__file__).parent / "web"
log = logging.getLogger("feedback.app")


@get("/healthz", include_in_schema=True, tags=["health"], summary="Liveness and database")
async def healthz() -> Response[dict[str, Any]]:
    """No authentication. 200 when the database answers, 503 when it does not (the reason
    goes to the log only: a stranger learns nothing about the database)."""
    ok, message = await ping()
    if not ok:
        log.warning("healthz: database unreachable: %s", message)
    body = {"status": "ok" if ok else "degraded", "database": "reachable" if ok else "unreachable"}
    return Response(body, status_code=200 if ok else 503)


@get("/livez", tags=["health"], summary="Liveness only", sync_to_thread=False)
def livez() -> dict[str, str]:
    """No authentication, no database: the process answers. Also the trivial endpoint the
    benchmarks compare against."""
    return {"status": "alive"}


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if settings.secret_key_is_generated:
        logging.getLogger("feedback").warning(
            "FEEDBACK_SECRET_KEY is not set: sign-in sessions end when this process restarts"
        )

    rate_limiter = limiter_for(settings.redis_url)
    use_slack_messages()
    bolt = build_bolt_app(settings) if settings.slack.configured else None

    @asynccontextmanager
    async def database_pool(_: Litestar) -> AsyncIterator[None]:
        opened = await open_database()
        if opened:
            await warn_when_autovacuum_is_off()
        try:
            yield
        finally:
            await rate_limiter.close()
            if opened:
                await close_database()

    @asynccontextmanager
    async def background_loops(_: Litestar) -> AsyncIterator[None]:
        """The answer rule runner and the outbox deliverer, as settings say
        (feedback/runtime.py)."""
        async with serve_loops(settings):
            yield

    sessions = CookieBackendConfig(
        secret=settings.session_key,
        key="feedback_session",
        max_age=12 * 3600,
        secure=settings.secure_cookies,
        samesite="lax",
        # /schema keeps sessions: with FEEDBACK_PUBLIC_API_DOCS off, staff sign in to read it
        exclude=[
            "^/api/",
            "^/widget/",
            "^/healthz",
            "^/livez",
            "^/metrics",
            "^/slack/",
            "^/static/",
        ],
    )
    openapi = OpenAPIConfig(
        title="Feedback API",
        version=__version__,
        description=(
            "In-product NPS and feedback. Authenticate with `Authorization: Bearer <token>` "
            "(`feedback tokens create --role ROLE`). Each operation names the roles it allows."
        ),
        path="/schema",
        render_plugins=render_plugins(),
        openapi_router=docs_router(public=settings.public_api_docs),
        components=Components(
            security_schemes={"bearer": SecurityScheme(type="http", scheme="bearer")}
        ),
        security=[{"bearer": []}],
    )
    return Litestar(
        route_handlers=[
            healthz,
            livez,
            metrics,
            AccountController,
            AdminController,
            HealthController,
            HealthAdminPages,
            CtaController,
            slack_events,
            import_rows,
            LifecycleController,
            ReportController,
            SurveyAdminController,
            WidgetController,
            ThemeController,
            widget_asset,
            PageController,
            UserPages,
            AdminPages,
            CtaPages,
            CtaAdminPages,
            ReportPages,
            HealthReportPages,
            ChurnSegmentPages,
            InsightPages,
            TrendPages,
            ThemePages,
            ThemeAdminPages,
            # issue 18: the CSM's day
            TodayController,
            PoolController,
            ProgramController,
            UnsubscribeController,
            TodayPages,
            AccountPages,
            PoolPages,
            ProgramPages,
            LoopPages,
            MailPages,
            # issue 19: connect
            WebhookController,
            WebhookPages,
            create_static_files_router(path="/static", directories=[WEB_DIR / "static"]),
        ],
        lifespan=[database_pool, background_loops],
        middleware=[
            observability_middleware,
            sessions.middleware,
            # after sessions: the CSRF token is bound to the session; before the input
            # rule, so a stranger's oversized form is refused before anything reads it
            # (feedback/web/csrf.py)
            DefineMiddleware(
                csrf_middleware,
                secret=settings.csrf_secret,
                # /unsubscribe/: RFC 8058 one-click POSTs come from mail providers, unsigned
                exclude=[
                    "^/api/",
                    "^/widget/",
                    "^/healthz",
                    "^/livez",
                    "^/slack/",
                    "^/schema",
                    "^/unsubscribe/",
                ],
            ),
            input_guard_middleware,
        ],
        template_config=TemplateConfig(
            directory=WEB_DIR / "templates",
            engine=JinjaTemplateEngine,
            engine_callback=register_formats,
        ),
        openapi_config=openapi,
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        debug=False,
        before_send=[security_headers(hsts=settings.environment == "production")],
        state=State({"settings": settings, "rate_limiter": rate_limiter, "bolt": bolt}),
    )
