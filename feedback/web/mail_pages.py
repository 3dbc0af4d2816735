"""Mail to customers (issue 18): the mail outbox page for admins."""

from __future__ import annotations

from feedback.web.report_views import StaffPages


class MailPages(StaffPages):
    path = "/"
