"""Two widget keys of one product, production and staging, and a detractor with a comment
on each, given through the widget API as a user would give them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from feedback.responses.models import Response
from feedback.surveys.identity_secrets import seal
from feedback.surveys.models import WidgetKey
from tests.support.factories import ORIGIN, book, widget_setup

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}
STAGING_KEY = "wk_test_staging"
# u1 of a1 answers on the production key, u3 of a2 on the staging key (tests/support/factories
# `book`: both accounts are Ann's)
PRODUCTION_COMMENT = "The app is slow every morning"
STAGING_COMMENT = "Staging is slow and broken today"


@dataclass(frozen=True)
class Answered:
    production_key: str
    staging_key: str
    production_response: int
    staging_response: int


async def call(client: Any, key: str, endpoint: str, body: dict[str, Any]) -> Any:
    return await client.post(f"/widget/v1/{key}/{endpoint}", content=json.dumps(body), headers=TEXT)


async def answer(
    client: Any, key: str, user: str, account: str, score: int, comment: str | None = None
) -> int:
    """The id of the answer `user` gives through the widget on `key`."""
    shown = await call(client, key, "eligibility", {"user_id": user, "account_id": account})
    assert shown.status_code == 200 and shown.json()["show"] is True, shown.text
    token = shown.json()["display_token"]
    scored = await call(
        client,
        key,
        "responses",
        {"display_token": token, "client_id": f"client-{user}-0001", "score": score},
    )
    assert scored.status_code == 201, scored.text
    if comment is not None:
        commented = await call(
            client, key, "comments", {"display_token": token, "comment": comment}
        )
        assert commented.status_code < 300, commented.text
    row = await Response.select(Response.id).order_by(Response.id, ascending=False).first()
    assert row is not None
    return int(row["id"])


async def staging_key() -> str:
    await WidgetKey(
        key=STAGING_KEY,
        name="staging",
        environment="staging",
        allowed_origins=[ORIGIN["origin"]],
        identity_secret_sealed=seal("s3cret" * 8),
        identity="browser",
    ).save()
    return STAGING_KEY


async def book_and_staging_key() -> str:
    """The book, a survey with its schedule and a production key, and the staging key."""
    await book()
    await widget_setup()
    return await staging_key()


async def two_detractors(client: Any) -> Answered:
    """The book, a production and a staging key, and a 2 with a comment on each."""
    await book()
    production = (await widget_setup())["key"]
    staging = await staging_key()
    first = await answer(client, production, "u1", "a1", 2, PRODUCTION_COMMENT)
    second = await answer(client, staging, "u3", "a2", 2, STAGING_COMMENT)
    environments = {
        row["id"]: row["environment"]
        for row in await Response.select(Response.id, Response.environment)
    }
    assert environments == {first: "production", second: "staging"}
    return Answered(production, staging, first, second)
