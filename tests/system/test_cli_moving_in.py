"""`feedback import delighted|pendo|wootric`, run in a child process against the test database."""

from __future__ import annotations

import json

import pytest

from feedback.mail.models import Suppression
from feedback.responses.models import Response
from tests.support.paths import ROOT
from tests.support.processes import feedback

pytestmark = pytest.mark.system
DATA = ROOT / "tests" / "data" / "moving_in"


async def test_delighted_files_are_imported_once_and_reported_as_json() -> None:
    args = (
        "import",
        "delighted",
        str(DATA / "delighted-responses.json"),
        "--people",
        str(DATA / "delighted-people.json"),
        "--unsubscribes",
        str(DATA / "delighted-unsubscribes.json"),
        "--json",
    )
    first = feedback(*args)
    assert first.returncode == 0, first.stderr
    outcome = json.loads(first.stdout)
    assert outcome["written"] and outcome["parts"]["responses"]["created"] == 2
    again = json.loads(feedback(*args).stdout)
    assert (again["created"], again["updated"]) == (0, 0)
    assert await Response.count() == 2 and await Suppression.count() == 2


async def test_a_bad_file_exits_1_listing_lines_and_writes_nothing() -> None:
    result = feedback("import", "pendo", str(DATA / "pendo-nps-bad.csv"))
    assert result.returncode == 1
    assert "NOT written" in result.stdout
    assert "line 3, column visitor_id" in result.stderr
    assert await Response.count() == 0
    skipped = feedback(
        "import", "pendo", str(DATA / "pendo-nps-bad.csv"), "--skip-invalid", "--dry-run"
    )
    assert skipped.returncode == 0 and "validated" in skipped.stdout


async def test_wootric_end_users_and_a_default_account() -> None:
    result = feedback(
        "import",
        "wootric",
        str(DATA / "wootric-responses-bad.json"),
        "--end-users",
        str(DATA / "wootric-end-users.json"),
        "--default-account",
        "moved-in",
        "--skip-invalid",
    )
    assert result.returncode == 0, result.stderr
    assert "users:" in result.stdout
