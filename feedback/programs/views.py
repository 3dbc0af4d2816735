"""The programs API (issue 18)."""

from __future__ import annotations

from litestar import Controller


class ProgramController(Controller):
    path = "/api/v1/programs"
