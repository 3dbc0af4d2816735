"""The pools API (issue 18)."""

from __future__ import annotations

from litestar import Controller


class PoolController(Controller):
    path = "/api/v1/pools"
