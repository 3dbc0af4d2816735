"""Bad input tried by a tool nobody here wrote: schemathesis generates requests from our own
OpenAPI document for every operation and checks that none answers 5xx and every answer
matches the documented schema. The service runs as a real process; requests carry an admin
token, so every operation is reached (not only its 401). Examples per operation are
bounded (SCHEMATHESIS_EXAMPLES, default 15) so CI stays fast."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from feedback.kernel.principal import Role
from tests.support.factories import book, token, widget_setup
from tests.support.paths import ROOT
from tests.support.processes import free_port

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))


@pytest.fixture(scope="module")
async def live_service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[dict[str, str]]:
    """`feedback serve` on the test database, with some data and an admin token."""
    await book()
    await widget_setup()
    admin = await token(Role.admin)
    port = free_port()
    log_path = tmp_path_factory.mktemp("schemathesis") / "serve.log"
    log = log_path.open("w")
    server = subprocess.Popen(  # noqa: ASYNC220 - started once, then awaited over HTTP
        [sys.executable, "-m", "feedback", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
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
        yield {"base": base, "token": admin}
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
        errors = [line for line in log_path.read_text().splitlines() if "Traceback" in line]
        assert not errors, log_path.read_text()[-5000:]


def test_no_operation_fails_or_breaks_its_schema(live_service: dict[str, str]) -> None:
    """Every /api operation, EXAMPLES generated cases each (schemathesis's pytest plugin is
    not used: it does not work with this pytest; its strategies are plain hypothesis)."""
    from hypothesis import given

    schema = schemathesis.openapi.from_url(f"{live_service['base']}/schema/openapi.json")
    headers = {"Authorization": f"Bearer {live_service['token']}"}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith("/api/"):
            continue  # the widget and Slack endpoints have their own protocol tests
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: Any) -> None:
            case.call_and_validate(
                base_url=live_service["base"],
                headers=headers,
                # our query parameters are documented as strings and validated against
                # their choices in the handler (422 naming the field): not a schema breach
                excluded_checks=[positive_data_acceptance],
            )

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:3000])
    assert operations >= 20
    assert not failures, "\n\n".join(failures)
