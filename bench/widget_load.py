"""Benchmark: the widget's endpoints under concurrent load, against the real server.

Starts `feedback serve` on a fresh database and, for each concurrency level, measures for a
fixed duration each:

- `GET /livez`, the baseline: no database, the cost of HTTP and the framework alone;
- `POST /widget/v1/{key}/eligibility`: 80 % repeat visitors (users checked and answered
  before, who get "not now"), 20 % new users (who get a survey reserved);
- `POST /widget/v1/{key}/responses`: one score per display token collected from shown
  surveys, each token answered once with a unique client id.

Prints requests/s, p50 and p99 latency and errors per step and the ratio of eligibility and
intake to /livez at the same concurrency; then each endpoint's throughput (its highest rate
over the ladder) and whether the goals hold on it (eligibility >= 0.5 x /livez's, intake
>= 0.33 x, on PostgreSQL), the levels where a ratio falls below its goal (at low concurrency
a rate is one request's latency inverted), and at c=1 the floor a durable write sets. It
checks the database afterwards:
one response row per successful intake post, no display answered twice, no user with two
open displays. It asserts nothing about timing; only a failed correctness check exits 1.

    .venv/bin/python bench/widget_load.py [--database-url URL] [--duration 10]
        [--concurrency 1,8,32,64] [--workers 2] [--redis-url URL]
        [--client-processes 1] [--client raw|httpx]

By default a database `feedback_bench_<random>` is created on the local PostgreSQL
(postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the end;
`--database-url sqlite:///path` runs on SQLite instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing
import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
HOST = "127.0.0.1"
ORIGIN = "http://bench.local"
NEW_USER_SHARE = 0.2
REPEAT_USERS = 1000
ACCOUNTS = 200
SETUP_CONCURRENCY = 16  # for priming users and preparing display tokens (not measured)
REQUEST_TIMEOUT = 30.0
CONNECT_PAUSE = 0.005  # seconds between opening two connections of a step
MAX_REQUESTS_PER_PROCESS = 2_000_000  # per step: a bound besides the duration
TOKEN_STEP_TIME_LIMIT = 120.0  # preparing display tokens for one intake step, at most
RATE_LIMIT = 1_000_000_000  # widget requests per minute, per IP and per key
PROC = Path("/proc")  # where CPU use is read from (Linux); without it none is shown
GOALS = {"eligibility": 0.5, "intake": 0.33}  # of /livez's throughput
# a ladder that stops below this many connections may not have saturated the server
SATURATED = 32


# -- the load generator (runs in worker processes) ---------------------------------------


@dataclass
class Task:
    """One process's share of a step."""

    kind: str  # livez | eligibility | new | prime | intake
    port: int
    key: str
    run_id: str
    tag: str  # unique per step and process: new user ids and client ids
    connections: int
    start_at: float  # time.time() when the requests begin
    duration: float  # seconds; the time limit for count-bounded steps
    client: str = "raw"
    max_requests: int = MAX_REQUESTS_PER_PROCESS
    repeat_range: tuple[int, int] = (0, REPEAT_USERS)
    tokens: list[str] = field(default_factory=list)
    seed: int = 0


@dataclass
class Result:
    requests: int = 0
    ok: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    latencies: array = field(default_factory=lambda: array("d"))
    tokens: list[str] = field(default_factory=list)  # display tokens of surveys shown
    shown: int = 0
    not_now: int = 0
    unexpected: list[str] = field(default_factory=list)
    created: int = 0  # intake: 201 answers
    tokens_used: int = 0
    unused_tokens: list[str] = field(default_factory=list)
    exhausted: bool = False  # a count-bounded source ran out before the time limit
    cpu_seconds: float = 0.0
    elapsed: float = 0.0

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 3:
            self.error_samples.append(message)

    def merge(self, other: Result) -> None:
        self.requests += other.requests
        self.ok += other.ok
        self.errors += other.errors
        self.error_samples = (self.error_samples + other.error_samples)[:3]
        self.latencies.extend(other.latencies)
        self.tokens.extend(other.tokens)
        self.shown += other.shown
        self.not_now += other.not_now
        self.unexpected = (self.unexpected + other.unexpected)[:3]
        self.created += other.created
        self.tokens_used += other.tokens_used
        self.unused_tokens.extend(other.unused_tokens)
        self.exhausted = self.exhausted or other.exhausted
        self.cpu_seconds += other.cpu_seconds
        self.elapsed = max(self.elapsed, other.elapsed)


def account_for(run_id: str, n: int) -> str:
    return f"bench-{run_id}-acct-{n % ACCOUNTS}"


def check_body(user_id: str, account_id: str) -> bytes:
    return json.dumps(
        {
            "user_id": user_id,
            "account_id": account_id,
            "traits": {
                "role": "admin",
                "plan": "premium",
                "locale": "en-US",
                "account_name": f"Company {account_id}",
                "team": "blue",
            },
            "url": f"{ORIGIN}/dashboard",
        }
    ).encode()


