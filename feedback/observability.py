"""The service's own metrics (Prometheus counters and histograms the domains update), request
ids and JSON logs. `/metrics` itself is served by `feedback.web.metrics`.

Counters and histograms live in each process (prometheus_client); with several service
processes scrape each one, or set PROMETHEUS_MULTIPROC_DIR as prometheus_client documents.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import secrets
import time

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

HTTP_REQUESTS = Counter(
    "feedback_http_requests", "HTTP requests by route and status", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "feedback_http_request_seconds",
    "HTTP request duration by route",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WIDGET_DECISIONS = Counter(
    "feedback_widget_decisions", "Eligibility answers by outcome", ["outcome"]
)
RESPONSES_RECEIVED = Counter(
    "feedback_responses_received", "Answers stored (new, not retries)", ["source"]
)
ANSWER_BATCH_SIZE = Histogram(
    "feedback_answer_batch_size",
    "Widget answers written by one statement (group commit, PostgreSQL)",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
NEW_USER_BATCH_SIZE = Histogram(
    "feedback_new_user_batch_size",
    "New users' eligibility checks written by one statement (group commit, PostgreSQL)",
    buckets=(1, 2, 4, 8),
)
# several serve processes share one port: a scrape reaches one of them, and this says which
PROCESS_ID = Gauge("feedback_process_id", "Operating-system id of the process that answered")
PROCESS_ID.set_function(os.getpid)
SLACK_SENDS = Counter("feedback_slack_sends", "Outbox deliveries by result", ["result"])
JOB_SECONDS = Histogram(
    "feedback_job_seconds",
    "Worker job duration",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300),
)


def observability_middleware(app: ASGIApp) -> ASGIApp:
    """A request id (the caller's X-Request-ID if sane, else a new one) in the logs and the
    response headers; request counts and durations by route template."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            incoming
            if 8 <= len(incoming) <= 64 and incoming.isprintable()
            else (secrets.token_hex(8))
        )
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableScopeHeaders.from_message(message)["x-request-id"] = request_id
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            route = scope.get("path_template") or "unmatched"
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)
            REQUEST_ID.reset(token)

    return middleware


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    """Text (default) or one JSON object per line; both carry the request id."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = logging.Formatter(
            "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
        )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_feedback", False):
            root.removeHandler(existing)
    handler._feedback = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
