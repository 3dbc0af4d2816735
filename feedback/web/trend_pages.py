"""NPS trends by segment page (issue 17)."""

from __future__ import annotations

from litestar import Controller


class TrendPages(Controller):
    path = "/reports/trends"
    include_in_schema = False