class Source:
    """What each request of a step is, and what a good answer to it looks like."""

    def __init__(self, task: Task, result: Result) -> None:
        self.task = task
        self.result = result
        self.rng = random.Random(task.seed)
        self.count = 0
        self.tokens = iter(task.tokens)
        self.repeat = iter(range(*task.repeat_range))
        base = f"/widget/v1/{task.key}"
        self.eligibility = f"{base}/eligibility"
        self.responses = f"{base}/responses"

    def next(self) -> tuple[str, str, bytes, str] | None:
        """(method, path, body, kind of answer expected), or None when the source is done."""
        if self.count >= self.task.max_requests:
            self.result.exhausted = True
            return None
        self.count += 1
        kind, run_id = self.task.kind, self.task.run_id
        if kind == "livez":
            return "GET", "/livez", b"", "livez"
        if kind == "prime":
            n = next(self.repeat, None)
            if n is None:
                self.result.exhausted = True
                return None
            return (
                "POST",
                self.eligibility,
                check_body(repeat_user(run_id, n), account_for(run_id, n)),
                "new",
            )
        if kind == "intake":
            token = next(self.tokens, None)
            if token is None:
                self.result.exhausted = True
                return None
            self.result.tokens_used += 1
            body = {
                "display_token": token,
                "client_id": f"bench-{run_id}-{self.task.tag}-{self.count}",
                "score": self.count % 11,
            }
            return "POST", self.responses, json.dumps(body).encode(), "intake"
        if kind == "new" or self.rng.random() < NEW_USER_SHARE:
            user = f"bench-{run_id}-{self.task.tag}-{self.count}"
            account = account_for(run_id, self.rng.randrange(ACCOUNTS))
            return "POST", self.eligibility, check_body(user, account), "new"
        n = self.rng.randrange(REPEAT_USERS)
        return (
            "POST",
            self.eligibility,
            check_body(repeat_user(run_id, n), account_for(run_id, n)),
            "repeat",
        )

    def answered(self, expected: str, status: int, body: bytes) -> None:
        result = self.result
        if not 200 <= status < 300:
            result.error(f"HTTP {status}: {body[:200]!r}")
            return
        result.ok += 1
        if expected == "new":
            answer = json.loads(body)
            if answer.get("show") and answer.get("display_token"):
                result.shown += 1
                result.tokens.append(answer["display_token"])
            else:
                result.not_now += 1
                if len(result.unexpected) < 3:
                    result.unexpected.append(f"new user not shown a survey: {body[:200]!r}")
        elif expected == "repeat":
            if b'"show":false' in body:
                result.not_now += 1
            else:
                answer = json.loads(body)
                if answer.get("display_token"):
                    result.shown += 1
                    result.tokens.append(answer["display_token"])
                if len(result.unexpected) < 3:
                    result.unexpected.append(f"repeat visitor shown a survey: {body[:200]!r}")
        elif expected == "intake":
            if status == 201:
                result.created += 1
            elif len(result.unexpected) < 3:
                result.unexpected.append(f"intake answered {status} (a retry?): {body[:200]!r}")


def repeat_user(run_id: str, n: int) -> str:
    return f"bench-{run_id}-repeat-{n}"


