"""Comment themes API (issue 17)."""

from __future__ import annotations

from litestar import Controller


class ThemeController(Controller):
    path = "/api/v1/themes"
