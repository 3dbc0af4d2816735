"""Two deliverers at once deliver each event exactly once to an endpoint: two deliverer
instances in one process (each transaction on its own connection), and two `feedback
worker` processes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from feedback.db import write_transaction
from feedback.webhooks.delivery import WebhookDeliverer
from feedback.webhooks.dispatch import dispatch_events
from feedback.webhooks.events import record_event
from feedback.webhooks.models import WebhookDelivery
from tests.support.waiting import eventually
from tests.system.webhooks.conftest import Receiver, make_endpoint, render, webhook_settings

EVENTS = 120


async def record_many(n: int) -> None:
    async with write_transaction():
        for i in range(n):
            await record_event("response.created", f"r_{i}")
    await dispatch_events(render)


def event_ids(receiver: Receiver) -> Counter[str]:
    return Counter(r["headers"]["Feedback-Event-Id"] for r in receiver.requests())


async def test_two_deliverers_deliver_each_event_once(receiver: Receiver) -> None:
    await make_endpoint(receiver.url)
    await record_many(EVENTS)
    senders = [
        WebhookDeliverer(webhook_settings(), render=render, batch_size=10, worker_id=name)
        for name in ("one", "two")
    ]
    try:
        outcomes = await asyncio.gather(*(sender.deliver_due() for sender in senders))
    finally:
        for sender in senders:
            await sender.close()
    assert sum(outcome.delivered for outcome in outcomes) == EVENTS
    counts = event_ids(receiver)
    assert len(counts) == EVENTS and set(counts.values()) == {1}
    assert await WebhookDelivery.count().where(WebhookDelivery.status != "delivered") == 0


async def test_two_worker_processes_deliver_each_event_once(
    receiver: Receiver, tmp_path: Path
) -> None:
    await make_endpoint(receiver.url)
    await record_many(EVENTS)
    env = {
        **os.environ,
        "FEEDBACK_WEBHOOK_ALLOW_PRIVATE": "true",
        "FEEDBACK_WORKER_INTERVAL_SECONDS": "3600",
    }
    logs = [(tmp_path / f"worker-{n}.log").open("w") for n in range(2)]
    workers: list[Any] = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "feedback",
            "worker",
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=log,
        )
        for log in logs
    ]
    try:

        async def all_delivered() -> bool:
            left = await WebhookDelivery.count().where(WebhookDelivery.status != "delivered")
            return left == 0

        await eventually(all_delivered, what="every delivery delivered")
        assert all(worker.returncode is None for worker in workers)
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
            await worker.wait()
        for log in logs:
            log.close()
        for n in range(2):
            print((tmp_path / f"worker-{n}.log").read_text()[-3000:])
    counts = event_ids(receiver)
    assert len(counts) == EVENTS and set(counts.values()) == {1}
