"""Faults: PostgreSQL restarted, then stopped for a few seconds, under widget traffic.

The database is a private cluster (initdb in a temporary directory, its own port), so that
restarting it disturbs no other test run. One `feedback serve` and one `feedback worker` run
against it for the whole test and are never restarted. Simulated widgets keep checking in and
answering; like widget/nps.js they keep each answer (with its client id) in a queue and send
it again after a network error, a 429 or a 5xx, until the service takes it.

- while the database is down the service answers at once: 503 with Retry-After and the usual
  error body for widget and API calls, /healthz 503 (database unreachable), /livez 200;
- once the database is back the same processes serve again within seconds;
- every answer arrives exactly once; every answer's CTA rules run (the answer rule runners
  survive), and every CTA reaches Slack (the outbox deliverers survive).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NoReturn

import asyncpg
import httpx
import pytest

from devtools.slack_standin import SlackStandIn
from tests.support.paths import ROOT
from tests.support.processes import free_port
from tests.support.slack import slack_env

pytestmark = pytest.mark.postgres_only

ORIGIN = "https://app.example.com"
HEADERS = {"content-type": "text/plain", "origin": ORIGIN}
KEY = "wk_live_pgrestart"
ACCOUNTS = 10
RECOVERY_SECONDS = 15.0  # the same processes serve again within this after the database is up
DOWN_SECONDS = 3.0  # how long the database stays stopped
# the widget waits 1, 2, 4 ... 60 s between tries; compressed here to keep the test short
RETRY_FIRST_SECONDS = 0.2
RETRY_MAX_SECONDS = 1.6


# -- a private PostgreSQL cluster ----------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """TEST_POSTGRES_BIN, else the newest /usr/lib/postgresql/*/bin, else pg_ctl on PATH."""
    candidates = []
    if os.environ.get("TEST_POSTGRES_BIN"):
        candidates.append(Path(os.environ["TEST_POSTGRES_BIN"]))
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates += versions
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        if all((directory / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def unavailable(reason: str) -> NoReturn:
    """Fail in CI (a missing tool must not pass unnoticed), skip with the reason elsewhere."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class PrivateCluster:
    bin_dir: Path
    home: Path
    port: int
    as_owner: list[str]  # the command prefix that runs a tool as the cluster's owner

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/feedback"

    def command(self, tool: str, *args: str) -> list[str]:
        return [*self.as_owner, str(self.bin_dir / tool), *args]

    def pg_ctl(self, *args: str) -> list[str]:
        return self.command("pg_ctl", "-D", str(self.data), "-l", str(self.home / "log"), *args)

    def run(self, command: list[str], timeout: float = 60) -> None:
        done = subprocess.run(
            command, cwd=self.home, capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")

    async def control(self, *args: str) -> float:
        """`pg_ctl ARGS -w` without blocking the event loop; how long it took."""
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *self.pg_ctl(*args, "-w", "-t", "30"),
            cwd=self.home,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {output.decode()}")
        return time.monotonic() - started

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def remove(self) -> None:
        """Stop the cluster whatever state a failed test left it in (stopped, paused)."""
        try:
            postmaster = self.postmaster_pid()
        except (OSError, ValueError, IndexError):
            return  # not running
        with contextlib.suppress(OSError):
            os.kill(postmaster, signal.SIGCONT)
        stopped = subprocess.run(
            self.pg_ctl("stop", "-m", "immediate", "-w", "-t", "30"),
            cwd=self.home,
            capture_output=True,
            timeout=60,
            check=False,
        )
        if stopped.returncode != 0:
            with contextlib.suppress(OSError):
                command = Path(f"/proc/{postmaster}/cmdline").read_bytes()
                if str(self.data).encode() in command:  # still this cluster's postmaster
                    os.kill(postmaster, signal.SIGKILL)


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        unavailable(
            "the PostgreSQL server binaries (initdb, pg_ctl, postgres) are missing: "
            "apt-get install postgresql, or set TEST_POSTGRES_BIN"
        )
    as_owner: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        runuser = shutil.which("runuser")
        if runuser is None:
            unavailable("running as root and runuser is missing (needed to run initdb)")
        try:
            import pwd

            pwd.getpwnam("postgres")
        except KeyError:
            unavailable("running as root and there is no `postgres` OS user to run initdb")
        as_owner = [runuser, "-u", "postgres", "--"]
    home = Path(tempfile.mkdtemp(prefix="feedback-pg-"))
    if as_owner:
        shutil.chown(home, user="postgres")
    cluster = PrivateCluster(bin_dir, home, free_port(), as_owner)
    started = False
    try:
        cluster.run(
            cluster.command(
                "initdb",
                "-D",
                str(cluster.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
        )
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(
                f"\nport = {cluster.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{home}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 50\nshared_buffers = 32MB\n"
            )
        started = True
        cluster.run(cluster.pg_ctl("start", "-w", "-t", "30"))
        cluster.run(
            cluster.command("createdb", "-h", "127.0.0.1", "-p", str(cluster.port), "feedback")
        )
        yield cluster
    finally:
        if started:
            cluster.remove()
        shutil.rmtree(home, ignore_errors=True)


# -- the service against it ------------------------------------------------------------------

SEED = """
import asyncio, sys

async def main() -> None:
    from feedback.ctas.rule_settings import update_cta_rules
    from feedback.db import close_database, open_database
    from feedback.kernel.principal import Role
    from feedback.surveys.models import Schedule, Survey, WidgetKey
    from tests.support.factories import import_csv, token

    await open_database()
    n = int(sys.argv[1])
    csms = "\\n".join(f"c{i}@example.com,C{i},C-{i}" for i in range(n))
    assert (await import_csv("csms", "email,name,slack_channel\\n" + csms)).ok
    rows = "\\n".join(f"pa{i},Account {i},c{i}@example.com" for i in range(n))
    assert (await import_csv("accounts", "external_id,name,csm_email\\n" + rows)).ok
    await update_cta_rules({"daily_digest": {"enabled": False}}, "test", "api")
    survey = Survey(name="NPS", product_name="Acme HR")
    await survey.save()
    await Schedule(survey=survey.id, name="quarterly", first_survey_after_days=0).save()
    await WidgetKey(key=sys.argv[2], name="restart", allowed_origins=[sys.argv[3]]).save()
    print(await token(Role.admin))
    await close_database()

asyncio.run(main())
"""


def feedback_process(args: list[str], env: dict[str, str], log: IO[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "feedback", *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )


async def query(url: str, sql: str) -> Any:
    """One value from the private cluster, on a connection of its own."""
    connection = await asyncpg.connect(url, timeout=5)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


async def eventually(
    check: Callable[[], Awaitable[bool]],
    seconds: float,
    interval: float = 0.1,
    what: str = "condition",
) -> float:
    """Poll the async `check` until it returns True; how long that took."""
    started = time.monotonic()
    last: Any = None
    while time.monotonic() - started < seconds:
        try:
            if await check():
                return time.monotonic() - started
        except Exception as exc:  # the service or the database still recovering
            last = exc
        await asyncio.sleep(interval)
    raise AssertionError(f"{what} not within {seconds} s (last error: {last!r})")


# -- widgets ------------------------------------------------------------------------------------


@dataclass
class Tally:
    """What the simulated widgets saw: statuses of failed tries, and which answers went."""

    phase: str = "before"  # of the scenario: before, restart, down, back
    failures: Counter[str] = field(default_factory=Counter)  # "phase call status": tries
    statuses: set[str] = field(default_factory=set)
    slowest_failure: float = 0.0
    sent: dict[str, int] = field(default_factory=dict)  # client id -> score, once taken
    not_shown: int = 0

    def failed(self, what: str, status: str, seconds: float) -> None:
        self.failures[f"{self.phase} {what} {status}"] += 1
        self.statuses.add(status)
        self.slowest_failure = max(self.slowest_failure, seconds)


async def widget(client: httpx.AsyncClient, number: int, tally: Tally, deadline: float) -> None:
    """One user's page: check in (again on the next page load after an error), then answer;
    the answer is queued and retried on network errors, 429 and 5xx as widget/nps.js does."""
    user = {"user_id": f"pr-{number}", "account_id": f"pa{number % ACCOUNTS}"}
    client_id = f"restart-{number}"
    score = number % 11

    async def attempt(path: str, body: dict[str, Any]) -> httpx.Response | None:
        started = time.monotonic()
        try:
            answer = await client.post(
                f"/widget/v1/{KEY}/{path}", content=json.dumps(body), headers=HEADERS
            )
        except httpx.TransportError as exc:
            tally.failed(path, type(exc).__name__, time.monotonic() - started)
            return None
        if answer.status_code >= 500 or answer.status_code == 429:
            tally.failed(path, str(answer.status_code), time.monotonic() - started)
            assert answer.headers["content-type"].startswith("application/json"), answer.text
            assert "error" in answer.json(), answer.text
            return None
        return answer

    wait = RETRY_FIRST_SECONDS
    token = None
    while token is None:
        assert time.monotonic() < deadline, f"{user} never got an eligibility answer"
        checked = await attempt("eligibility", user)
        if checked is not None:
            assert checked.status_code == 200, checked.text
            if not checked.json()["show"]:  # shown in a try whose answer was lost
                tally.not_shown += 1
                return
            token = checked.json()["display_token"]
            break
        await asyncio.sleep(wait)
        wait = min(wait * 2, RETRY_MAX_SECONDS)

    wait = RETRY_FIRST_SECONDS
    body = {"display_token": token, "client_id": client_id, "score": score}
    while True:
        assert time.monotonic() < deadline, f"the answer of {client_id} never arrived"
        answered = await attempt("responses", body)
        if answered is not None:
            assert answered.status_code in (200, 201), answered.text
            tally.sent[client_id] = score
            return
        await asyncio.sleep(wait)
        wait = min(wait * 2, RETRY_MAX_SECONDS)


async def widget_traffic(
    client: httpx.AsyncClient, tally: Tally, stop: asyncio.Event, every: float = 0.05
) -> None:
    """A new user every `every` seconds until `stop`, then wait for every user's answer."""
    users: list[asyncio.Task[None]] = []
    deadline = time.monotonic() + 90
    number = 0
    try:
        while not stop.is_set():
            users.append(asyncio.create_task(widget(client, number, tally, deadline)))
            number += 1
            await asyncio.sleep(every)
        await asyncio.gather(*users)
    finally:  # the test failed meanwhile: no user outlives it
        for user in users:
            user.cancel()
        await asyncio.gather(*users, return_exceptions=True)


# -- the test -----------------------------------------------------------------------------------


def migrate_and_seed(env: dict[str, str]) -> str:
    """The schema and the data on the private cluster (in child processes: this process's
    engine belongs to the suite's database); the admin API token."""
    for command in (["-m", "feedback", "migrate"], ["-c", SEED, str(ACCOUNTS), KEY, ORIGIN]):
        done = subprocess.run(
            [sys.executable, *command],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


async def widget_check(client: httpx.AsyncClient, user_id: str) -> httpx.Response:
    body = {"user_id": user_id, "account_id": "pa1"}
    return await client.post(
        f"/widget/v1/{KEY}/eligibility", content=json.dumps(body), headers=HEADERS
    )


async def restart_and_outage(
    cluster: PrivateCluster,
    client: httpx.AsyncClient,
    api_token: str,
    tally: Tally,
    report: dict[str, Any],
) -> None:
    async def healthy() -> bool:
        return (await client.get("/healthz")).status_code == 200

    # 1. a restart (fast shutdown: open sessions are cut)
    tally.phase = "restart"
    report["restart_seconds"] = round(await cluster.control("restart", "-m", "fast"), 2)
    report["recovered_after_restart"] = round(
        await eventually(healthy, RECOVERY_SECONDS, what="/healthz after the restart"), 2
    )

    # 2. down for a few seconds: quick JSON errors, never a hang
    tally.phase = "down"
    await cluster.control("stop", "-m", "fast")
    down_since = time.monotonic()
    health = await client.get("/healthz")
    assert health.status_code == 503, health.text
    assert health.json()["database"] == "unreachable"
    assert (await client.get("/livez")).status_code == 200
    calls = {
        "widget": widget_check(client, "pr-down"),
        "api": client.get("/api/v1/surveys", headers={"authorization": f"Bearer {api_token}"}),
    }
    for name, call in calls.items():
        started = time.monotonic()
        answer = await call
        assert time.monotonic() - started < 2, name
        assert answer.status_code == 503, (name, answer.text)
        assert int(answer.headers["retry-after"]) > 0, name
        assert answer.json() == {
            "error": "database unavailable",
            "detail": [{"field": "database", "message": answer.json()["detail"][0]["message"]}],
        }
    assert time.monotonic() - down_since < 5, "the calls while down were slow"
    await asyncio.sleep(max(0.0, DOWN_SECONDS - (time.monotonic() - down_since)))

    # 3. back: the same processes serve again
    await cluster.control("start")
    tally.phase = "back"

    async def serving() -> bool:
        return await healthy() and (await widget_check(client, "pr-back")).status_code == 200

    report["recovered_after_outage"] = round(
        await eventually(serving, RECOVERY_SECONDS, what="serving after the outage"), 2
    )


async def test_the_service_rides_out_a_database_restart_and_outage(
    private_postgres: PrivateCluster, standin: SlackStandIn, tmp_dir: Path
) -> None:
    cluster = private_postgres
    env = {
        **os.environ,
        **slack_env(standin.api_url, FEEDBACK_SLACK_LEASE_SECONDS="2"),
        "FEEDBACK_DATABASE_URL": cluster.url,
        "FEEDBACK_WIDGET_RATE_PER_IP": "0",
        "FEEDBACK_WIDGET_RATE_PER_KEY": "0",
        # the worker's jobs run once at start: afterwards only the runner loops act on answers
        "FEEDBACK_WORKER_INTERVAL_SECONDS": "3600",
        "FEEDBACK_DB_POOL_SIZE": "4",
    }
    api_token = migrate_and_seed(env)
    port = free_port()
    logs = {name: (tmp_dir / f"{name}.log").open("w") for name in ("serve", "worker")}
    processes = {
        "serve": feedback_process(["serve", "--port", str(port)], env, logs["serve"]),
        "worker": feedback_process(["worker"], env, logs["worker"]),
    }
    report: dict[str, Any] = {}
    tally = Tally()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            async def up() -> bool:
                return (await client.get("/healthz")).status_code == 200

            await eventually(up, 30, what="serve starting")
            stop = asyncio.Event()
            traffic = asyncio.create_task(widget_traffic(client, tally, stop))
            try:

                async def some_answers() -> bool:
                    return len(tally.sent) >= 10

                await eventually(some_answers, 20, what="answers before the restart")
                await restart_and_outage(cluster, client, api_token, tally, report)
                await asyncio.sleep(1.0)  # traffic after the recovery too
                stop.set()
                await asyncio.wait_for(traffic, 90)
            finally:
                traffic.cancel()  # (done already unless the test failed)
                await asyncio.gather(traffic, return_exceptions=True)
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited"
        # every try that failed was a quick 503: no 500, no hang, no dropped connection
        assert tally.statuses <= {"503"}, tally.failures
        assert tally.slowest_failure < 2

        # every answer once
        rows = await query(
            cluster.url,
            "SELECT json_object_agg(idempotency_key, n) FROM "
            "(SELECT idempotency_key, count(*) AS n FROM response GROUP BY 1) AS counted",
        )
        assert json.loads(rows) == {f"widget:{client_id}": 1 for client_id in tally.sent}

        # the answer rule runners (serve's and worker's loops) act on every answer
        async def rules_done() -> bool:
            sql = "SELECT count(*) FROM rules_queue"
            return await query(cluster.url, sql) == 0

        report["rules_drained"] = round(await eventually(rules_done, 15, what="answer rules"), 2)
        detractors = {
            number % ACCOUNTS
            for number in (int(c.removeprefix("restart-")) for c in tally.sent)
            if number % 11 <= 6
        }
        sql = "SELECT count(*) FROM cta WHERE type = 'risk'"
        assert await query(cluster.url, sql) == len(detractors)

        # the outbox deliverers (serve's and worker's) send every CTA to Slack
        async def delivered() -> bool:
            sql = "SELECT count(*) FROM outbox WHERE status <> 'sent'"
            return await query(cluster.url, sql) == 0

        report["outbox_drained"] = round(await eventually(delivered, 20, what="Slack outbox"), 2)
        posts = Counter(c.args["channel"] for c in standin.calls_to("chat.postMessage"))
        assert set(posts) == {f"C-{account}" for account in detractors}
        report["slack_posts"] = dict(posts)
        # both processes' loops work again: one stuck on a dead connection fails every second
        marks = {name: (tmp_dir / f"{name}.log").stat().st_size for name in logs}
        await asyncio.sleep(2.5)
        for name, mark in marks.items():
            with (tmp_dir / f"{name}.log").open() as log:
                log.seek(mark)
                later = log.read()
            assert "retrying" not in later and "failed" not in later, (name, later[-3000:])
        for name, process in processes.items():
            assert process.poll() is None, f"{name} exited"
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for log in logs.values():
            log.close()
        report.update(
            answers=len(tally.sent),
            not_shown=tally.not_shown,
            failed_tries=dict(tally.failures),
            slowest_failure=round(tally.slowest_failure, 3),
        )
        print("database restart:", json.dumps(report))
    # both processes' loops met the outage (and carried on, as checked above)
    for name in logs:
        text = (tmp_dir / f"{name}.log").read_text()
        assert "the answer rule runner failed; retrying" in text, name
        assert "slack: delivery round failed" in text, name


async def test_a_database_that_stops_answering_gives_503_after_the_connect_timeout(
    private_postgres: PrivateCluster, tmp_dir: Path
) -> None:
    """A paused database host or a dropped network: new connections get no answer at all.
    Requests fail after the pool's connect timeout instead of asyncpg's default minute."""
    from feedback.db import CONNECT_TIMEOUT_SECONDS

    cluster = private_postgres
    env = {
        **os.environ,
        "FEEDBACK_DATABASE_URL": cluster.url,
        "FEEDBACK_WIDGET_RATE_PER_IP": "0",
        "FEEDBACK_DB_POOL_SIZE": "4",
    }
    migrate_and_seed(env)
    port = free_port()
    with (tmp_dir / "serve.log").open("w") as log:
        serve = feedback_process(["serve", "--port", str(port)], env, log)
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:

                async def serving() -> bool:
                    return (await client.get("/healthz")).status_code == 200 and (
                        await widget_check(client, "pr-hung")
                    ).status_code == 200

                await eventually(serving, 30, what="serve starting")
                # the server stops answering, and ends every session of the service: the
                # pool must open new connections, and they hang
                admin = await asyncpg.connect(cluster.url, timeout=5)
                postmaster = cluster.postmaster_pid()
                os.kill(postmaster, signal.SIGSTOP)
                others = (
                    "FROM pg_stat_activity WHERE datname = 'feedback' AND pid <> pg_backend_pid()"
                )
                try:
                    await admin.fetchval(f"SELECT count(pg_terminate_backend(pid)) {others}")

                    async def gone() -> bool:
                        return await admin.fetchval(f"SELECT count(*) {others}") == 0

                    await eventually(gone, 10, what="the service's sessions ending")
                    # (a request may still meet a connection whose end the service has not
                    # read yet, and fail at once: the next ones must open new connections)
                    for _ in range(3):
                        started = time.monotonic()
                        health, check = await asyncio.gather(
                            client.get("/healthz"), widget_check(client, "pr-hung-2")
                        )
                        waited = time.monotonic() - started
                        assert health.status_code == 503, health.text
                        assert check.status_code == 503, check.text
                        assert int(check.headers["retry-after"]) > 0
                        assert check.json()["error"] == "database unavailable"
                        assert waited < CONNECT_TIMEOUT_SECONDS + 5, waited
                        if waited > CONNECT_TIMEOUT_SECONDS - 1:
                            break
                    else:
                        raise AssertionError("no request waited for a new connection")
                finally:
                    os.kill(postmaster, signal.SIGCONT)
                    await admin.close()
                print(f"database not answering: 503 after {waited:.1f} s")
                await eventually(serving, RECOVERY_SECONDS, what="serving again")
        finally:
            serve.terminate()
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
