"""Webhook tests against a real receiver process on loopback (`receiver.py`)."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from feedback.settings import Settings, get_settings
from feedback.surveys.identity_secrets import seal
from feedback.webhooks.models import WebhookEndpoint

RECEIVER = Path(__file__).resolve().parent / "receiver.py"
SECRET = "whsec_system-test-secret"


class Receiver:
    """The receiver process: its URL and the requests it logged."""

    def __init__(self, log: Path, plan: str = "200") -> None:
        self.log = log
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER), "--log", str(log), "--plan", plan],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/hooks"

    def requests(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    started = Receiver(tmp_path / "requests.jsonl")
    yield started
    started.stop()


@pytest.fixture
def start_receiver(tmp_path: Path) -> Iterator[Any]:
    """A receiver with a plan: `start_receiver("500,200")`."""
    started: list[Receiver] = []

    def start(plan: str) -> Receiver:
        receiver = Receiver(tmp_path / f"requests-{len(started)}.jsonl", plan)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def webhook_settings(**changes: Any) -> Settings:
    """The test settings with webhooks to loopback allowed (as FEEDBACK_WEBHOOK_ALLOW_PRIVATE)
    unless said otherwise."""
    settings = get_settings()
    webhooks = dataclasses.replace(settings.webhooks, **{"allow_private": True, **changes})
    return dataclasses.replace(settings, webhooks=webhooks)


async def make_endpoint(
    url: str,
    events: list[str] | None = None,
    environment: str = "production",
    active: bool = True,
) -> int:
    rows = await WebhookEndpoint.insert(
        WebhookEndpoint(
            url=url,
            events=events or ["response.created"],
            environment=environment,
            secret_sealed=seal(SECRET),
            active=active,
            created_by="admin@example.com",
        )
    ).returning(WebhookEndpoint.id)
    return int(rows[0]["id"])


async def render(event_type: str, object_id: str) -> dict[str, Any] | None:
    """A stand-in for the API's shapes: the object's id and a fixed field, or gone."""
    if object_id.startswith("gone"):
        return None
    return {"id": object_id, "object": event_type.split(".")[0], "score": 9, "note": "Ünïcode"}
