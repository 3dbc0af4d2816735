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
import re
import secrets
import time
from typing import Any

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


# C0, DEL, C1 and the Unicode line and paragraph separators: anything that could end a log
# line early or drive a terminal
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(match: re.Match[str]) -> str:
    character = match.group()
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """`text` with every control character written as an escape (`\\n`, `\\x00`)."""
    return _CONTROL.sub(_escaped, text) if _CONTROL.search(text) else text


def _escape_all_but_newlines(text: str) -> str:
    return "\n".join(escape_controls(line) for line in text.split("\n"))


class EscapeControlCharacters(logging.Filter):
    """One record, one line: a logged value that came from a request (a path with `%0a`, a
    user id with NUL) is written with its control characters escaped, so no request can
    forge a log line or drive the terminal that shows the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a record whose arguments do not fit: logging reports it
            return True
        if _CONTROL.search(message):
            record.msg, record.args = escape_controls(message), None
        return True


class TextFormatter(logging.Formatter):
    """The text format; a traceback's lines are indented so that only a record's first line
    starts at the margin (an exception's message may quote a request's value)."""

    def format(self, record: logging.LogRecord) -> str:
        cached, record.exc_text = record.exc_text, None  # another handler's rendering
        try:
            return super().format(record)
        finally:
            record.exc_text = cached

    def formatException(self, ei: Any) -> str:
        text = _escape_all_but_newlines(super().formatException(ei))
        return "\n".join("    " + line for line in text.split("\n"))

    def formatStack(self, stack_info: str) -> str:
        return "\n".join("    " + line for line in stack_info.split("\n"))


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
            entry["exception"] = _escape_all_but_newlines(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, fmt: str) -> None:
    """Text (default) or one JSON object per line; both carry the request id and escape
    control characters in what they log."""
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.addFilter(EscapeControlCharacters())
    if fmt == "json":
        formatter: logging.Formatter = JsonFormatter()
        formatter.converter = time.gmtime
    else:
        formatter = TextFormatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for existing in list(root.handlers):
        if getattr(existing, "_feedback", False):
            root.removeHandler(existing)
    handler._feedback = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
