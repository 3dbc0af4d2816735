"""Slack with real processes: `feedback serve` delivers the outbox itself (the single-machine
default), `feedback worker` does when told to, and the manifest matches the code."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from devtools.slack_standin import SlackStandIn
from feedback.outbox.models import Outbox
from tests.support.factories import ORIGIN, book, widget_setup
from tests.support.paths import ROOT
from tests.support.processes import feedback, free_port
from tests.support.slack import link_slack_users, slack_env
from tests.support.waiting import eventually

TEXT = {"content-type": "text/plain;charset=UTF-8", **ORIGIN}


async def test_serve_delivers_a_detractor_cta_to_slack(
    standin: SlackStandIn, tmp_dir: Path, database_url: str
) -> None:
    await book()
    await link_slack_users()
    setup = await widget_setup()
    port = free_port()
    env = {**os.environ, **slack_env(standin.api_url), "FEEDBACK_DATABASE_URL": database_url}
    log = (tmp_dir / "serve.log").open("w")
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, then awaited over HTTP
        [sys.executable, "-m", "feedback", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as client:

            async def up() -> bool:
                try:
                    return (await client.get("/livez")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually(up)
            body = {"user_id": "u1", "account_id": "a1"}
            shown = await client.post(
                f"/widget/v1/{setup['key']}/eligibility", content=json.dumps(body), headers=TEXT
            )
            display = shown.json()["display_token"]
            answer = {"display_token": display, "client_id": "client-proc-1", "score": 1}
            scored = await client.post(
                f"/widget/v1/{setup['key']}/responses", content=json.dumps(answer), headers=TEXT
            )
            assert scored.status_code == 201

            async def delivered() -> bool:
                return bool(standin.calls_to("chat.postMessage"))

            await eventually(delivered)
        (post,) = standin.calls_to("chat.postMessage")
        assert post.args["channel"] == "C-ANN"
        assert "Acme" in json.dumps(post.args["blocks"])

        async def recorded() -> bool:  # the post is seen before the row is marked sent
            row = await Outbox.select(Outbox.status, Outbox.slack_ts).first()
            return row["status"] == "sent" and bool(row["slack_ts"])

        await eventually(recorded)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


async def test_worker_once_delivers_what_is_queued(
    standin: SlackStandIn, database_url: str
) -> None:
    from feedback.accounts.models import Account
    from feedback.ctas.signals import Signal, raise_signal
    from feedback.db import write_transaction

    await book()
    await link_slack_users()
    account = await Account.select(Account.id).where(Account.external_id == "b1").first()
    async with write_transaction():
        await raise_signal(Signal(account["id"], "renewal", "Renewal at risk", "", 2, None, {}))
    env = {**slack_env(standin.api_url), "FEEDBACK_DATABASE_URL": database_url}
    result = await asyncio.to_thread(feedback, "worker", "--once", env=env)
    assert result.returncode == 0, result.stderr
    assert "slack_sent" in result.stderr
    posts = {c.args["channel"]: c.args for c in standin.calls_to("chat.postMessage")}
    assert "Renewal at risk" in json.dumps(posts["C-BOB"]["blocks"])
    # after the digest hour (08:00 UTC) Bob also gets his digest as a direct message
    assert set(posts) <= {"C-BOB", "UBOB"}


def test_the_manifest_points_slack_at_the_routes_the_code_serves() -> None:
    manifest = yaml.safe_load((ROOT / "bot" / "slack-manifest.yml").read_text())
    settings = manifest["settings"]
    urls = {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    }
    assert urls == {"https://feedback.example.com/slack/events"}
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/nps"]
    assert settings["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"chat:write", "commands", "im:write"} <= scopes
    # the app's routes: what the manifest names must be served
    from feedback.app import create_app

    paths = {route.path for route in create_app().routes}
    assert "/slack/events" in paths


def test_the_manifest_command_fills_in_the_address() -> None:
    result = feedback("slack", "manifest", "--url", "https://nps.acme.test/")
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load(result.stdout)
    assert manifest["settings"]["interactivity"]["request_url"] == (
        "https://nps.acme.test/slack/events"
    )
    bad = feedback("slack", "manifest", "--url", "nps.acme.test")
    assert bad.returncode != 0 and "--url" in bad.stderr


def test_socket_mode_says_what_it_needs() -> None:
    off = feedback("slack", "socket")
    assert off.returncode != 0 and "FEEDBACK_SLACK_BOT_TOKEN" in off.stderr
    no_app_token = feedback("slack", "socket", env=slack_env("http://127.0.0.1:9/api/"))
    assert no_app_token.returncode != 0 and "FEEDBACK_SLACK_APP_TOKEN" in no_app_token.stderr
