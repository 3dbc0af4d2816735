"""A local stand-in for the Slack Web API, for tests, benchmarks and offline demos.

It listens on a loopback port, answers the Web API methods the service uses
(`auth.test`, `chat.postMessage`, `chat.update`, `chat.postEphemeral`, `views.open`,
`views.publish`), records every call, keeps the current text of each message, and enforces
Slack's per-channel limit of about one message per second by answering 429 with
`Retry-After` (and counting the violation). Faults can be scripted: a status (429, 500), a
Slack error (`channel_not_found`), or a delay longer than the client's timeout, for the
next calls (`fail`) or until told otherwise (`outage`, `restore`).

A message posted with `thread_ts` is a reply in that message's thread: it is kept apart
(`replies`), as Slack keeps replies out of the channel's history, and refused with
`thread_not_found` when no message `thread_ts` is in that conversation (stricter than
Slack, so that a reply aimed at the wrong card fails a test).

As Slack does, a message posted to a user (U...) is a direct message in a D...
conversation, which the answer names; `chat.update` must name the conversation the message
is in: the user's id answers `channel_not_found`, another conversation
`cant_update_message`.

    python -m devtools.slack_standin --port 8099
    # then FEEDBACK_SLACK_API_URL=http://127.0.0.1:8099/api/
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

PACED_METHODS = ("chat.postMessage", "chat.update")


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    at: float
    status: int
    token: str


@dataclass
class Fault:
    method: str
    times: int
    status: int = 200
    retry_after: int | None = None
    error: str | None = None
    delay: float = 0.0


@dataclass
class SlackStandIn:
    """Start with `await standin.start()`; `standin.api_url` is the base for AsyncWebClient."""

    rate_interval: float = 1.0  # seconds between two messages to one channel
    rate_tolerance: float = 0.1
    host: str = "127.0.0.1"
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    # replies in threads, in the order they came: channel, thread_ts, ts, text, blocks
    replies: list[dict[str, Any]] = field(default_factory=list)
    violations: list[tuple[str, float]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    down: int | None = None  # while set, every Web API call answers this HTTP status
    _last_send: dict[str, float] = field(default_factory=dict)
    _runner: web.AppRunner | None = None
    _ts = itertools.count(1)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    async def start(self) -> SlackStandIn:
        app = web.Application()
        app.router.add_post("/api/{method}", self._handle)
        app.router.add_post("/response_url/{name}", self._response_url)
        app.router.add_get("/_standin/calls", self._report)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        if self.port == 0:
            sockets = site._server.sockets  # type: ignore[union-attr]
            self.port = sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def fail(
        self,
        method: str,
        *,
        times: int = 1,
        status: int = 200,
        retry_after: int | None = None,
        error: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """The next `times` calls of `method` answer with this fault."""
        self.faults.append(Fault(method, times, status, retry_after, error, delay))

    def outage(self, status: int = 503) -> None:
        """Every Web API call answers `status` until `restore()`."""
        self.down = status

    def restore(self) -> None:
        self.down = None

    def replies_to(self, channel: str, ts: str) -> list[str]:
        """The texts of the replies under a message, in order."""
        return [r["text"] for r in self.replies if (r["channel"], r["thread_ts"]) == (channel, ts)]

    def calls_to(self, method: str, ok_only: bool = True) -> list[Call]:
        return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def reset(self) -> None:
        self.calls.clear()
        self.messages.clear()
        self.replies.clear()
        self.violations.clear()
        self.faults.clear()
        self.down = None
        self._last_send.clear()

    async def _args(self, request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        if request.content_type == "application/json":
            return json.loads(raw or b"{}")
        args: dict[str, Any] = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
        for name in ("blocks", "view", "attachments"):
            if isinstance(args.get(name), str):
                args[name] = json.loads(args[name])
        return args

    def _take_fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._args(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        now = time.monotonic()
        if self.down is not None:
            return self._answer(method, args, token, now, self.down, None)
        fault = self._take_fault(method)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status != 200 or fault.error:
                return self._answer(method, args, token, now, fault.status, fault)
        if not token:
            return self._answer(method, args, token, now, 200, Fault(method, 0, error="not_authed"))
        channel = str(args.get("channel", ""))
        if method in PACED_METHODS and channel:
            last = self._last_send.get(channel)
            if last is not None and now - last < self.rate_interval - self.rate_tolerance:
                self.violations.append((channel, now - last))
                return self._answer(
                    method, args, token, now, 429, Fault(method, 0, 429, retry_after=1)
                )
            self._last_send[channel] = now
        return self._answer(method, args, token, now, 200, None)

    def _answer(
        self,
        method: str,
        args: dict[str, Any],
        token: str,
        now: float,
        status: int,
        fault: Fault | None,
    ) -> web.Response:
        self.calls.append(Call(method, args, now, status, token))
        if status != 200:
            headers = {}
            if fault is not None and fault.retry_after is not None:
                headers["Retry-After"] = str(fault.retry_after)
            error = {429: "ratelimited", 503: "service_unavailable"}.get(status, "internal_error")
            body = {"ok": False, "error": error}
            return web.json_response(body, status=status, headers=headers)
        if fault is not None and fault.error:
            return web.json_response({"ok": False, "error": fault.error})
        return web.json_response(self._result(method, args))

    def _result(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        if method == "auth.test":
            return {"ok": True, "user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1", "team": "t"}
        if method == "chat.postMessage":
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            # a message to a user is a direct message, in a conversation of its own
            where = "D" + channel[1:] if channel.startswith("U") else channel
            parent = args.get("thread_ts")
            if parent:
                if (where, str(parent)) not in self.messages:
                    return {"ok": False, "error": "thread_not_found"}
                self.replies.append(
                    {
                        "channel": where,
                        "thread_ts": str(parent),
                        "ts": ts,
                        "text": args.get("text"),
                        "blocks": args.get("blocks"),
                    }
                )
                return {"ok": True, "channel": where, "ts": ts, "message": {"ts": ts}}
            self.messages[(where, ts)] = {"text": args.get("text"), "blocks": args.get("blocks")}
            return {"ok": True, "channel": where, "ts": ts, "message": {"ts": ts}}
        if method == "chat.update":
            ts = str(args.get("ts", ""))
            if (channel, ts) not in self.messages:
                if any(t == ts for _, t in self.messages):
                    # the message exists, in another conversation
                    wrong = (
                        "channel_not_found" if channel.startswith("U") else "cant_update_message"
                    )
                    return {"ok": False, "error": wrong}
                return {"ok": False, "error": "message_not_found"}
            self.messages[(channel, ts)] = {"text": args.get("text"), "blocks": args.get("blocks")}
            return {"ok": True, "channel": channel, "ts": ts}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": f"{int(time.time())}.{next(self._ts):06d}"}
        if method in ("views.open", "views.publish", "views.update"):
            return {"ok": True, "view": {"id": "V1", **(args.get("view") or {})}}
        return {"ok": True}

    async def _report(self, request: web.Request) -> web.Response:
        """What was called, for a client in another process (the benchmark)."""
        calls = [
            {
                "method": c.method,
                "status": c.status,
                "channel": c.args.get("channel"),
                "text": c.args.get("text"),
                "at": c.at,
            }
            for c in self.calls
        ]
        return web.json_response({"calls": calls, "violations": self.violations})

    async def _response_url(self, request: web.Request) -> web.Response:
        args = await request.json()
        self.calls.append(Call("response_url", args, time.monotonic(), 200, ""))
        return web.json_response({"ok": True})


async def _serve(port: int, rate_interval: float) -> None:
    standin = await SlackStandIn(port=port, rate_interval=rate_interval).start()
    print(f"Slack stand-in: FEEDBACK_SLACK_API_URL={standin.api_url}", flush=True)
    try:
        await asyncio.Event().wait()  # until interrupted
    finally:
        await standin.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--rate-interval", type=float, default=1.0)
    args = parser.parse_args()
    asyncio.run(_serve(args.port, args.rate_interval))


if __name__ == "__main__":
    main()
