"""The account page (issue 18): one account's answers, health, CTAs, programs and churn."""

from __future__ import annotations

from feedback.web.report_views import StaffPages


class AccountPages(StaffPages):
    path = "/accounts"
