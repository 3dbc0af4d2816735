"""One-click unsubscribe over HTTP, without signing in (RFC 8058)."""

from __future__ import annotations

from typing import Any

from feedback.mail.enqueue import suppression_of, unsubscribe_token, unsubscribe_url
from feedback.mail.models import Suppression

ADDRESS = "hana.sato@customer.example"


async def test_a_one_click_post_unsubscribes_at_once_without_a_session(client: Any) -> None:
    path = "/unsubscribe/" + unsubscribe_token(ADDRESS)
    response = await client.post(
        path,
        content="List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert await suppression_of(ADDRESS) == "unsubscribed"
    row = await Suppression.select().first()
    assert row["source"].startswith("one-click (List-Unsubscribe-Post) from ")
    again = await client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200
    assert await Suppression.count() == 1


async def test_the_link_opens_a_confirmation_page_and_unsubscribes_nobody(client: Any) -> None:
    url = unsubscribe_url(ADDRESS)
    path = url[url.index("/unsubscribe/") :]
    page = await client.get(path)
    assert page.status_code == 200
    assert "Unsubscribe from these emails?" in page.text
    assert f'action="{path}"' in page.text
    assert "ha•••••••@customer.example" in page.text  # masked
    assert await suppression_of(ADDRESS) is None
    await client.post(path, data={"List-Unsubscribe": "One-Click"})
    after = await client.get(path)
    assert "gets none of these emails already" in after.text


async def test_a_bad_token_is_a_404_page_and_changes_nothing(client: Any) -> None:
    token = unsubscribe_token(ADDRESS)
    for path in [f"/unsubscribe/{token}x", "/unsubscribe/abc", "/unsubscribe/%C3%A9.%C3%A9"]:
        page = await client.get(path)
        assert page.status_code == 404 and "not recognised" in page.text
        posted = await client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert posted.status_code == 404
    # control characters are refused before the route, with the staff pages' error page
    junk = await client.post("/unsubscribe/%00.%ff", data={"List-Unsubscribe": "One-Click"})
    assert 400 <= junk.status_code < 500 and "<html" in junk.text
    assert await Suppression.count() == 0
