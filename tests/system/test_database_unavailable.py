"""The database going away under a request or a background loop: 503 with Retry-After and
the usual error body instead of a 500, and a task that lost its connection inside a
transaction can use the database again (tests/test_pg_restart.py restarts a real server)."""

from __future__ import annotations

import socket
from typing import Any

import asyncpg
import pytest

from feedback.db import current_engine, write_transaction
from feedback.db.errors import database_unavailable
from tests.support.factories import ORIGIN, widget_setup


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def refused() -> BaseException:
    try:
        await asyncpg.connect(f"postgresql://nobody@127.0.0.1:{closed_port()}/none", timeout=5)
    except Exception as exc:
        return exc
    raise AssertionError("connected to a closed port")


async def test_a_refused_database_connection_is_unavailability() -> None:
    exc = await refused()
    assert isinstance(exc, OSError)
    assert database_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_server_side_unavailability_is_recognised(exc: Exception) -> None:
    assert database_unavailable(exc)


def test_it_follows_the_exceptions_a_failure_was_raised_from() -> None:
    try:
        try:
            raise asyncpg.AdminShutdownError("terminating connection")
        except asyncpg.AdminShutdownError:
            # what Piccolo raises when it rolls back on the dead connection
            raise asyncpg.InterfaceError("cannot call Transaction.rollback()")  # noqa: B904
    except asyncpg.InterfaceError as exc:
        assert database_unavailable(exc)
    assert not database_unavailable(asyncpg.InterfaceError("cannot call Transaction.rollback()"))


@pytest.mark.parametrize(
    "exc",
    [TimeoutError(), ConnectionRefusedError(111, "refused"), RuntimeError("a bug"), KeyError("x")],
    ids=lambda e: type(e).__name__,
)
def test_errors_not_raised_by_the_driver_stay_internal_errors(exc: Exception) -> None:
    try:
        raise exc  # raised here, not inside asyncpg: a Slack timeout is not the database
    except Exception as raised:
        assert not database_unavailable(raised)


async def test_widget_and_api_calls_answer_503_with_retry_after(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feedback.auth import guards
    from feedback.surveys import keys

    down = await refused()

    async def unreachable(*_: Any) -> Any:
        raise down

    monkeypatch.setattr(keys, "load_key", unreachable)
    monkeypatch.setattr(guards, "authenticate_token", unreachable)
    answers = [
        await client.post(
            "/widget/v1/wk_any/eligibility",
            content='{"user_id": "u1"}',
            headers={"content-type": "text/plain", "origin": "https://app.example.com"},
        ),
        await client.get("/api/v1/surveys", headers={"authorization": "Bearer fb_any"}),
    ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["retry-after"] == "5"
        assert answer.json() == {
            "error": "database unavailable",
            "detail": [{"field": "database", "message": "retry in 5 s"}],
        }


async def test_livez_needs_no_database(client: Any) -> None:
    assert (await client.get("/livez")).json() == {"status": "alive"}


@pytest.mark.postgres_only
async def test_a_task_whose_connection_died_mid_transaction_uses_the_database_again() -> None:
    """Piccolo skips its clean-up when the rollback fails on a dead connection; the task (a
    runner loop) must not stay inside the dead transaction."""
    engine = current_engine()
    with pytest.raises(asyncpg.InterfaceError) as raised:
        async with write_transaction():
            await engine.run_ddl("SELECT 1")
            # the server ends this session, as a restart does
            await engine.run_ddl("SELECT pg_terminate_backend(pg_backend_pid())")
    assert database_unavailable(raised.value)
    assert engine.current_transaction.get() is None
    async with write_transaction():
        assert [dict(row) for row in await engine.run_ddl("SELECT 2 AS two")] == [{"two": 2}]


async def test_a_widget_answer_the_database_cannot_take_is_a_503_the_widget_can_read(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the key and origin checks (the key is cached), the 503 carries the CORS headers:
    without them the browser shows the widget a bare network error, not the Retry-After."""
    from feedback.responses import intake

    setup = await widget_setup()
    down = await refused()

    async def unreachable(*_: Any, **__: Any) -> Any:
        raise down

    monkeypatch.setattr(intake, "record_score", unreachable)
    answer = await client.post(
        f"/widget/v1/{setup['key']}/responses",
        content='{"display_token": "t", "client_id": "client-0001", "score": 3}',
        headers={"content-type": "text/plain", **ORIGIN},
    )
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "5"
    assert answer.headers["access-control-allow-origin"] == ORIGIN["origin"]
    assert answer.json()["detail"][0]["field"] == "database"


async def test_healthz_says_only_unreachable_and_logs_the_reason(
    client: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import feedback.app

    reason = 'password authentication failed for user "feedback_prod" at 10.1.2.3:5432'

    async def down() -> tuple[bool, str]:
        return False, reason

    monkeypatch.setattr(feedback.app, "ping", down)
    with caplog.at_level("WARNING", logger="feedback.app"):
        answer = await client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "degraded", "database": "unreachable"}
    assert "feedback_prod" not in answer.text and "10.1.2.3" not in answer.text
    assert reason in caplog.text
