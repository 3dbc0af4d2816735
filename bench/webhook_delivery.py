"""Benchmark: webhook deliveries per second to a local receiver, against plain POSTs.

`--events` events are recorded and dispatched to one endpoint, then one webhook deliverer
(feedback/webhooks/delivery.py: claim with a lease, sign, POST through the address guard's
resolver, record each outcome in its own write transaction) delivers them to the test
receiver (tests/system/webhooks/receiver.py, its own process, answering 200, keeping no
log). The baseline is the same number of the same bodies POSTed with aiohttp, unsigned and
unrecorded, with the same concurrency, in the same run. The two take turns in `--rounds`
rounds so a shared machine's changing load falls on both alike. Printed: each round, the
totals in deliveries per second, and their ratio (what claiming, signing and recording
cost).

    .venv/bin/python bench/webhook_delivery.py [--events 2000] [--rounds 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

A fresh database is created on the given PostgreSQL server (or a temporary SQLite file with
--database-url sqlite, the default) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from scratch_database import run_in_scratch_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RECEIVER = ROOT / "tests" / "system" / "webhooks" / "receiver.py"
CONCURRENCY = 16


async def render(event_type: str, object_id: str) -> dict[str, Any]:
    return {"id": object_id, "object": "response", "score": 9, "comment": "Works well " * 8}


async def baseline(url: str, bodies: list[bytes]) -> float:
    """Seconds to POST every body with aiohttp, `CONCURRENCY` at a time."""
    import aiohttp

    gate = asyncio.Semaphore(CONCURRENCY)
    async with aiohttp.ClientSession() as session:

        async def one(body: bytes) -> None:
            async with gate:
                headers = {"Content-Type": "application/json"}
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    assert response.status == 200

        started = time.perf_counter()
        await asyncio.gather(*(one(body) for body in bodies))
        return time.perf_counter() - started


async def outbox(url: str, events: int, endpoint: int) -> tuple[float, list[bytes]]:
    """Seconds for the deliverer to deliver `events` new events, and their bodies."""
    from feedback.db import write_transaction
    from feedback.settings import get_settings
    from feedback.webhooks.delivery import WebhookDeliverer
    from feedback.webhooks.dispatch import body_of, dispatch_events
    from feedback.webhooks.events import record_event
    from feedback.webhooks.models import WebhookDelivery, WebhookEvent

    async with write_transaction():
        for n in range(events):
            await record_event("response.created", f"r_{secrets.token_hex(4)}_{n}")
    await dispatch_events(render)
    settings = get_settings()
    hooks = dataclasses.replace(settings.webhooks, allow_private=True)
    sender = WebhookDeliverer(
        dataclasses.replace(settings, webhooks=hooks), concurrency=CONCURRENCY, render=render
    )
    try:
        started = time.perf_counter()
        outcome = await sender.deliver_due()
        seconds = time.perf_counter() - started
    finally:
        await sender.close()
    assert outcome.delivered == events, outcome
    rows = await WebhookEvent.select(WebhookEvent.data).order_by(WebhookEvent.id, ascending=False)
    bodies = [body_of(row["data"]) for row in rows[:events]]
    await WebhookDelivery.delete(force=True)
    return seconds, bodies


async def main(args: argparse.Namespace) -> int:
    from feedback.db import close_database, migrate, open_database
    from feedback.surveys.identity_secrets import seal
    from feedback.webhooks.models import WebhookEndpoint

    await migrate()
    await open_database(pool_size=8)
    receiver = subprocess.Popen(  # noqa: S603, ASYNC220 (started once, before timing)
        [sys.executable, str(RECEIVER), "--quiet"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        url = f"http://127.0.0.1:{int(receiver.stdout.readline())}/hooks"
        rows = await WebhookEndpoint.insert(
            WebhookEndpoint(url=url, events=["response.created"], secret_sealed=seal("whsec_b"))
        ).returning(WebhookEndpoint.id)
        endpoint = int(rows[0]["id"])
        share = args.events // args.rounds
        plain_total = outbox_total = 0.0
        for round_number in range(1, args.rounds + 1):
            seconds, bodies = await outbox(url, share, endpoint)
            plain = await baseline(url, bodies)
            outbox_total += seconds
            plain_total += plain
            print(
                f"round {round_number}: webhooks {share / seconds:7.0f}/s, "
                f"plain POSTs {share / plain:7.0f}/s"
            )
        delivered = share * args.rounds
        for label, total in (("webhook deliveries", outbox_total), ("plain POSTs", plain_total)):
            print(f"{label}: {delivered / total:7.0f}/s ({delivered} in {total:.2f} s)")
        print(f"ratio (webhooks time / plain time): {outbox_total / plain_total:.2f}x")
    finally:
        receiver.kill()
        receiver.wait()
        await close_database()
    return 0


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="sqlite")
    args = parser.parse_args()
    code = run_in_scratch_database(args.database_url, "feedback_bench_webhooks", lambda: main(args))
    sys.exit(code)


if __name__ == "__main__":
    run()
