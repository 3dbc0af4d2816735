"""POST /api/v1/imports/{delighted,pendo,wootric}: a file body or a form of files."""

from __future__ import annotations

from typing import Any

import pytest

from feedback.auth.models import AuditEntry
from feedback.kernel.principal import Role
from feedback.mail.models import Suppression
from feedback.responses.models import Response
from tests.api.imports_moving_in.helpers import DATA
from tests.support.factories import bearer, token


@pytest.fixture
async def admin() -> dict[str, str]:
    return bearer(await token(Role.admin))


async def test_a_csv_export_is_imported(client: Any, admin: dict[str, str]) -> None:
    answer = await client.post(
        "/api/v1/imports/delighted",
        content=(DATA / "delighted-responses.csv").read_bytes(),
        headers={**admin, "content-type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["parts"]["responses"]["created"] == 3
    entry = await AuditEntry.select().where(AuditEntry.action == "import.delighted").first()
    assert entry is not None and entry["source"] == "api"


async def test_a_form_of_files_is_imported_in_one_go(client: Any, admin: dict[str, str]) -> None:
    files = {
        "responses": ("r.json", (DATA / "delighted-responses.json").read_bytes()),
        "people": ("p.json", (DATA / "delighted-people.json").read_bytes()),
        "unsubscribes": ("u.json", (DATA / "delighted-unsubscribes.json").read_bytes()),
    }
    answer = await client.post("/api/v1/imports/delighted", files=files, headers=admin)
    assert answer.status_code == 200, answer.text
    assert await Suppression.count() == 2 and await Response.count() == 2


async def test_a_people_file_alone_names_its_part(client: Any, admin: dict[str, str]) -> None:
    answer = await client.post(
        "/api/v1/imports/wootric?file=end_users",
        content=(DATA / "wootric-end-users.json").read_bytes(),
        headers={**admin, "content-type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["parts"]["users"]["created"] == 2


async def test_errors_answer_422_with_lines(client: Any, admin: dict[str, str]) -> None:
    answer = await client.post(
        "/api/v1/imports/pendo?account_property=Account%20ID",
        content=(DATA / "pendo-nps-bad.csv").read_bytes(),
        headers={**admin, "content-type": "text/csv"},
    )
    assert answer.status_code == 422
    assert {(d["line"], d["field"]) for d in answer.json()["detail"]} == {
        (3, "visitor_id"),
        (4, "nps_score"),
        (5, "account_id"),
    }
    assert await Response.count() == 0
    skipped = await client.post(
        "/api/v1/imports/pendo?skip_invalid=true",
        content=(DATA / "pendo-nps-bad.csv").read_bytes(),
        headers={**admin, "content-type": "text/csv"},
    )
    assert skipped.status_code == 200 and skipped.json()["error_count"] == 3


async def test_a_file_the_tool_does_not_have_is_refused(client: Any, admin: dict[str, str]) -> None:
    answer = await client.post(
        "/api/v1/imports/pendo?file=unsubscribes",
        content=b"email\nx@example.com\n",
        headers={**admin, "content-type": "text/csv"},
    )
    assert answer.status_code in (400, 422)
    assert answer.json()["detail"][0]["field"] == "file"


async def test_only_admins_may_move_in(client: Any) -> None:
    analyst = bearer(await token(Role.analyst))
    answer = await client.post(
        "/api/v1/imports/delighted",
        content=(DATA / "delighted-responses.csv").read_bytes(),
        headers={**analyst, "content-type": "text/csv"},
    )
    assert answer.status_code == 403
    assert await Response.count() == 0
