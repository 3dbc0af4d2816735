"""Pools of specialists (issue 18): the admin pages and the pool report."""

from __future__ import annotations

from feedback.web.report_views import StaffPages


class PoolPages(StaffPages):
    path = "/pools"
