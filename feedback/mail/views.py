"""One-click unsubscribe (RFC 8058) and the mail API (issue 18)."""

from __future__ import annotations

from litestar import Controller


class UnsubscribeController(Controller):
    path = "/"
