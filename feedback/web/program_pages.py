"""Programs that email customers (issue 18): the admin pages."""

from __future__ import annotations

from feedback.web.report_views import StaffPages


class ProgramPages(StaffPages):
    path = "/programs"
