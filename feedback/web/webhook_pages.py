"""The webhooks admin page: endpoints, their delivery logs, replay."""

from __future__ import annotations

from feedback.web.report_views import StaffPages


class WebhookPages(StaffPages):
    path = "/"
