"""The survey admin page's "Talk to ..." setting, its per-locale words and its click count."""

from __future__ import annotations

from typing import Any

from feedback.surveys.models import Survey
from tests.support.web import csrf_token, signed_in_admin


async def post_form(client: Any, path: str, data: dict[str, str]) -> Any:
    token = await csrf_token(client, "/admin/surveys")
    return await client.post(path, data={**data, "_csrf_token": token})


async def test_the_talk_to_setting_round_trips_and_the_page_shows_its_clicks(
    client: Any,
) -> None:
    await signed_in_admin(client)
    saved = await post_form(
        client,
        "/admin/surveys/new",
        {
            "name": "NPS",
            "active": "on",
            "talk_to_detractors": "on",
            "ja.talk_to_label": "{name}と話す",
        },
    )
    assert saved.status_code == 303
    survey = await Survey.select().output(load_json=True).first()
    assert survey["talk_to_detractors"] is True
    assert survey["texts"]["ja"]["talk_to_label"] == "{name}と話す"
    page = await client.get(saved.headers["location"])
    assert 'name="talk_to_detractors" checked' in page.text
    assert "followed by 0 detractors" in page.text
    off = await post_form(client, saved.headers["location"], {"name": "NPS", "active": "on"})
    assert off.status_code == 303
    assert (await Survey.select(Survey.talk_to_detractors).first())["talk_to_detractors"] is False
