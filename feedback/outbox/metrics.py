"""The outbox's backlog as Prometheus gauges: what waits to be sent, the oldest waiting
message's age, and how many are retrying because Slack is down, slow or busy. Set from the
database (feedback.outbox.admin.outbox_backlog) whenever /metrics is scraped or an admin
opens the outbox page, so every process reports the shared figures."""

from __future__ import annotations

from prometheus_client import Gauge

from feedback.outbox.messages import Backlog

WAITING = Gauge(
    "feedback_outbox_waiting_messages", "Outbox messages waiting to be sent (pending or sending)"
)
OLDEST_WAITING = Gauge(
    "feedback_outbox_oldest_waiting_seconds", "Age of the oldest outbox message waiting to be sent"
)
RETRYING = Gauge(
    "feedback_outbox_retrying_messages",
    "Outbox messages whose sends failed and are retried (Slack down, slow or rate limiting); "
    "dead after FEEDBACK_SLACK_RETRY_HOURS",
)


def record_backlog(backlog: Backlog) -> None:
    WAITING.set(backlog.waiting)
    OLDEST_WAITING.set(backlog.oldest_seconds)
    RETRYING.set(backlog.retrying)
