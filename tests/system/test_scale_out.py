"""The production shape on one machine: two `feedback serve` processes and two
`feedback worker` processes on one PostgreSQL, rate-limit counters in Redis, Slack replaced
by the local stand-in. Driven at once through both servers:

- no user gets two displays, however many checks hit both servers at the same time;
- every detractor's CTA reaches Slack exactly once, although two workers deliver;
- the per-key rate limit holds across both processes (shared counters, not per process).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.slack_standin import SlackStandIn
from feedback.ctas.models import Cta, RulesQueue
from feedback.surveys.models import Display, Schedule, Survey, WidgetKey
from tests.support.paths import ROOT
from tests.support.processes import free_port
from tests.support.slack import slack_env
from tests.support.waiting import eventually

pytestmark = pytest.mark.postgres_only

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ORIGIN = "https://app.example.com"
HEADERS = {"content-type": "text/plain", "origin": ORIGIN}
KEY_LIMIT = 400  # widget requests per minute for the key, shared by both servers
USERS = 40


async def _rules_queue_is_empty() -> bool:
    return await RulesQueue.count() == 0


async def _posted_risk_ctas(expected: int) -> bool:
    return await Cta.count().where((Cta.type == "risk") & Cta.slack_ts.is_not_null()) == expected


async def wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError(f"{base} exited with {process.returncode}")
            try:
                if (await client.get("/livez")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{base} did not start")


async def test_two_servers_and_two_workers(
    standin: SlackStandIn, database_url: str, tmp_dir: Path
) -> None:
    from tests.support.factories import book
    from tests.support.slack import link_slack_users

    await book()
    await link_slack_users()
    survey = Survey(name="NPS", product_name="Acme HR")
    await survey.save()
    await Schedule(survey=survey.id, name="quarterly", first_survey_after_days=0).save()
    key = f"wk_scale_{secrets.token_hex(4)}"  # unique: the Redis counters are shared
    await WidgetKey(key=key, name="scale", allowed_origins=[ORIGIN]).save()

    env = {
        **os.environ,
        **slack_env(standin.api_url),
        "FEEDBACK_DATABASE_URL": database_url,
        "FEEDBACK_REDIS_URL": REDIS_URL,
        "FEEDBACK_SLACK_DELIVERY": "worker",
        "FEEDBACK_WIDGET_RATE_PER_IP": "0",
        "FEEDBACK_WIDGET_RATE_PER_KEY": str(KEY_LIMIT),
        "FEEDBACK_WORKER_INTERVAL_SECONDS": "1",
        "FEEDBACK_DB_POOL_SIZE": "4",
    }
    processes: list[subprocess.Popen[bytes]] = []
    logs = []
    ports = [free_port(), free_port()]
    try:
        for index, port in enumerate(ports):
            log = (tmp_dir / f"serve-{index}.log").open("w")
            logs.append(log)
            processes.append(
                subprocess.Popen(  # noqa: ASYNC220 - started once
                    [sys.executable, "-m", "feedback", "serve", "--port", str(port)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=ROOT,
                )
            )
        for index in range(2):
            log = (tmp_dir / f"worker-{index}.log").open("w")
            logs.append(log)
            processes.append(
                subprocess.Popen(  # noqa: ASYNC220 - started once
                    [sys.executable, "-m", "feedback", "worker"],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=ROOT,
                )
            )
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base, process in zip(bases, processes, strict=False):
            await wait_until_up(base, process)

        async with httpx.AsyncClient(timeout=30) as client:
            # 1. every user checks in 4 times at once, through both servers
            async def check(user: int, attempt: int) -> dict[str, Any]:
                base = bases[attempt % 2]
                body = {"user_id": f"su-{user}", "account_id": "a1" if user % 2 else "b1"}
                answer = await client.post(
                    f"{base}/widget/v1/{key}/eligibility", content=json.dumps(body), headers=HEADERS
                )
                assert answer.status_code == 200, answer.text
                return {"user": user, **answer.json()}

            checks = await asyncio.gather(
                *(check(user, attempt) for user in range(USERS) for attempt in range(4))
            )
            shown = [c for c in checks if c["show"]]
            assert Counter(c["user"] for c in shown) == Counter(range(USERS))
            assert await Display.count() == USERS

            # 2. each answers a detractor score through the other server
            async def answer(check: dict[str, Any]) -> None:
                base = bases[(check["user"] + 1) % 2]
                body = {
                    "display_token": check["display_token"],
                    "client_id": f"client-scale-{check['user']}",
                    "score": 2,
                }
                sent = await client.post(
                    f"{base}/widget/v1/{key}/responses", content=json.dumps(body), headers=HEADERS
                )
                assert sent.status_code == 201, sent.text

            await asyncio.gather(*(answer(c) for c in shown))
            # one CTA per account (a new detractor updates it), each delivered once, then
            # updated in place; two workers, never two posts for one CTA
            # (the workers' rules may add a renewal CTA for a1 and digests: also once each)
            # the answer rule runners of the four processes raise the CTAs within a second
            risk = Cta.type == "risk"
            await eventually(_rules_queue_is_empty, what="the rules queue drained")
            assert await Cta.count().where(risk) == 2
            assert await RulesQueue.count() == 0
            await eventually(lambda: _posted_risk_ctas(2), what="both risk CTAs posted")
            await asyncio.sleep(2)  # let both workers run a few more rounds
            posts = standin.calls_to("chat.postMessage")
            per_message = Counter((c.args["channel"], c.args["text"]) for c in posts)
            assert set(per_message.values()) == {1}, per_message
            # a risk card's notification names the detractor's score ("High: detractor 2/10 at")
            assert (
                sum(1 for _, text in per_message if re.search(r": detractor \d+/10 at ", text)) == 2
            )

            # 3. the key's limit is shared: both servers together allow KEY_LIMIT a minute.
            # The limit counts per clock minute, so the burst must fall inside one: it starts
            # with at least 30 s of its minute left, and a burst that still crossed into the
            # next minute (a very busy machine) is sent again from the start of a new one.
            used = USERS * 4 + USERS  # the checks and the answers above, if in this window

            async def hit(index: int, statuses: list[int]) -> None:
                body = {"user_id": f"burst-{index}", "account_id": "a2"}
                answer = await client.post(
                    f"{bases[index % 2]}/widget/v1/{key}/eligibility",
                    content=json.dumps(body),
                    headers=HEADERS,
                )
                statuses.append(answer.status_code)

            async def burst_in_one_minute() -> list[int] | None:
                started_window = int(time.time() // 60)
                statuses: list[int] = []
                for start in range(0, 2 * KEY_LIMIT, 50):
                    await asyncio.gather(*(hit(i, statuses) for i in range(start, start + 50)))
                return statuses if int(time.time() // 60) == started_window else None

            if 60 - time.time() % 60 < 30:
                await asyncio.sleep(60 - time.time() % 60 + 0.5)
            statuses = await burst_in_one_minute()
            if statuses is None:
                await asyncio.sleep(60 - time.time() % 60 + 0.5)
                statuses = await burst_in_one_minute()
            assert statuses is not None, "two bursts of 800 requests each took over a minute"
            allowed = statuses.count(200)
            assert 429 in statuses
            # per-process counters would allow up to 2 x KEY_LIMIT here
            assert allowed <= KEY_LIMIT, allowed
            assert allowed >= KEY_LIMIT - used
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        for log in logs:
            log.close()
    for index in range(2):
        text = (tmp_dir / f"worker-{index}.log").read_text()
        assert "Traceback" not in text, text[-3000:]
