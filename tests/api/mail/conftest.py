"""Fixtures of the mail tests: a real SMTP server on loopback, and the settings that reach
it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from feedback.settings import Settings, get_settings
from tests.api.mail.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The settings with FEEDBACK_SMTP_URL naming the receiver."""
    monkeypatch.setenv("FEEDBACK_SMTP_URL", receiver.url)
    monkeypatch.setenv("FEEDBACK_MAIL_FROM", "nps@feedback.example")
    monkeypatch.setenv("FEEDBACK_PUBLIC_URL", "https://feedback.example")
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()
