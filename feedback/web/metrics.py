"""`GET /metrics`: the Prometheus text format, behind FEEDBACK_METRICS_TOKEN.

The outbox and CTA-rules gauges are read from the database at scrape time, so every process
reports the same, shared figures; the counters and histograms are the process's own
(`feedback.observability`).
"""

from __future__ import annotations

import secrets
from typing import Any

from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily
from prometheus_client.registry import Collector

from feedback.ctas.rules import answers_awaiting_rules
from feedback.errors import error_body
from feedback.kernel.clock import utcnow
from feedback.outbox.admin import outbox_backlog, outbox_summary


class OutboxCollector(Collector):
    """Outbox depth by status and the age of the oldest waiting message, from the database."""

    def __init__(self) -> None:
        self.snapshot: dict[str, Any] = {}

    def collect(self) -> Any:
        depth = GaugeMetricFamily(
            "feedback_outbox_messages", "Outbox messages by status", labels=["status"]
        )
        for status, info in sorted(self.snapshot.get("by_status", {}).items()):
            depth.add_metric([status], info["count"])
        yield depth
        yield GaugeMetricFamily(
            "feedback_outbox_oldest_pending_seconds",
            "Age of the oldest message waiting to be sent",
            value=self.snapshot.get("oldest_pending_seconds", 0.0),
        )
        yield GaugeMetricFamily(
            "feedback_outbox_dead_messages",
            "Messages that failed for good (shown at /admin/outbox)",
            value=self.snapshot.get("by_status", {}).get("dead", {}).get("count", 0),
        )
        yield GaugeMetricFamily(
            "feedback_answers_awaiting_rules",
            "Answers stored but not yet seen by the CTA rules (normally 0 within a second)",
            value=self.snapshot.get("answers_awaiting", 0),
        )
        yield GaugeMetricFamily(
            "feedback_answers_awaiting_rules_oldest_seconds",
            "How long the oldest answer has waited for the CTA rules",
            value=self.snapshot.get("answers_oldest_seconds", 0.0),
        )


OUTBOX = OutboxCollector()
REGISTRY.register(OUTBOX)


async def refresh_outbox_snapshot() -> None:
    await outbox_backlog()  # refreshes the backlog gauges
    summary = await outbox_summary()
    pending = summary.get("pending", {}).get("oldest")
    now = utcnow()
    awaiting, oldest_answer = await answers_awaiting_rules()
    OUTBOX.snapshot = {
        "by_status": summary,
        "oldest_pending_seconds": (now - pending).total_seconds() if pending else 0.0,
        "answers_awaiting": awaiting,
        "answers_oldest_seconds": (now - oldest_answer).total_seconds() if oldest_answer else 0.0,
    }


@get("/metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[Any]:
    """Prometheus text format. Needs `Authorization: Bearer <FEEDBACK_METRICS_TOKEN>`; without
    that setting the endpoint is off (404)."""
    expected = request.app.state["settings"].metrics_token
    if not expected:
        return Response(
            error_body(
                "metrics are off",
                [{"field": "FEEDBACK_METRICS_TOKEN", "message": "set it to enable /metrics"}],
            ),
            status_code=404,
        )
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not secrets.compare_digest(given.encode(), expected.encode()):
        return Response(
            error_body(
                "a valid metrics token is required",
                [{"field": "authorization", "message": "Bearer token"}],
            ),
            status_code=401,
        )
    await refresh_outbox_snapshot()
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)
