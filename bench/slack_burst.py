"""Benchmark: a burst of CTAs delivered to Slack through the outbox.

5,000 CTAs owned by 50 CSMs (one channel each) are raised at once; outbox workers deliver
them to the local Slack stand-in (devtools/slack_standin.py), which enforces one message per
second per channel (answering 429 to anything faster). The baseline is what the per-channel limit
allows: with N messages in the busiest channel, (N - 1) x interval seconds. Printed: total
time, its ratio to that baseline, messages sent, duplicates, 429s and limit violations.

    .venv/bin/python bench/slack_burst.py [--ctas 5000] [--channels 50] [--workers 2]
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

A fresh database is created on the given PostgreSQL server (or a temporary SQLite file with
--database-url sqlite) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def pg_admin(url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_standin(port: int) -> subprocess.Popen[bytes]:
    """The stand-in in its own process: it timestamps arrivals on its own event loop."""
    import httpx

    process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own module; started once
        [
            sys.executable,
            "-m",
            "devtools.slack_standin",
            "--port",
            str(port),
            "--rate-interval",
            "1.0",
        ],
        cwd=ROOT,
    )
    for _ in range(100):
        try:
            async with httpx.AsyncClient() as client:
                await client.get(f"http://127.0.0.1:{port}/_standin/calls")
            return process
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    raise RuntimeError("the Slack stand-in did not start")


async def main(args: argparse.Namespace) -> None:
    import httpx

    port = free_port()
    standin = await start_standin(port)
    os.environ.update(
        {
            "FEEDBACK_SLACK_BOT_TOKEN": "xoxb-bench",
            "FEEDBACK_SLACK_SIGNING_SECRET": "bench-signing-secret",
            "FEEDBACK_SLACK_API_URL": f"http://127.0.0.1:{port}/api/",
            "FEEDBACK_SLACK_CHANNEL_INTERVAL_MS": str(args.interval_ms),
        }
    )
    from feedback.accounts.models import CSM, Account
    from feedback.ctas.signals import Signal, raise_signal
    from feedback.db import close_database, migrate, open_database, write_transaction
    from feedback.outbox.models import Outbox
    from feedback.settings import get_settings

    await migrate()
    await open_database(pool_size=20)
    settings = get_settings()
    try:
        started = time.perf_counter()
        async with write_transaction():
            for c in range(args.channels):
                await CSM.insert(
                    CSM(name=f"CSM {c}", email=f"csm{c}@example.com", slack_channel=f"C{c:03d}")
                )
        csms = [row["id"] for row in await CSM.select(CSM.id).order_by(CSM.id)]
        async with write_transaction():
            for n in range(args.ctas):
                await Account.insert(
                    Account(external_id=f"acct-{n}", name=f"Account {n}", csm=csms[n % len(csms)])
                )
        accounts = [row["id"] for row in await Account.select(Account.id).order_by(Account.id)]
        async with write_transaction():
            for account in accounts:
                await raise_signal(
                    Signal(account, "risk", "Detractor answer", "scored 3", 2, None, {"score": 3})
                )
        print(f"setup: {args.ctas} CTAs queued in {time.perf_counter() - started:.1f} s")

        from feedback.runtime import slack_deliverer as Deliverer

        stop = asyncio.Event()
        workers = [Deliverer(settings, worker_id=f"w{i}") for i in range(args.workers)]
        started = time.perf_counter()
        tasks = [asyncio.create_task(w.run(stop, idle_seconds=0.2)) for w in workers]
        while await Outbox.exists().where(Outbox.status != "sent"):
            await asyncio.sleep(0.25)
            if time.perf_counter() - started > args.timeout:
                print("TIMED OUT")
                break
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*tasks)

        async with httpx.AsyncClient(timeout=60) as client:
            report = (await client.get(f"http://127.0.0.1:{port}/_standin/calls")).json()
        calls = report["calls"]
        posts = [c for c in calls if c["method"] == "chat.postMessage" and c["status"] == 200]
        limited = [c for c in calls if c["status"] == 429]
        per_channel = collections.Counter(c["channel"] for c in posts)
        texts = collections.Counter((c["channel"], c["text"]) for c in posts)
        duplicates = sum(n - 1 for n in texts.values() if n > 1)
        busiest = max(per_channel.values())
        ideal = (busiest - 1) * args.interval_ms / 1000
        sent_by = collections.Counter(
            r["claimed_by"] for r in await Outbox.select(Outbox.claimed_by)
        )
        print(f"workers: {args.workers} ({dict(sent_by)})")
        print(f"delivered: {len(posts)} of {args.ctas} messages in {elapsed:.1f} s")
        print(f"baseline (per-channel limit, {busiest} in the busiest channel): {ideal:.1f} s")
        print(f"ratio to baseline: {elapsed / ideal:.3f}")
        print(
            f"duplicates: {duplicates}; 429 answers: {len(limited)}; "
            f"limit violations: {len(report['violations'])}"
        )
    finally:
        await close_database()
        standin.terminate()
        standin.wait(timeout=10)


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ctas", type=int, default=5000)
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    dropped = None
    if args.database_url.startswith("sqlite"):
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    else:
        name = f"feedback_bench_slack_{secrets.token_hex(3)}"
        asyncio.run(pg_admin(args.database_url, f'CREATE DATABASE "{name}"'))
        url = urlsplit(args.database_url)._replace(path="/" + name).geturl()
        dropped = name
    os.environ["FEEDBACK_DATABASE_URL"] = url
    os.environ.setdefault("PICCOLO_CONF", "feedback.piccolo_conf")
    try:
        asyncio.run(main(args))
    finally:
        if dropped:
            asyncio.run(
                pg_admin(args.database_url, f'DROP DATABASE IF EXISTS "{dropped}" WITH (FORCE)')
            )


if __name__ == "__main__":
    run()
