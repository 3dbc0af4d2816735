"""Imports of wide files and long cells through the API, and where their parsing runs."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from feedback.accounts.models import Account
from feedback.imports import views
from feedback.kernel.principal import Role
from tests.support.factories import bearer, token


@pytest.fixture
async def admin() -> dict[str, str]:
    return bearer(await token(Role.admin))


async def test_a_file_wider_than_the_column_limit_is_refused_at_its_header(
    client: Any, admin: dict[str, str]
) -> None:
    columns = 1002
    header = ",".join(["external_id", "name", *(f"c{n}" for n in range(columns - 2))])
    row = ",".join(["a1", "Acme", *("x" for _ in range(columns - 2))])
    body = "\n".join([header, *(row.replace("a1", f"a{n}") for n in range(20))]) + "\n"
    answer = await client.post(
        "/api/v1/imports/accounts", content=body, headers={**admin, "content-type": "text/csv"}
    )
    assert answer.status_code == 422, answer.text
    assert [(d["field"], d["line"]) for d in answer.json()["detail"]] == [("header", 1)]
    assert "1002 columns" in answer.json()["detail"][0]["message"]
    assert answer.json()["result"]["rows"] == 0
    assert await Account.count() == 0


async def test_a_long_cell_names_its_line_and_column(client: Any, admin: dict[str, str]) -> None:
    from feedback.settings import get_settings

    long_note = "N" * (get_settings().import_max_cell_chars + 1)  # a trait: no own limit
    body = f"external_id,name,notes\na1,Acme,ok\na2,Globex,{long_note}\n"
    answer = await client.post(
        "/api/v1/imports/accounts", content=body, headers={**admin, "content-type": "text/csv"}
    )
    assert answer.status_code == 422
    assert [(d["field"], d["line"]) for d in answer.json()["detail"]] == [("notes", 3)]
    assert await Account.count() == 0


async def test_the_file_is_parsed_in_a_worker_thread(
    client: Any, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed_on: list[threading.Thread] = []
    parse = views.parse_upload

    def recording(*args: Any) -> Any:
        parsed_on.append(threading.current_thread())
        return parse(*args)

    monkeypatch.setattr(views, "parse_upload", recording)
    answer = await client.post(
        "/api/v1/imports/accounts",
        content="external_id,name\na1,Acme\n",
        headers={**admin, "content-type": "text/csv"},
    )
    assert answer.status_code == 200, answer.text
    assert len(parsed_on) == 1
    assert parsed_on[0] is not threading.main_thread()
    assert parsed_on[0] is not threading.current_thread()  # not the event loop's thread
