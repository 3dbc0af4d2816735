"""Comment theme report pages (issue 17)."""

from __future__ import annotations

from litestar import Controller


class ThemePages(Controller):
    path = "/reports/themes"
    include_in_schema = False


class ThemeAdminPages(Controller):
    path = "/admin/themes"
    include_in_schema = False
