"""Benchmark: a burst of program mails delivered over SMTP through the mail outbox.

10,000 program mails (one per person) are queued; two worker processes, each running the
mail deliverer (feedback/mail/delivery.py), send them to a local SMTP server (aiosmtpd in its
own process, recording every Message-ID it accepts with the time it took it). The baseline is
the same number of the same messages sent by a plain aiosmtplib loop over one connection, in
the same run, to the same server. Both are timed by the server, from the first message it
accepted to the last, so neither side's start-up counts. The two take turns in `--rounds`
rounds (a plain loop, then the outbox, each with its share of the mails), so that a shared
machine's changing load falls on both alike. Printed: each round, both totals, their ratio
(goal: within 1.2x), duplicates (0), and then a kill test: one worker is SIGKILLed in the
middle of a batch, another takes over once the lease runs out, and what was lost (0) and sent
twice (at most the deliverer's `most_unrecorded`, counting the one in flight) is counted.

    .venv/bin/python bench/mail_burst.py [--mails 10000] [--workers 2] [--kill-mails 2000]
        [--rounds 5] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]

A fresh database is created on the given PostgreSQL server (or a temporary SQLite file with
--database-url sqlite) and dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from scratch_database import run_in_scratch_database

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LEASE_SECONDS = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- the SMTP server process


def serve_smtp(port: int, log_path: str) -> None:
    """aiosmtpd on loopback; every accepted message appends "<monotonic time> <Message-ID>"
    to the log (flushed per line, so a reader sees each one as it lands)."""
    from aiosmtpd.controller import Controller

    log = open(log_path, "a", buffering=1)  # noqa: SIM115 - open for the process's life

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            content = envelope.original_content or b""
            message_id = "-"
            for line in content.split(b"\r\n"):
                if line[:11].lower() == b"message-id:":
                    message_id = line[11:].strip().decode()
                    break
                if not line:
                    break
            log.write(f"{time.monotonic():.6f} {message_id}\n")
            return "250 2.0.0 accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port, decode_data=False)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


def received(log_path: str) -> list[tuple[float, str]]:
    with open(log_path) as log:
        rows = [line.split(" ", 1) for line in log.read().splitlines() if " " in line]
    return [(float(at), message_id.strip()) for at, message_id in rows]


def span(rows: list[tuple[float, str]]) -> float:
    return rows[-1][0] - rows[0][0] if len(rows) > 1 else 0.0


# ------------------------------------------------------------------- a worker process


def work(worker_id: str) -> None:
    """One worker process: the mail deliverer until SIGTERM (or SIGKILL)."""
    from feedback.db import close_database, open_database
    from feedback.mail.delivery import MailDeliverer
    from feedback.settings import get_settings

    async def main() -> None:
        await open_database(pool_size=4)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await MailDeliverer(get_settings(), worker_id=worker_id).run(stop, idle_seconds=0.2)
        finally:
            await close_database()

    asyncio.run(main())


def start_worker(worker_id: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - this script, with our own arguments
        [sys.executable, __file__, "--worker", worker_id], cwd=ROOT, env=os.environ.copy()
    )


# ------------------------------------------------------------------------------ the run


async def queue_mails(prefix: str, count: int, one_transaction: bool = False) -> list[str]:
    """`count` program mails, each to another person; their Message-IDs. In one transaction
    when asked, so that running workers see them all at once."""
    from feedback.db import write_transaction
    from feedback.kernel.clock import utcnow
    from feedback.mail.enqueue import NewMail, enqueue_mail
    from feedback.mail.models import MailMessage

    now = utcnow()
    step = max(count, 1) if one_transaction else 500
    for start in range(0, count, step):
        async with write_transaction():
            for n in range(start, min(start + step, count)):
                queued = await enqueue_mail(
                    NewMail(
                        key=f"{prefix}:{n}",
                        to_address=f"person{n}@{prefix}.example",
                        to_name=f"Person {n}",
                        from_name="Alex Kim",
                        reply_to="alex@vendor.example",
                        subject=f"Welcome aboard, Person {n}",
                        text=f"Hello Person {n},\n\nBook a call: https://cal.example/alex\n",
                        html=f"<p>Hello Person {n},</p><p><a href='https://cal.example/alex'>"
                        "Book a call</a></p>",
                        program_id=1,
                        participant_id=n,
                    ),
                    now,
                )
                assert queued.mail_id, queued
    rows = await MailMessage.select(MailMessage.message_id).where(
        MailMessage.key.like(f"{prefix}:%")
    )
    return [row["message_id"] for row in rows]


async def sent_count(prefix: str) -> int:
    from feedback.mail.models import MailMessage

    return await MailMessage.count().where(
        (MailMessage.key.like(f"{prefix}:%")) & (MailMessage.status == "sent")
    )


async def baseline(port: int, count: int, run: str) -> None:
    """The same messages by a plain aiosmtplib loop over one connection: each one rendered
    (with the service's renderer, so only the outbox's own work differs) and sent."""
    import aiosmtplib

    from feedback.kernel.clock import utcnow
    from feedback.mail.delivery import ClaimedMail, render_message

    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
    await client.connect()
    for n in range(count):
        mail = ClaimedMail(
            id=n,
            key=f"baseline:{run}:{n}",
            kind="program",
            to_address=f"person{n}@baseline.example",
            to_name=f"Person {n}",
            from_name="Alex Kim",
            reply_to="alex@vendor.example",
            subject=f"Welcome aboard, Person {n}",
            text=f"Hello Person {n},\n\nBook a call: https://cal.example/alex\n",
            html=f"<p>Hello Person {n},</p><p><a href='https://cal.example/alex'>"
            "Book a call</a></p>",
            locale="en",
            message_id=f"<baseline.{run}.{n}@bench.example>",
            attempts=0,
            failing_since=None,
        )
        message = render_message(mail, "nps@bench.example", utcnow())
        await client.sendmail("nps@bench.example", [mail.to_address], message)
    await client.quit()


async def main(args: argparse.Namespace) -> int:
    port = free_port()
    log_path = tempfile.mktemp(prefix="mail-burst-", suffix=".log")  # noqa: S306 - a path for a child
    Path(log_path).touch()  # noqa: ASYNC240 - once, before the run
    server = subprocess.Popen(  # noqa: S603, ASYNC220 - this script, started once
        [sys.executable, __file__, "--serve-smtp", str(port), log_path], cwd=ROOT
    )
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    os.environ.update(
        {
            "FEEDBACK_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "FEEDBACK_MAIL_FROM": "nps@bench.example",
            "FEEDBACK_MAIL_LEASE_SECONDS": str(LEASE_SECONDS),
            "FEEDBACK_PUBLIC_URL": "https://feedback.bench.example",
        }
    )
    from feedback.db import close_database, migrate, open_database
    from feedback.kernel.clock import utcnow
    from feedback.mail.delivery import MailDeliverer
    from feedback.settings import get_settings

    await migrate()
    await open_database(pool_size=8)
    failed = False
    try:
        # baseline and outbox take turns, a round each, so that both see the same load on a
        # shared machine; two worker processes wait for mail throughout
        workers = [start_worker(f"w{i}") for i in range(args.workers)]
        per_round = [
            args.mails // args.rounds + (1 if n < args.mails % args.rounds else 0)
            for n in range(args.rounds)
        ]
        base_seconds = burst_seconds = 0.0
        ids: set[str] = set()
        for round_number, count in enumerate(per_round):
            await baseline(port, count, f"b{round_number}")
            base = [r for r in received(log_path) if r[1].startswith(f"<baseline.b{round_number}.")]
            started = time.perf_counter()
            prefix = f"burst{round_number}"
            round_ids = set(await queue_mails(prefix, count, one_transaction=True))
            ids |= round_ids
            queued_in = time.perf_counter() - started
            started = time.perf_counter()
            while await sent_count(prefix) < count:
                await asyncio.sleep(0.2)
                if time.perf_counter() - started > args.timeout:
                    print("TIMED OUT")
                    failed = True
                    break
            burst = [r for r in received(log_path) if r[1] in round_ids]
            base_seconds += span(base)
            burst_seconds += span(burst)
            print(
                f"round {round_number + 1}: plain loop {len(base)} in {span(base):.2f} s; "
                f"outbox {len(burst)} in {span(burst):.2f} s (queued in {queued_in:.1f} s)"
            )
            if failed:
                break
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
        burst = [r for r in received(log_path) if r[1] in ids]
        counts = collections.Counter(message_id for _, message_id in burst)
        duplicates = sum(n - 1 for n in counts.values())
        lost = len(ids - set(counts))
        print(
            f"plain loop: {args.mails} messages by a plain aiosmtplib loop in {base_seconds:.2f} s"
        )
        print(
            f"outbox: {len(counts)} of {args.mails} mails through {args.workers} worker "
            f"processes in {burst_seconds:.2f} s"
        )
        ratio = burst_seconds / base_seconds if base_seconds else float("nan")
        print(f"ratio to the plain loop: {ratio:.3f} (goal <= 1.2)")
        print(f"duplicates: {duplicates}; lost: {lost}")
        failed = failed or bool(duplicates or lost)

        # a worker SIGKILLed in the middle of a batch
        kill_ids = set(await queue_mails("kill", args.kill_mails))
        victim = start_worker("victim")
        # polling another process's log
        while len([r for r in received(log_path) if r[1] in kill_ids]) < args.kill_mails // 3:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        before = len([r for r in received(log_path) if r[1] in kill_ids])
        left = args.kill_mails - await sent_count("kill")
        print(f"kill: worker SIGKILLed after {before} of {args.kill_mails} mails; {left} not sent")
        # the next worker takes the dead one's claims once its lease has run out
        later = MailDeliverer(
            get_settings(),
            worker_id="after",
            clock=lambda: utcnow() + timedelta(seconds=LEASE_SECONDS + 1),
        )
        # the killed worker's unrecorded sends, counting the one in flight
        most_twice = later.most_unrecorded
        await later.deliver_due(rounds=100_000)
        killed = [r for r in received(log_path) if r[1] in kill_ids]
        counts = collections.Counter(message_id for _, message_id in killed)
        lost = len(kill_ids - set(counts))
        twice = sum(n - 1 for n in counts.values())
        print(
            f"kill: lost {lost}; sent twice {twice} (mails the server took as the worker died, "
            f"at most {most_twice}; same Message-ID)"
        )
        failed = failed or bool(lost) or twice > most_twice
    finally:
        await close_database()
        server.terminate()
        server.wait(timeout=10)
        Path(log_path).unlink(missing_ok=True)  # noqa: ASYNC240 - the run is over
    return 1 if failed else 0


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-mails", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--serve-smtp", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_smtp:
        serve_smtp(int(args.serve_smtp[0]), args.serve_smtp[1])
        return
    if args.worker:
        work(args.worker)
        return
    code = run_in_scratch_database(args.database_url, "feedback_bench_mail", lambda: main(args))
    sys.exit(code)


if __name__ == "__main__":
    run()
