"""Benchmark: a soak at a steady rate against the real processes, on PostgreSQL.

Starts `feedback serve --workers 2` and one `feedback worker` on a fresh database and, for
`--duration` seconds (default 600), sends widget traffic at a steady rate: visits (a check
by a new user, who is asked at once, or by a returning one, who is not) and, for every survey
shown, a score and for some a comment, each with its own client id as the widget sends them.
Every `--sample` seconds it records each process's resident memory (RSS) and the answers
still waiting for the CTA rules.

Prints the rate reached, p50/p99 latency and errors per minute, the RSS of every process at
the start, the end and its peak, and checks afterwards that every answer the client sent is
stored exactly once, that the CTA rules acted on every detractor exactly once, and that
nothing is left in their queue. Memory is "flat" when the end RSS is within 10 % of the
RSS one minute in (the first minute warms caches and the connection pools). It asserts
nothing about timing; a failed correctness check exits 1.

    .venv/bin/python bench/soak.py [--duration 600] [--rate 150] [--sample 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from widget_load import (
    ADMIN_URL,
    ROOT,
    RawConnection,
    child_env,
    free_port,
    pg_admin,
    seed,
    server,
    with_database,
)

RETURNING_SHARE = 0.5  # of visits: users who were asked before (they get "not now")
COMMENT_SHARE = 0.3  # of answers
CONNECTIONS = 16
FLAT_TOLERANCE = 0.10


@dataclass
class Minute:
    requests: int = 0
    errors: int = 0
    latencies: array = field(default_factory=lambda: array("d"))


@dataclass
class Totals:
    answers_sent: set[str] = field(default_factory=set)  # client ids answered 201 or 200
    shown: int = 0
    error_samples: list[str] = field(default_factory=list)
    minutes: dict[int, Minute] = field(default_factory=dict)


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def label(pid: int, index: int) -> str:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        command = b""
    return "resource tracker" if b"resource_tracker" in command else f"serve process {index}"


class Soak:
    def __init__(self, port: int, key: str, run_id: str, rate: float, duration: float) -> None:
        self.port = port
        self.base = f"/widget/v1/{key}"
        self.run_id = run_id
        self.rate = rate
        self.duration = duration
        self.totals = Totals()
        self.rng = random.Random(7)
        self.users = 0
        self.asked: list[tuple[str, str]] = []  # (user, account) of users asked before
        self.started = 0.0

    async def call(self, connection: RawConnection, path: str, body: dict[str, Any]) -> Any:
        minute = int((time.monotonic() - self.started) // 60)
        stats = self.totals.minutes.setdefault(minute, Minute())
        began = time.perf_counter()
        try:
            status, payload = await connection.request("POST", path, json.dumps(body).encode())
        except (OSError, asyncio.IncompleteReadError) as exc:
            connection.close()
            status, payload = 0, repr(exc).encode()
        stats.requests += 1
        stats.latencies.append((time.perf_counter() - began) * 1000)
        if not 200 <= status < 300:
            stats.errors += 1
            if len(self.totals.error_samples) < 5:
                self.totals.error_samples.append(f"{path}: {status} {payload[:200]!r}")
            return None
        return json.loads(payload)

    async def visit(self, connection: RawConnection) -> None:
        if self.asked and self.rng.random() < RETURNING_SHARE:
            user, account = self.rng.choice(self.asked)
        else:
            self.users += 1
            user = f"soak-{self.run_id}-{self.users}"
            account = f"soak-{self.run_id}-acct-{self.users % 300}"
        check = {"user_id": user, "account_id": account, "traits": {"plan": "pro"}}
        shown = await self.call(connection, f"{self.base}/eligibility", check)
        if not shown or not shown.get("show"):
            return
        self.totals.shown += 1
        self.asked.append((user, account))
        score = self.rng.randrange(11)
        client_id = f"soak-{self.run_id}-{user}"
        answer = {"display_token": shown["display_token"], "client_id": client_id, "score": score}
        if await self.call(connection, f"{self.base}/responses", answer) is None:
            return
        self.totals.answers_sent.add(client_id)
        if self.rng.random() < COMMENT_SHARE:
            comment = {"display_token": shown["display_token"], "comment": f"soak {score}"}
            await self.call(connection, f"{self.base}/comments", comment)

    async def run(self) -> None:
        """Visits start on a fixed schedule (rate per second), each on a free connection."""
        pool: asyncio.Queue[RawConnection] = asyncio.Queue()
        for _ in range(CONNECTIONS):
            pool.put_nowait(RawConnection(self.port))
        running: set[asyncio.Task[None]] = set()

        async def one() -> None:
            connection = await pool.get()
            try:
                await self.visit(connection)
            finally:
                pool.put_nowait(connection)

        self.started = time.monotonic()
        n = 0
        while time.monotonic() - self.started < self.duration:
            due = self.started + n / self.rate
            if due > time.monotonic():
                await asyncio.sleep(due - time.monotonic())
            task = asyncio.create_task(one())
            running.add(task)
            task.add_done_callback(running.discard)
            n += 1
        await asyncio.gather(*running)
        for _ in range(CONNECTIONS):
            (await pool.get()).close()


async def database_counts(run_id: str) -> dict[str, int]:
    from feedback.responses.models import Response

    async def count(sql: str, *args: Any) -> int:
        rows = await Response.raw(sql, *args)
        return int(rows[0]["n"])

    like = f"widget:soak-{run_id}-%"
    return {
        "responses": await count(
            "SELECT count(*) AS n FROM response WHERE idempotency_key LIKE {}", like
        ),
        "keys stored twice": await count(
            "SELECT count(*) AS n FROM (SELECT idempotency_key FROM response "
            "GROUP BY idempotency_key HAVING count(*) > 1) AS t"
        ),
        "waiting for rules": await count("SELECT count(*) AS n FROM rules_queue"),
        "detractors": await count(
            "SELECT count(*) AS n FROM response WHERE score <= 6 AND idempotency_key LIKE {}",
            like,
        ),
        # each detractor answer leaves one history event on its account's risk CTA (a later
        # comment on it may add a second, when it changes what the CTA says)
        "detractors acted on": await count(
            "SELECT count(*) AS n FROM response r WHERE r.score <= 6 "
            "AND r.idempotency_key LIKE {} AND EXISTS (SELECT 1 FROM cta_event e "
            "WHERE e.data ->> 'response_id' = CAST(r.id AS TEXT))",
            like,
        ),
    }


async def waiting_for_rules() -> int:
    from feedback.ctas.rules import answers_awaiting_rules

    return (await answers_awaiting_rules())[0]


def percentile(values: array, fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def soak(args: argparse.Namespace, database_url: str) -> int:
    run_id = secrets.token_hex(3)
    env = child_env(database_url, secrets.token_urlsafe(32), None)
    for name in [k for k in os.environ if k.startswith("FEEDBACK_")]:
        del os.environ[name]
    os.environ.update({k: v for k, v in env.items() if k.startswith("FEEDBACK_")})
    sys.path.insert(0, str(ROOT))
    migrate = [sys.executable, "-m", "feedback", "migrate"]
    subprocess.run(migrate, cwd=ROOT, env=env, check=True, capture_output=True)  # noqa: S603
    key, _ = asyncio.run(seed(run_id))
    print(
        f"soak: {args.duration:g} s at {args.rate:g} visits/s ({RETURNING_SHARE:.0%} returning "
        f"users), every survey shown answered, {COMMENT_SHARE:.0%} with a comment; "
        "feedback serve --workers 2 + feedback worker; PostgreSQL"
    )
    samples: list[tuple[float, dict[str, int], int]] = []
    with tempfile.TemporaryDirectory(prefix="feedback-soak-") as tmp:
        port = free_port()
        worker_log = (Path(tmp) / "worker.log").open("w")
        worker = subprocess.Popen(
            [sys.executable, "-m", "feedback", "worker"],
            cwd=ROOT,
            env=env,
            stdout=worker_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            with server(env, port, 2, Path(tmp) / "server.log") as server_pid:
                processes = {
                    **{label(p, i): p for i, p in enumerate(children(server_pid))},
                    "serve parent": server_pid,
                    "feedback worker": worker.pid,
                }
                load = Soak(port, key, run_id, args.rate, args.duration)

                async def sample_loop() -> None:
                    begin = time.monotonic()
                    while True:
                        rss = {name: rss_kib(pid) for name, pid in processes.items()}
                        samples.append((time.monotonic() - begin, rss, await waiting_for_rules()))
                        await asyncio.sleep(args.sample)

                async def both() -> None:
                    sampler = asyncio.create_task(sample_loop())
                    try:
                        await load.run()
                    finally:
                        sampler.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await sampler

                asyncio.run(both())
                drained_in = time.monotonic()
                while asyncio.run(waiting_for_rules()) and time.monotonic() - drained_in < 120:
                    time.sleep(0.2)
                drained_in = time.monotonic() - drained_in
                final = {name: rss_kib(pid) for name, pid in processes.items()}
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=30)
            worker_log.close()
    counts = asyncio.run(database_counts(run_id))
    return report(load, samples, final, counts, drained_in)


def report(
    load: Soak,
    samples: list[tuple[float, dict[str, int], int]],
    final: dict[str, int],
    counts: dict[str, int],
    drained_in: float,
) -> int:
    totals = load.totals
    print("per minute: requests/s, p50 / p99 ms, errors")
    for minute, stats in sorted(totals.minutes.items()):
        seconds = min(60.0, load.duration - 60 * minute) or 60.0
        print(
            f"  {minute + 1:>3}: {stats.requests / seconds:7.1f}/s  "
            f"{percentile(stats.latencies, 0.5):6.1f} / {percentile(stats.latencies, 0.99):6.1f} ms"
            f"  errors {stats.errors}"
        )
    errors = sum(m.errors for m in totals.minutes.values())
    requests = sum(m.requests for m in totals.minutes.values())
    print(f"requests {requests:,}, errors {errors}, surveys shown {totals.shown:,}")
    for sample in totals.error_samples:
        print(f"  error: {sample}")
    print("memory (RSS MiB): start / after 1 min / end / peak")
    flat = True
    warm = next((s for s in samples if s[0] >= 60), samples[0] if samples else None)
    for name in final:
        series = [s[1][name] for s in samples] + [final[name]]
        start, end, peak = series[0], final[name], max(series)
        after_warmup = warm[1][name] if warm else start
        grew = (end - after_warmup) / after_warmup if after_warmup else 0.0
        flat = flat and grew <= FLAT_TOLERANCE
        print(
            f"  {name:<16} {start / 1024:6.1f} / {after_warmup / 1024:6.1f} / {end / 1024:6.1f}"
            f" / {peak / 1024:6.1f}  ({grew:+.1%} after warm-up)"
        )
    backlog = max((s[2] for s in samples), default=0)
    print(
        f"CTA rules queue: at most {backlog} answers waiting at a sample; "
        f"drained {drained_in:.1f} s after the end"
    )
    checks = [
        (f"errors: {errors}", errors == 0),
        (
            f"response rows {counts['responses']:,} = answers the client sent "
            f"{len(totals.answers_sent):,}",
            counts["responses"] == len(totals.answers_sent),
        ),
        (f"answers stored twice: {counts['keys stored twice']}", counts["keys stored twice"] == 0),
        (
            f"detractor answers acted on by the CTA rules: {counts['detractors acted on']:,} "
            f"of {counts['detractors']:,}",
            counts["detractors acted on"] == counts["detractors"],
        ),
        (
            f"answers still waiting for the CTA rules: {counts['waiting for rules']}",
            counts["waiting for rules"] == 0,
        ),
        (f"memory flat (end within {FLAT_TOLERANCE:.0%} of the 1-minute mark)", flat),
    ]
    ok = True
    for text, passed in checks:
        ok = ok and passed
        print(f"  {'ok  ' if passed else 'FAIL'} {text}")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=150.0, help="visits per second")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between RSS samples")
    args = parser.parse_args()
    name = f"feedback_soak_{secrets.token_hex(4)}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    code = 1
    try:
        code = soak(args, with_database(ADMIN_URL, name))
    except KeyboardInterrupt:
        code = 130
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        print(f"dropped database {name}")
    sys.exit(code)


if __name__ == "__main__":
    main()
