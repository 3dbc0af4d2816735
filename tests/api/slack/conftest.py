"""The Slack tests' application: the service configured for Slack, pointing at the stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from devtools.slack_standin import SlackStandIn
from feedback.app import create_app
from feedback.settings import Settings, get_settings
from tests.support.slack import slack_env


@pytest.fixture
def settings(standin: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    for name, value in slack_env(standin.api_url).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
async def slack_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as c:
        yield c
