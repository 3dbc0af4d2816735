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
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from feedback.auth.models import Role
from tests.factories import book, token, widget_setup
from tests.test_cli import free_port

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def live_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`feedback serve` on the test database, with some data and an admin token."""

    async def seed() -> str:
        await book()
        await widget_setup()
        return await token(Role.admin)

    admin = asyncio.get_event_loop().run_until_complete(seed())
    port = free_port()
    log_path = tmp_path_factory.mktemp("schemathesis") / "serve.log"
    log = log_path.open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "feedback", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/livez", timeout=2):  # noqa: S310 - loopback
                break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                log.close()
                raise RuntimeError(log_path.read_text()) from None
            time.sleep(0.3)
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