class RawConnection:
    """HTTP/1.1 with keep-alive on asyncio streams: the least client work per request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.head = (
            f"Host: {HOST}:{port}\r\nOrigin: {ORIGIN}\r\nUser-Agent: widget-load\r\n"
        ).encode()

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            await self.connect()
        assert self.writer is not None and self.reader is not None
        line = f"{method} {path} HTTP/1.1\r\n".encode()
        if body:
            extra = f"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: {len(body)}\r\n"
            self.writer.write(line + self.head + extra.encode() + b"\r\n" + body)
        else:
            self.writer.write(line + self.head + b"\r\n")
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        close = False
        for header in head.split(b"\r\n")[1:]:
            name, _, value = header.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise RuntimeError("chunked responses are not supported by this client")
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, payload


class HttpxConnection:
    """The same interface over one shared httpx.AsyncClient (for comparison: --client httpx)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def connect(self) -> None:
        return None

    def close(self) -> None:
        return None

    async def request(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        headers = {"origin": ORIGIN}
        if body:
            headers["content-type"] = "text/plain;charset=UTF-8"
        answer = await self.client.request(method, path, content=body or None, headers=headers)
        return answer.status_code, answer.content


async def drive(task: Task) -> Result:
    result = Result()
    source = Source(task, result)
    httpx_client = None
    if task.client == "httpx":
        import httpx

        httpx_client = httpx.AsyncClient(
            base_url=f"http://{HOST}:{task.port}",
            limits=httpx.Limits(max_connections=task.connections),
            timeout=REQUEST_TIMEOUT,
        )
        connections: list[Any] = [HttpxConnection(httpx_client) for _ in range(task.connections)]
    else:
        connections = [RawConnection(task.port) for _ in range(task.connections)]
        for connection in connections:
            # one at a time: a burst of connects is accepted by whichever server process
            # wakes first, which then serves them all while the others idle
            await connection.connect()
            await asyncio.sleep(CONNECT_PAUSE)
    await asyncio.sleep(max(0.0, task.start_at - time.time()))
    cpu_start = time.process_time()
    started = time.perf_counter()
    deadline = started + task.duration
    latencies = result.latencies

    async def loop(connection: Any) -> None:
        while time.perf_counter() < deadline:
            request = source.next()
            if request is None:
                return
            method, path, body, expected = request
            result.requests += 1
            sent = time.perf_counter()
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    status, payload = await connection.request(method, path, body)
            except Exception as exc:  # any failure is counted, then the connection is renewed
                result.error(f"{type(exc).__name__}: {exc}")
                connection.close()
                continue
            latencies.append((time.perf_counter() - sent) * 1000)
            source.answered(expected, status, payload)

    try:
        await asyncio.gather(*(loop(c) for c in connections))
    finally:
        result.elapsed = time.perf_counter() - started
        result.cpu_seconds = time.process_time() - cpu_start
        result.unused_tokens = list(source.tokens)
        for connection in connections:
            connection.close()
        if httpx_client is not None:
            await httpx_client.aclose()
    return result


def run_task(task: Task) -> Result:
    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(drive(task))


def ignore_sigint() -> None:
    # the parent handles Ctrl-C and terminates the pool
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# -- measuring machine load ------------------------------------------------------------


def cpu_by_process(root: int) -> tuple[dict[int, float], dict[int, float]]:
    """CPU seconds (user + system) used so far by `root` and each of its descendants, and by
    each PostgreSQL server process (read from /proc)."""
    if not PROC.is_dir():
        return {}, {}
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    postgres: dict[int, float] = {}
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        try:
            stat = (PROC / entry / "stat").read_text()
        except OSError:
            continue
        name, _, rest = stat.partition(" (")[2].rpartition(")")
        fields = rest.split()
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = (int(fields[11]) + int(fields[12])) / ticks
        if name == "postgres":
            postgres[int(entry)] = used[int(entry)]
    tree = {root}
    grew = True
    while grew:
        grew = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                grew = True
    return {pid: used.get(pid, 0.0) for pid in tree}, postgres


def system_cpu() -> float:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    if not PROC.is_dir():
        return 0.0
    values = [int(v) for v in (PROC / "stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


@dataclass
class Step:
    name: str
    concurrency: int
    result: Result
    server_cpu: dict[int, float]  # per server process
    postgres_cpu: float
    system_cpu: float

    @property
    def rps(self) -> float:
        return self.result.ok / self.result.elapsed if self.result.elapsed else 0.0

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.result.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Load:
    """Runs steps on a pool of load-generator processes and measures where the CPU went."""

    def __init__(
        self, pool: Any, processes: int, port: int, key: str, run_id: str, client: str, pid: int
    ) -> None:
        self.pool = pool
        self.processes = processes
        self.port = port
        self.key = key
        self.run_id = run_id
        self.client = client
        self.server_pid = pid
        self.steps = 0

    def run(self, kind: str, connections: int, duration: float, **extra: Any) -> Step:
        """`extra`: max_requests (in all), tokens, repeat_range, split among the processes."""
        self.steps += 1
        processes = max(1, min(self.processes, connections))
        start_at = time.time() + 0.5 + connections * CONNECT_PAUSE * 2
        tokens: list[str] = extra.pop("tokens", [])
        total_requests = extra.pop("max_requests", None)
        low, high = extra.pop("repeat_range", (0, REPEAT_USERS))
        tasks = []
        for p in range(processes):
            share = connections // processes + (1 if p < connections % processes else 0)
            task = Task(
                kind=kind,
                port=self.port,
                key=self.key,
                run_id=self.run_id,
                tag=f"s{self.steps}p{p}",
                connections=share,
                start_at=start_at,
                duration=duration,
                client=self.client,
                tokens=tokens[p::processes],
                repeat_range=(
                    low + (high - low) * p // processes,
                    low + (high - low) * (p + 1) // processes,
                ),
                seed=hash((self.run_id, self.steps, p)),
                **extra,
            )
            if total_requests is not None:
                task.max_requests = total_requests // processes + (
                    1 if p < total_requests % processes else 0
                )
            tasks.append(task)
        server_before, postgres_before = cpu_by_process(self.server_pid)
        system_before = system_cpu()
        pending = [self.pool.apply_async(run_task, (task,)) for task in tasks]
        merged = Result()
        for job in pending:
            merged.merge(job.get(timeout=duration + REQUEST_TIMEOUT + 60))
        server_after, postgres_after = cpu_by_process(self.server_pid)
        return Step(
            name=kind,
            concurrency=connections,
            result=merged,
            server_cpu={
                pid: used - server_before.get(pid, 0.0) for pid, used in server_after.items()
            },
            # processes that ended during the step are missing: a slight undercount
            postgres_cpu=sum(
                used - postgres_before.get(pid, 0.0) for pid, used in postgres_after.items()
            ),
            system_cpu=system_cpu() - system_before,
        )


# -- database, server ------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    return urlsplit(url)._replace(path="/" + name).geturl()


async def pg_admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(ADMIN_URL, timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


# the write-ahead log's position in bytes: what was written between two readings (every
# table and index change, and each commit, goes through it)
WAL_POSITION = "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"
# the response table with its indexes, dead row versions included (until a vacuum)
RESPONSE_BYTES = "SELECT pg_total_relation_size('response')"


def pg_number(database_url: str, sql: str) -> int:
    """One number read from the benchmark's PostgreSQL database."""
    import asyncpg

    async def read() -> int:
        connection = await asyncpg.connect(database_url, timeout=10)
        try:
            return int(await connection.fetchval(sql))
        finally:
            await connection.close()

    return asyncio.run(read())


async def refresh_statistics(database_url: str) -> bool:
    """ANALYZE the benchmark's database (PostgreSQL), as autovacuum would: the tables grow
    from nothing to ~100,000 rows within minutes, and a statement's cached plan made while a
    table was tiny (a sequential scan) stays until statistics change. Returns whether
    autovacuum is on, for the report: where it is off, plans would never be refreshed."""
    import asyncpg

    connection = await asyncpg.connect(database_url, timeout=10)
    try:
        await connection.execute("ANALYZE")
        return bool(await connection.fetchval("SELECT current_setting('autovacuum') = 'on'"))
    finally:
        await connection.close()


@dataclass
class Floor:
    """What one durable write costs on this database, whatever the service does around it."""

    round_trip: float  # seconds, median of `SELECT 1`
    durable_write: float  # seconds, median of a one-row INSERT committed on its own

    def intake_bound(self, livez: Step) -> float:
        """The most answers per second one connection could get: each waits for the HTTP
        work of a /livez request and for one durable write (a commit's flush), nothing
        else."""
        return 1.0 / (1.0 / livez.rps + self.durable_write) if livez.rps else 0.0


async def durable_write_floor(database_url: str, samples: int = 500) -> Floor:
    """Time `SELECT 1` and a one-row INSERT in autocommit, each `samples` times, from one
    connection, on a scratch table dropped afterwards: the commit's flush to the WAL is the
    part of every answer's latency no code of the service can remove (answers are committed
    before the 201)."""
    import asyncpg

    connection = await asyncpg.connect(database_url, timeout=10)
    try:
        await connection.execute(
            "CREATE TABLE IF NOT EXISTS bench_floor (id bigserial PRIMARY KEY, at timestamptz)"
        )
        timings: dict[str, list[float]] = {"SELECT 1": [], "INSERT": []}
        for _ in range(samples):
            for sql in timings:
                started = time.perf_counter()
                if sql == "INSERT":
                    await connection.execute("INSERT INTO bench_floor (at) VALUES (now())")
                else:
                    await connection.fetchval(sql)
                timings[sql].append(time.perf_counter() - started)
        await connection.execute("DROP TABLE bench_floor")
    finally:
        await connection.close()
    median = {sql: sorted(values)[len(values) // 2] for sql, values in timings.items()}
    return Floor(round_trip=median["SELECT 1"], durable_write=median["INSERT"])


def child_env(database_url: str, secret: str, redis_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACK_")}
    env.update(
        FEEDBACK_DATABASE_URL=database_url,
        FEEDBACK_SECRET_KEY=secret,
        FEEDBACK_ENV="production",
        FEEDBACK_LOG_LEVEL="WARNING",
        FEEDBACK_METRICS_TOKEN=METRICS_TOKEN,
        # one client IP sends everything: limits far above any rate reached here, so the
        # in-memory limiter still counts every request but never refuses one
        FEEDBACK_WIDGET_RATE_PER_IP=str(RATE_LIMIT),
        FEEDBACK_WIDGET_RATE_PER_KEY=str(RATE_LIMIT),
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    if redis_url:
        env["FEEDBACK_REDIS_URL"] = redis_url
    return env


async def seed(run_id: str) -> tuple[str, int]:
    """A survey, a schedule that asks new users at once, and a widget key for ORIGIN."""
    from feedback.surveys.models import Schedule, Survey, WidgetKey

    survey = Survey(name="Bench NPS", product_name="Bench", promoter_link_url=f"{ORIGIN}/r")
    await survey.save()
    await Schedule(survey=survey.id, name="bench", first_survey_after_days=0).save()
    key = WidgetKey(
        key=f"wk_bench_{run_id}",
        name="bench",
        environment="production",
        allowed_origins=[ORIGIN],
        require_identity=False,
    )
    await key.save()
    return key.key, key.id


async def verify(run_id: str, key_id: int) -> dict[str, int]:
    from feedback.responses.models import Response

    async def count(sql: str, *args: Any) -> int:
        rows = await Response.raw(sql, *args)
        return int(rows[0]["n"])

    return {
        "responses": await count(
            "SELECT count(*) AS n FROM response WHERE idempotency_key LIKE {}",
            f"widget:bench-{run_id}-%",
        ),
        "displays": await count("SELECT count(*) AS n FROM display WHERE widget_key = {}", key_id),
        "displays answered twice": await count(
            "SELECT count(*) AS n FROM (SELECT display FROM response WHERE display IS NOT NULL "
            "GROUP BY display HAVING count(*) > 1) AS t"
        ),
        "users with two open displays": await count(
            "SELECT count(*) AS n FROM (SELECT end_user FROM display WHERE status = 'shown' "
            "GROUP BY end_user HAVING count(*) > 1) AS t"
        ),
        "answers waiting for the CTA rules": await count("SELECT count(*) AS n FROM rules_queue"),
        "detractor answers": await count(
            "SELECT count(*) AS n FROM response WHERE score <= 6 AND idempotency_key LIKE {}",
            f"widget:bench-{run_id}-%",
        ),
        # every detractor answer leaves exactly one event on its account's risk CTA
        "detractor answers acted on once": await count(
            # (a join, not a subquery per answer: that read the history once per answer)
            "SELECT count(*) AS n FROM response r JOIN (SELECT data ->> 'response_id' AS id, "
            "count(*) AS events FROM cta_event GROUP BY 1) AS e ON e.id = CAST(r.id AS TEXT) "
            "WHERE r.score <= 6 AND r.idempotency_key LIKE {} AND e.events = 1",
            f"widget:bench-{run_id}-%",
        ),
    }


async def rules_backlog() -> int:
    from feedback.ctas.rules import answers_awaiting_rules

    return (await answers_awaiting_rules())[0]


def wait_for_rules(limit: float = 120.0) -> tuple[int, float]:
    """The answers still waiting for the CTA rules when a step ends, and how long the
    service's rule runners took to act on them (they share the CPU with the load)."""
    started = time.perf_counter()
    waiting = asyncio.run(rules_backlog())
    while asyncio.run(rules_backlog()) and time.perf_counter() - started < limit:
        time.sleep(0.1)
    return waiting, time.perf_counter() - started


def code_version() -> str:
    """The commit measured, and whether the service code differs from it."""
    try:
        commit = subprocess.run(  # noqa: S603 - fixed git command
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(  # noqa: S603 - fixed git command
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "feedback"],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"git {commit}" + (" with uncommitted changes in feedback/" if changed else "")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


METRICS_TOKEN = secrets.token_urlsafe(16)
METRICS_SCRAPES = 200  # at most: each scrape reaches one serve process, whichever accepts


ANSWER_BATCHES = "feedback_answer_batch_size"
NEW_USER_BATCHES = "feedback_new_user_batch_size"


def batches(port: int, processes: int, metric: str) -> dict[str, tuple[float, float]]:
    """Statements and items written by a group commit (`metric`: its batch-size histogram)
    so far in each serve process met in scrapes of /metrics (told apart by
    `feedback_process_id`; their start times can be the same to the hundredth of a second);
    empty on SQLite, where answers and checks are written one at a time."""
    seen: dict[str, tuple[float, float]] = {}
    for _ in range(METRICS_SCRAPES):
        connection = http.client.HTTPConnection(HOST, port, timeout=5)
        try:
            connection.request(
                "GET", "/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"}
            )
            text = connection.getresponse().read().decode()
        finally:
            connection.close()
        values = dict(
            line.rsplit(" ", 1)
            for line in text.splitlines()
            if line.startswith(("feedback_process_id", f"{metric}_"))
        )
        process = values.get("feedback_process_id")
        count = values.get(f"{metric}_count")
        if process is not None and count is not None:
            seen[process] = (float(count), float(values[f"{metric}_sum"]))
        if len(seen) == processes:
            break
    return seen


def group_commit_line(
    before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]], items: str
) -> str | None:
    """Items per statement during a step, from the processes seen both before and after."""
    both = [p for p in after if p in before]
    if not both:
        return None
    statements = sum(after[p][0] - before[p][0] for p in both)
    written = sum(after[p][1] - before[p][1] for p in both)
    return (
        f"        group commit: {written:,.0f} {items} in {statements:,.0f} statements, "
        f"{written / max(statements, 1):.1f} per statement ({len(both)} of the serve "
        "processes seen)"
    )


def livez_answers(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", "/livez")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextlib.contextmanager
def server(env: dict[str, str], port: int, workers: int, log: Path) -> Iterator[int]:
    command = [sys.executable, "-m", "feedback", "serve", "--host", HOST, "--port", str(port)]
    with log.open("w") as output:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [*command, "--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the benchmark only, which stops it
        )
    try:
        deadline = time.monotonic() + 60
        while not livez_answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process.pid
    finally:
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


# -- the run ---------------------------------------------------------------------------


def describe(step: Step, cores: int, baseline: Step | None = None) -> str:
    r = step.result
    text = (
        f"  c={step.concurrency:<3} {step.name:<11} {step.rps:>8,.0f} req/s  "
        f"p50 {step.percentile(0.5):7.2f} ms  p99 {step.percentile(0.99):7.2f} ms  "
        f"errors {r.errors}"
    )
    if baseline is not None and baseline.rps:
        text += f"  = {step.rps / baseline.rps:.2f} x livez"
    if r.elapsed:
        client = r.cpu_seconds / r.elapsed
        per_process = sorted(
            (used / r.elapsed for used in step.server_cpu.values() if used / r.elapsed >= 0.01),
            reverse=True,
        )
        server_cores = sum(step.server_cpu.values()) / r.elapsed
        postgres = step.postgres_cpu / r.elapsed
        other = max(0.0, step.system_cpu / r.elapsed - client - server_cores - postgres)
        split = " + ".join(f"{used:.2f}" for used in per_process)
        text += (
            f"\n        cpu (cores of {cores}): client {client:.2f}, server {server_cores:.2f} "
            f"({split}), postgres {postgres:.2f}, rest (kernel, other processes) {other:.2f}"
        )
    if step.name == "eligibility":
        text += f"; shown {r.shown}, not now {r.not_now}"
    if step.name == "intake":
        text += f"; created {r.created}"
        if r.exhausted:
            text += f"; display tokens ran out after {r.elapsed:.1f} s"
    for sample in r.error_samples:
        text += f"\n        error: {sample}"
    for sample in r.unexpected:
        text += f"\n        unexpected: {sample}"
    return text


def benchmark(args: argparse.Namespace, database_url: str, engine: str) -> int:
    run_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(32)
    env = child_env(database_url, secret, args.redis_url)
    for name in [k for k in os.environ if k.startswith("FEEDBACK_")]:
        del os.environ[name]
    os.environ.update({k: v for k, v in env.items() if k.startswith("FEEDBACK_")})
    sys.path.insert(0, str(ROOT))

    migrated = subprocess.run(
        [sys.executable, "-m", "feedback", "migrate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if migrated.returncode != 0:
        raise SystemExit(f"migrate failed:\n{migrated.stdout}{migrated.stderr}")
    key, key_id = asyncio.run(seed(run_id))
    cores = os.cpu_count() or 1
    before = system_cpu()
    time.sleep(1.0)
    background = system_cpu() - before
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]
    postgres = engine == "PostgreSQL"
    print(
        f"database: {engine} ({database_url.split('@')[-1]})"
        + (
            "; the goals are stated for PostgreSQL, shown for information"
            if engine == "SQLite"
            else ""
        )
    )
    print(
        f"server: feedback serve --workers {args.workers}; load: {args.client_processes} "
        f"process(es), {args.client} HTTP/1.1 keep-alive client; {cores} CPU cores shared by "
        f"all; loopback; widget rate limits raised to {RATE_LIMIT:,}/min, counted "
        + (f"in Redis ({args.redis_url})" if args.redis_url else "in memory")
    )
    print(f"code: {code_version()}")
    print(
        f"machine busy before the run: {background:.2f} of {cores} cores (other processes; "
        "they share the CPU with the benchmark)"
    )
    print(
        f"steps: {args.duration:g} s each; eligibility = {100 - NEW_USER_SHARE * 100:.0f} % "
        f"repeat visitors (pool of {REPEAT_USERS}, already asked and answered) + "
        f"{NEW_USER_SHARE * 100:.0f} % new users"
    )

    with tempfile.TemporaryDirectory(prefix="feedback-bench-") as tmp:
        port = free_port()
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(args.client_processes, initializer=ignore_sigint)
        answered = 0
        shown = 0
        summary: list[tuple[int, Step, Step, Step]] = []
        floor: Floor | None = None
        try:
            with server(env, port, args.workers, Path(tmp) / "server.log") as server_pid:
                load = Load(pool, args.client_processes, port, key, run_id, args.client, server_pid)
                # warm up; then the repeat visitors: each asked once and answering, so their
                # later checks run the whole decision and get "not now"
                load.run("livez", 8, 1.0)
                primed = load.run("prime", SETUP_CONCURRENCY, TOKEN_STEP_TIME_LIMIT)
                scored = load.run(
                    "intake", SETUP_CONCURRENCY, TOKEN_STEP_TIME_LIMIT, tokens=primed.result.tokens
                )
                shown += primed.result.shown
                answered += scored.result.created
                if (
                    primed.result.errors
                    or scored.result.errors
                    or primed.result.shown < REPEAT_USERS
                ):
                    print(describe(primed, cores))
                    print(describe(scored, cores))
                    raise SystemExit("priming the repeat visitors failed")
                print(
                    f"primed {REPEAT_USERS} repeat visitors in {ACCOUNTS} accounts "
                    f"({primed.rps:,.0f} checks/s, {scored.rps:,.0f} answers/s at "
                    f"c={SETUP_CONCURRENCY})\n"
                )
                tokens: list[str] = []
                if engine == "PostgreSQL" and not asyncio.run(refresh_statistics(database_url)):
                    print(
                        "autovacuum is off on this server: the benchmark runs ANALYZE before "
                        "each step instead, as autovacuum would keep the statistics current\n"
                    )
                for level in levels:
                    print(f"concurrency {level}:")
                    if engine == "PostgreSQL" and level != levels[0]:  # the first: just done
                        asyncio.run(refresh_statistics(database_url))
                    livez = load.run("livez", level, args.duration)
                    print(describe(livez, cores))
                    checks_before = batches(port, args.workers, NEW_USER_BATCHES)
                    check = load.run("eligibility", level, args.duration)
                    checks_after = batches(port, args.workers, NEW_USER_BATCHES)
                    print(describe(check, cores, livez))
                    line = group_commit_line(checks_before, checks_after, "new users' checks")
                    if line:
                        print(line)
                    shown += check.result.shown
                    tokens.extend(check.result.tokens)
                    # enough tokens for the intake step at about twice eligibility's rate;
                    # if intake is faster still it stops early and its rate stays right
                    wanted = int(check.rps * args.duration * 2) + level * 10
                    if len(tokens) < wanted:
                        started = time.perf_counter()
                        made = load.run(
                            "new",
                            max(level, SETUP_CONCURRENCY),
                            TOKEN_STEP_TIME_LIMIT,
                            max_requests=wanted - len(tokens),
                        )
                        shown += made.result.shown
                        tokens.extend(made.result.tokens)
                        print(
                            f"        (prepared {made.result.shown} display tokens for intake in "
                            f"{time.perf_counter() - started:.1f} s)"
                        )
                    if engine == "PostgreSQL":
                        asyncio.run(refresh_statistics(database_url))
                    batches_before = batches(port, args.workers, ANSWER_BATCHES)
                    wal_before = pg_number(database_url, WAL_POSITION) if postgres else 0
                    intake = load.run("intake", level, args.duration, tokens=tokens)
                    batches_after = batches(port, args.workers, ANSWER_BATCHES)
                    answered += intake.result.created
                    # tokens not sent stay for the next level; sent ones are never reused
                    tokens = intake.result.unused_tokens
                    print(describe(intake, cores, livez))
                    line = group_commit_line(batches_before, batches_after, "answers")
                    if line:
                        print(line)
                    waiting, drained = wait_for_rules()
                    print(
                        f"        CTA rules: {waiting} answers waiting when the step ended, "
                        f"all acted on {drained:.1f} s later"
                    )
                    if postgres and intake.result.created:
                        wal = pg_number(database_url, WAL_POSITION) - wal_before
                        print(
                            f"        write-ahead log: {wal / intake.result.created:,.0f} bytes "
                            "per answer (the answer and its CTA rules)"
                        )
                    if engine == "PostgreSQL" and level == 1:
                        floor = asyncio.run(durable_write_floor(database_url))
                        bound = floor.intake_bound(livez)
                        print(
                            f"        floor: a one-row durable write takes "
                            f"{floor.durable_write * 1000:.2f} ms here (round trip alone "
                            f"{floor.round_trip * 1000:.2f} ms); with /livez's "
                            f"{1000 / livez.rps:.2f} ms per request, no intake that commits "
                            f"each answer can pass {bound:,.0f}/s at c=1 "
                            f"({bound / livez.rps:.2f} x livez)"
                        )
                    summary.append((level, livez, check, intake))
                    print()
        finally:
            pool.terminate()
            pool.join()

    checks = asyncio.run(verify(run_id, key_id))
    if postgres and checks["responses"]:
        size = pg_number(database_url, RESPONSE_BYTES)
        print(
            f"response table and indexes: {size / checks['responses']:,.0f} bytes per answer "
            f"({size / 2**20:,.0f} MiB for {checks['responses']:,}; no vacuum ran)"
        )
    return report(engine, summary, checks, answered, shown, args.client_processes, floor)


def throughput(summary: list[tuple[int, Step, Step, Step]]) -> dict[str, tuple[float, int]]:
    """Each endpoint's throughput: its highest rate over the ladder, and the concurrency it
    was reached at (each endpoint saturates the server at its own concurrency)."""
    peaks: dict[str, tuple[float, int]] = {}
    for level, *steps in summary:
        for step in steps:
            if step.rps > peaks.get(step.name, (-1.0, 0))[0]:
                peaks[step.name] = (step.rps, level)
    return peaks


def report(
    engine: str,
    summary: list[tuple[int, Step, Step, Step]],
    checks: dict[str, int],
    answered: int,
    shown: int,
    processes: int,
    floor: Floor | None = None,
) -> int:
    print(f"summary ({engine}): requests/s (ratio to /livez at the same concurrency)")
    print(
        f"  {'concurrency':>11} | {'livez':>8} | {'eligibility':>17} | {'intake':>17} | "
        f"{'p99 elig.':>9} | {'p99 intake':>10} | errors"
    )
    below: dict[str, list[str]] = {name: [] for name in GOALS}
    for level, livez, check, intake in summary:
        ratios = {}
        for step in (check, intake):
            ratios[step.name] = step.rps / livez.rps if livez.rps else 0.0
            if ratios[step.name] < GOALS[step.name]:
                below[step.name].append(f"c={level} ({ratios[step.name]:.2f}x)")
        errors = livez.result.errors + check.result.errors + intake.result.errors
        print(
            f"  {level:>11} | {livez.rps:>8,.0f} | "
            f"{check.rps:>8,.0f} ({ratios['eligibility']:5.2f}x) | "
            f"{intake.rps:>8,.0f} ({ratios['intake']:5.2f}x) | "
            f"{check.percentile(0.99):>6.1f} ms | {intake.percentile(0.99):>7.1f} ms | {errors}"
        )
    # the load generator must not be what limits /livez: it should stay well below a core
    busiest = max(
        (
            livez.result.cpu_seconds / livez.result.elapsed / min(processes, livez.concurrency)
            for _, livez, _, _ in summary
            if livez.result.elapsed
        ),
        default=0.0,
    )
    print(
        f"load generator: at most {busiest:.2f} of a core per process during /livez"
        + (" (not the limit)" if busiest < 0.8 else " (close to a full core: it may be the limit)")
    )
    peaks = throughput(summary)
    print("throughput: each endpoint's highest rate over the ladder, at its own concurrency")
    for name, (rps, level) in peaks.items():
        ratio = f" = {rps / peaks['livez'][0]:.2f} x livez" if name != "livez" else ""
        print(f"  {name:<11} {rps:>8,.0f} req/s (c={level}){ratio}")
    print("goals" + (" (stated for PostgreSQL; this run is SQLite)" if engine == "SQLite" else ""))
    for name, goal in GOALS.items():
        ratio = peaks[name][0] / peaks["livez"][0] if peaks["livez"][0] else 0.0
        verdict = "holds" if ratio >= goal else "does NOT hold"
        print(f"  {name} throughput >= {goal} x livez's: {verdict} ({ratio:.2f}x)")
    if max((level for level, *_ in summary), default=0) < SATURATED:
        print(
            f"  (no level reached c={SATURATED}: these rates may be below the endpoints' "
            "throughput, which is reached where more connections no longer add requests)"
        )
    print("at each concurrency (latency-bound at low concurrency: a rate there is 1 / latency)")
    for name, goal in GOALS.items():
        listed = ", ".join(below[name]) if below[name] else "none"
        print(f"  {name} below {goal} x livez at: {listed}")
    first = next((livez for level, livez, _, _ in summary if level == 1), None)
    if floor is not None and first is not None:
        print(
            f"  (at c=1 one durable write per answer bounds intake at "
            f"{floor.intake_bound(first) / first.rps:.2f} x livez on this machine: the floor line)"
        )

    print("correctness")
    ok = True
    lines = [
        (
            f"response rows {checks['responses']} = successful intake posts {answered}",
            checks["responses"] == answered,
        ),
        (
            f"displays {checks['displays']} = surveys shown to the client {shown}",
            checks["displays"] == shown,
        ),
        (
            f"displays answered twice: {checks['displays answered twice']}",
            checks["displays answered twice"] == 0,
        ),
        (
            f"users with two displays still shown: {checks['users with two open displays']}",
            checks["users with two open displays"] == 0,
        ),
        (
            f"answers waiting for the CTA rules: {checks['answers waiting for the CTA rules']}",
            checks["answers waiting for the CTA rules"] == 0,
        ),
        (
            f"detractor answers acted on by the CTA rules exactly once: "
            f"{checks['detractor answers acted on once']} of {checks['detractor answers']}",
            checks["detractor answers acted on once"] == checks["detractor answers"],
        ),
    ]
    for text, passed in lines:
        ok = ok and passed
        print(f"  {'ok  ' if passed else 'FAIL'} {text}")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default=None,
        help="default: a fresh PostgreSQL database on the local server, dropped at the end",
    )
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per step")
    parser.add_argument("--concurrency", default="1,8,32,64", help="connections, per level")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument(
        "--redis-url",
        default=None,
        help="rate-limit counters in this Redis, as in docker-compose.yml (default: in memory)",
    )
    parser.add_argument(
        "--client-processes",
        type=int,
        default=1,
        help="load-generator processes (one raw client uses well under a core at /livez rates)",
    )
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="raw asyncio HTTP/1.1 (default) or httpx.AsyncClient, which limits /livez itself",
    )
    args = parser.parse_args()

    created = None
    sqlite_files: list[Path] = []
    if args.database_url is None:
        created = f"feedback_bench_{secrets.token_hex(4)}"
        asyncio.run(pg_admin(f'CREATE DATABASE "{created}"'))
        database_url, engine = with_database(ADMIN_URL, created), "PostgreSQL"
    elif args.database_url.startswith("sqlite:///"):
        database_url, engine = args.database_url, "SQLite"
        path = Path(args.database_url.removeprefix("sqlite:///"))
        if not path.exists():  # made by this run: removed at the end
            sqlite_files = [path, Path(f"{path}-wal"), Path(f"{path}-shm")]
    else:
        database_url, engine = args.database_url, "PostgreSQL"

    def stop(signum: int, _: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    code = 1
    try:
        code = benchmark(args, database_url, engine)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    finally:
        if created is not None:
            asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)'))
            print(f"dropped database {created}")
        for file in sqlite_files:
            file.unlink(missing_ok=True)
        if sqlite_files:
            print(f"removed {sqlite_files[0]}")
    sys.exit(code)


if __name__ == "__main__":
    main()
