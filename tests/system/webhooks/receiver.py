"""A webhook receiver in its own process, for the tests and the benchmark.

    python tests/system/webhooks/receiver.py --log requests.jsonl --plan 500,500,200

Listens on 127.0.0.1 on a free port and prints the port on its first line. Every request is
appended to the log as one JSON line (method, path, headers, body as text) before it is
answered. The plan is the status of each request in turn, the last one repeated (`200` by
default; 0 never answers); `--quiet` keeps no log (the benchmark)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from aiohttp import web


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--log", default="")
    parser.add_argument("--plan", default="200")
    parser.add_argument("--quiet", action="store_true")
    options = parser.parse_args()
    plan = [int(status) for status in options.plan.split(",")]
    asyncio.run(serve(plan, None if options.quiet else options.log))


async def serve(plan: list[int], log_path: str | None) -> None:
    # the log is written synchronously so that a request is on disk before it is answered
    log = open(log_path, "a", encoding="utf-8") if log_path else None  # noqa: SIM115, ASYNC230
    seen = 0

    async def receive(request: web.Request) -> web.Response:
        nonlocal seen
        body = await request.read()
        status = plan[min(seen, len(plan) - 1)]
        seen += 1
        if log is not None:
            entry: dict[str, Any] = {
                "method": request.method,
                "path": request.path_qs,
                "headers": dict(request.headers),
                "body": body.decode("utf-8"),
                "status": status,
            }
            log.write(json.dumps(entry) + "\n")
            log.flush()
        if status == 0:  # never answer
            await asyncio.sleep(3600)
        headers = {"Retry-After": "1"} if status == 429 else {}
        return web.Response(status=status, text=f"planned {status}", headers=headers)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receive)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(runner.addresses[0][1], flush=True)
    # until the parent closes stdin or kills the process
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


if __name__ == "__main__":
    main()
