"""Bad input tried by a tool nobody here wrote: schemathesis generates requests from our own
OpenAPI document for every operation in it (the API, the widget's endpoints, /healthz,
/livez), data that fits the schema and data that does not, and checks that none answers
5xx and every answer matches the documented schema. The service runs as a real process on
the suite's engine (run the file with TEST_DATABASE_ENGINE=postgres for PostgreSQL);
requests carry an admin token and the widget's allowed origin, so every operation is
reached, not only its 401 or 403.

Deterministic and bounded: hypothesis is derandomized (the same cases every run) and each
operation gets SCHEMATHESIS_EXAMPLES cases per mode (default 20; about a minute per engine on
the 2-core development machine)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from feedback.auth.services import create_token
from feedback.kernel.principal import Role
from tests.support.factories import ORIGIN, book, token, widget_setup
from tests.support.paths import ROOT
from tests.support.processes import free_port

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
# every operation: no 5xx, and its answers as documented
API_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# the widget's endpoints document only their success (their errors carry CORS headers and
# the same error body): no 5xx, and the content type
WIDGET_CHECKS = [not_a_server_error, content_type_conformance]


@pytest.fixture(scope="module")
async def live_service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, Any]]:
    """`feedback serve` on the test database, with some data, an admin token, a widget key
    and a spare token for the token deletion to revoke (not the admin's own)."""
    await book()
    setup = await widget_setup()
    admin = await token(Role.admin)
    _, spare = await create_token(Role.analyst, "spare", "tests")
    port = free_port()
    log_path = tmp_path_factory.mktemp("schemathesis") / "serve.log"
    log = log_path.open("w")
    environment = {
        **os.environ,
        # the widget's rate limits would turn most cases into 429s
        "FEEDBACK_WIDGET_RATE_PER_IP": "0",
        "FEEDBACK_WIDGET_RATE_PER_KEY": "0",
    }
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, then awaited over HTTP
        [sys.executable, "-m", "feedback", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        env=environment,
    )
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(300):
            try:
                if (await client.get(f"{base}/livez")).status_code == 200:
                    break
            except httpx.TransportError:
                if server.poll() is not None:
                    break
            await asyncio.sleep(0.2)
        else:
            server.kill()
    if server.poll() is not None:
        log.close()
        raise RuntimeError(log_path.read_text())
    try:
        yield {"base": base, "token": admin, "key": setup["key"], "spare_token": spare["id"]}
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
        errors = [line for line in log_path.read_text().splitlines() if "Traceback" in line]
        assert not errors, log_path.read_text()[-5000:]


def run_order(operation: Any) -> tuple[int, str, str]:
    """The widget's endpoints first (before any case can disable its key), revoking a token
    last."""
    path = operation.path
    rank = 0 if path.startswith("/widget/") else 2 if path.startswith("/api/v1/tokens/") else 1
    return rank, path, operation.method


def fuzz(operation: Any, mode: GenerationMode, live_service: dict[str, Any]) -> int:
    """Runs one operation's cases in one mode; returns how many were sent."""
    widget = operation.path.startswith("/widget/")
    pinned: dict[str, Any] = {}
    if widget:
        pinned = {"key": live_service["key"]}
    elif operation.path == "/api/v1/tokens/{token_id}":
        pinned = {"token_id": live_service["spare_token"]}
    headers = {"Authorization": f"Bearer {live_service['token']}", **ORIGIN}
    sent: list[Any] = []

    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=pinned))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        sent.append(case)
        case.call_and_validate(
            base_url=live_service["base"],
            headers=headers,
            checks=WIDGET_CHECKS if widget else API_CHECKS,
        )

    run()
    return len(sent)


def test_no_operation_fails_or_breaks_its_schema(live_service: dict[str, Any]) -> None:
    """Every operation, EXAMPLES generated cases per mode (schemathesis's pytest plugin is
    not used: it does not work with this pytest; its strategies are plain hypothesis)."""
    schema = schemathesis.openapi.from_url(f"{live_service['base']}/schema/openapi.json")
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=run_order)
    failures: list[str] = []
    started = time.monotonic()
    cases = 0
    for operation in operations:
        for mode in MODES:
            try:
                cases += fuzz(operation, mode, live_service)
            # collect every operation's failure, then report them all (schemathesis reports
            # its failures as an exception group)
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(
                    f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}"[:3000]
                )
    elapsed = time.monotonic() - started
    print(f"\nschemathesis: {len(operations)} operations, {cases} cases in {elapsed:.0f} s")
    assert len(operations) >= 40
    assert not failures, "\n\n".join(failures)
