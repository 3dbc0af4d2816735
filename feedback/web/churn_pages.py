"""Churn by segment page (issue 17)."""

from __future__ import annotations

from litestar import Controller


class ChurnSegmentPages(Controller):
    path = "/reports/churn/segments"
    include_in_schema = False
