"""The CSM's Today page (issue 18): what to do today, for a CSM or a manager's team."""

from __future__ import annotations

from feedback.web.report_views import StaffPages


class TodayPages(StaffPages):
    path = "/today"
