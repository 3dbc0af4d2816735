"""The Today API (issue 18)."""

from __future__ import annotations

from litestar import Controller


class TodayController(Controller):
    path = "/api/v1/today"
