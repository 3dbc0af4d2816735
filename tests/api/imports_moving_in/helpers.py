"""Running a move-in from the sample files in tests/data/moving_in."""

from __future__ import annotations

from typing import Any

from feedback.accounts.models import EndUser
from feedback.imports.moving_in import MoveResult, move_in, options_for, read_plan
from tests.support.paths import ROOT

DATA = ROOT / "tests" / "data" / "moving_in"


async def move(tool: str, *, options: dict[str, Any] | None = None, **files: str) -> MoveResult:
    """Import `files` (part=name of a sample file, or bytes) through the service."""
    contents = {
        part: name if isinstance(name, bytes) else (DATA / name).read_bytes()
        for part, name in files.items()
    }
    settings = dict(options or {})
    flags = {k: settings.pop(k) for k in ("skip_invalid", "dry_run") if k in settings}
    return await move_in(read_plan(tool, contents), options_for(tool, **settings), **flags)


async def user(external_id: str) -> dict[str, Any]:
    row = (
        await EndUser.select(
            EndUser.all_columns(), EndUser.account.external_id.as_alias("account_id")
        )
        .where(EndUser.external_id == external_id)
        .output(load_json=True)
        .first()
    )
    assert row is not None, f"no user {external_id}"
    return row
