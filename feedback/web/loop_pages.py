"""Closing the loop (issue 18): loop-closure and recovered detractors."""

from __future__ import annotations

from feedback.web.report_views import StaffPages


class LoopPages(StaffPages):
    path = "/reports/loop"
