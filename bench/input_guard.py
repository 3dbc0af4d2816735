"""Benchmark: what the input rule (feedback/web/inputs.py) costs each request.

Calls the guard directly as ASGI, in one process and one run, on requests shaped like the
real ones, and compares with the same request without the guard (the view's own reading of
the body and nothing else); as a yardstick, a whole `GET /livez` through the application
(routing, middleware, the handler, the response; no database):

- the widget's eligibility check (a JSON body with traits, sent as text/plain): the hot path;
- a widget comment with line breaks and non-ASCII text;
- an API list with a query string (`GET /api/v1/metrics?account=a1&metric=logins&limit=100`);
- an import of 10,000 JSON rows (checked in a worker thread above 256 KiB).

Prints microseconds per request for each and the guard's extra cost. Asserts nothing about
timing; it exits 1 only if the guard refuses one of these valid requests.

    .venv/bin/python bench/input_guard.py [--rounds 5] [--calls 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def handler_for(app: Any, path: str, method: str) -> Any:
    for route in app.routes:
        if route.path == path:
            for handler in getattr(route, "route_handlers", []):
                if method in handler.http_methods:
                    return handler
    raise SystemExit(f"no {method} {path}")


def scope_for(
    handler: Any,
    method: str,
    path: str,
    body: bytes,
    media: str,
    query: bytes = b"",
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": [
            (b"host", b"feedback.example.com"),
            (b"content-type", media.encode()),
            (b"content-length", str(len(body)).encode()),
            (b"origin", b"https://app.example.com"),
            (b"user-agent", b"Mozilla/5.0"),
        ],
        "path_params": params or {},
        "route_handler": handler,
    }


async def read_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """What a view does with the body, and nothing else: the baseline."""
    while True:
        message = await receive()
        if not message.get("more_body"):
            return


def receiver(body: bytes) -> Any:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def per_call(app: ASGI, scope: dict[str, Any], body: bytes, calls: int) -> float:
    """Microseconds per call."""
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    started = time.perf_counter()
    for _ in range(calls):
        await app(dict(scope), receiver(body), send)
    elapsed = time.perf_counter() - started
    if any(m.get("status", 200) >= 400 for m in sent if m["type"] == "http.response.start"):
        raise SystemExit(f"FAIL: the guard refused a valid request to {scope['path']}")
    return elapsed / calls * 1e6


async def main(rounds: int, calls: int) -> int:
    os.environ.setdefault("FEEDBACK_SECRET_KEY", "bench-secret-key-0123456789")
    database = Path(tempfile.mkdtemp()) / "bench.sqlite3"
    os.environ.setdefault("FEEDBACK_DATABASE_URL", f"sqlite:///{database}")
    from feedback.app import create_app
    from feedback.web.inputs import input_guard_middleware

    app = create_app()
    guarded = input_guard_middleware(read_body)  # type: ignore[arg-type]

    key = "wk_live_3f9c2a7b1d"
    eligibility = json.dumps(
        {
            "user_id": "user-20931",
            "account_id": "acct-0042",
            "traits": {
                "role": "admin",
                "plan": "premium",
                "locale": "ja-JP",
                "email": "hanako@example.jp",
                "account_name": "株式会社サンプル",
                "seats": 42,
            },
            "url": "https://app.example.com/dashboard?tab=overview",
        },
        ensure_ascii=False,
    ).encode()
    comment = json.dumps(
        {
            "display_token": "7MjeHYrt8SCfGtl-iZAZt6B3ZLzBSx0Q",
            "comment": "Great product.\nThe reports are slow on Mondays.\n\tÉtienne",
        },
        ensure_ascii=False,
    ).encode()
    rows = json.dumps(
        [
            {"external_id": f"a{n}", "name": f"Account {n}", "plan": "paid", "arr": 1200.5}
            for n in range(10_000)
        ]
    ).encode()
    widget = "/widget/v1/{key:str}"
    cases = [
        (
            "widget eligibility",
            scope_for(
                handler_for(app, widget + "/eligibility", "POST"),
                "POST",
                f"/widget/v1/{key}/eligibility",
                eligibility,
                "text/plain;charset=UTF-8",
                params={"key": key},
            ),
            eligibility,
            calls,
        ),
        (
            "widget comment",
            scope_for(
                handler_for(app, widget + "/comments", "POST"),
                "POST",
                f"/widget/v1/{key}/comments",
                comment,
                "text/plain;charset=UTF-8",
                params={"key": key},
            ),
            comment,
            calls,
        ),
        (
            "API list with a query",
            scope_for(
                handler_for(app, "/api/v1/metrics", "GET"),
                "GET",
                "/api/v1/metrics",
                b"",
                "",
                query=b"account=a1&metric=logins&limit=100",
            ),
            b"",
            calls,
        ),
        (
            f"import, 10,000 JSON rows ({len(rows) // 1024} KiB)",
            scope_for(
                handler_for(app, "/api/v1/imports/{kind:str}", "POST"),
                "POST",
                "/api/v1/imports/accounts",
                rows,
                "application/json",
                params={"kind": "accounts"},
            ),
            rows,
            max(1, calls // 2000),
        ),
    ]
    livez = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/livez",
        "raw_path": b"/livez",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"feedback.example.com")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    yardstick: list[float] = []
    results: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n, *_ in cases}
    for _ in range(rounds):
        yardstick.append(await per_call(app, livez, b"", calls // 4))
        for name, scope, body, count in cases:
            results[name][0].append(await per_call(read_body, scope, body, count))
            results[name][1].append(await per_call(guarded, scope, body, count))

    livez_us = statistics.median(yardstick)
    print(f"yardstick: GET /livez through the whole application: {livez_us:.1f} us/request")
    print(f"{'request':44} {'without':>10} {'with guard':>11} {'extra':>10} {'of /livez':>10}")
    for name, (plain, checked) in results.items():
        without, with_guard = statistics.median(plain), statistics.median(checked)
        extra = with_guard - without
        print(
            f"{name:44} {without:8.2f}us {with_guard:9.2f}us {extra:8.2f}us {extra / livez_us:9.1%}"
        )
    print(f"(medians of {rounds} rounds of {calls} calls; the import: {calls // 2000} calls)")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20_000)
    arguments = parser.parse_args()
    raise SystemExit(asyncio.run(main(arguments.rounds, arguments.calls)))
