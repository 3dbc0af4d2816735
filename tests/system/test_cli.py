"""The `feedback` command, run in a child process against the database under test."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from feedback.accounts.models import CSM, Account, ChurnEvent, EndUser
from feedback.auth.models import AuditEntry, StaffUser
from feedback.auth.services import authenticate_token
from feedback.auth.sign_in import SignInLimits, sign_in
from feedback.cli import main
from feedback.ratelimit import MemoryRateLimiter
from feedback.responses.models import Response
from tests.support.paths import SAAS_CHURN
from tests.support.processes import feedback, free_port


async def password_works(email: str, password: str) -> bool:
    limits = SignInLimits(failures_per_account=5, failures_per_address=30, window_seconds=900)
    result = await sign_in(email, password, "127.0.0.1", MemoryRateLimiter(), limits)
    return result.principal is not None


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += all_commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", all_commands(main), ids=lambda p: " ".join(p) or "feedback")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


def test_python_dash_m_feedback_works() -> None:
    result = feedback("--help")
    assert result.returncode == 0
    for command in ("serve", "migrate", "demo", "import", "users", "tokens", "check", "worker"):
        assert command in result.stdout


async def test_users_create_takes_the_password_from_the_environment() -> None:
    result = feedback(
        "users",
        "create",
        "--email",
        "Ops@Example.com",
        "--role",
        "admin",
        env={"FEEDBACK_PASSWORD": "a long password"},
    )
    assert result.returncode == 0, result.stderr
    assert await password_works("ops@example.com", "a long password")


async def test_users_create_prompts_for_the_password() -> None:
    result = feedback(
        "users",
        "create",
        "--email",
        "p@example.com",
        "--role",
        "analyst",
        input="prompted password\nprompted password\n",
    )
    assert result.returncode == 0, result.stderr
    assert await password_works("p@example.com", "prompted password")


async def test_users_create_refuses_a_short_password() -> None:
    result = feedback(
        "users",
        "create",
        "--email",
        "p@example.com",
        "--role",
        "analyst",
        env={"FEEDBACK_PASSWORD": "short"},
    )
    assert result.returncode == 1 and "password" in result.stderr
    assert await StaffUser.count() == 0


@pytest.mark.parametrize("password", ["          ", "aaaaaaaaaa", "password12", "password1234"])
async def test_users_create_refuses_a_weak_password(password: str) -> None:
    result = feedback(
        "users",
        "create",
        "--email",
        "p@example.com",
        "--role",
        "analyst",
        env={"FEEDBACK_PASSWORD": password},
    )
    assert result.returncode == 1 and "password: " in result.stderr
    assert await StaffUser.count() == 0


async def test_users_list_deactivate_activate_set_role_and_reset_password() -> None:
    from feedback.auth.services import create_staff_user, create_token
    from feedback.kernel.principal import Role

    await create_staff_user("boss@example.com", Role.admin, "the boss passphrase")
    await create_staff_user("ann@example.com", Role.analyst, "ann's passphrase")
    ann = await StaffUser.select(StaffUser.id).where(StaffUser.email == "ann@example.com").first()
    ann_token, _ = await create_token(Role.analyst, "ann's", "tests", owner_id=ann["id"])

    listed = feedback("users", "list")
    assert listed.returncode == 0, listed.stderr
    assert "ann@example.com\tanalyst\tactive" in listed.stdout

    assert feedback("users", "deactivate", "ann@example.com").returncode == 0
    assert not await password_works("ann@example.com", "ann's passphrase")
    assert await authenticate_token(ann_token) is None
    assert "deactivated" in feedback("users", "list").stdout

    assert feedback("users", "activate", "ann@example.com").returncode == 0
    assert await password_works("ann@example.com", "ann's passphrase")

    changed = feedback("users", "set-role", "ann@example.com", "manager")
    assert changed.returncode == 0 and "now manager" in changed.stdout

    weak = feedback(
        "users", "reset-password", "ann@example.com", env={"FEEDBACK_PASSWORD": "aaaaaaaaaaaa"}
    )
    assert weak.returncode == 1 and "password: " in weak.stderr
    reset = feedback(
        "users",
        "reset-password",
        "ann@example.com",
        env={"FEEDBACK_PASSWORD": "a fresh passphrase"},
    )
    assert reset.returncode == 0, reset.stderr
    assert await password_works("ann@example.com", "a fresh passphrase")
    assert not await password_works("ann@example.com", "ann's passphrase")

    actions = [r["action"] for r in await AuditEntry.select(AuditEntry.action)]
    for action in ("deactivate", "activate", "set_role", "reset_password"):
        assert f"staff_user.{action}" in actions


async def test_users_refuses_to_remove_the_last_admin() -> None:
    from feedback.auth.services import create_staff_user
    from feedback.kernel.principal import Role

    await create_staff_user("boss@example.com", Role.admin, "the boss passphrase")
    result = feedback("users", "deactivate", "boss@example.com")
    assert result.returncode == 1 and "last active admin" in result.stderr
    result = feedback("users", "set-role", "boss@example.com", "analyst")
    assert result.returncode == 1 and "last active admin" in result.stderr
    assert "no staff user" in feedback("users", "deactivate", "x@example.com").stderr


async def test_tokens_create_prints_a_working_token_once() -> None:
    result = feedback("tokens", "create", "--role", "analyst", "--name", "reports")
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    principal = await authenticate_token(token)
    assert principal is not None and principal.role.value == "analyst"


def test_a_csm_token_must_name_its_csm() -> None:
    result = feedback("tokens", "create", "--role", "csm")
    assert result.returncode == 1 and "csm_email" in result.stderr


def test_check_passes_on_a_migrated_database() -> None:
    result = feedback("check")
    assert result.returncode == 0, result.stderr
    assert "reachable, migrations up to date" in result.stdout


def test_check_names_a_bad_variable() -> None:
    result = feedback("check", env={"FEEDBACK_PORT": "http"})
    assert result.returncode == 1
    assert "FEEDBACK_PORT" in result.stderr


def test_check_reports_an_unreachable_database() -> None:
    result = feedback("check", env={"FEEDBACK_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert result.returncode == 1
    assert "database unreachable" in result.stderr


async def test_import_writes_a_good_file(tmp_dir: Path) -> None:
    path = tmp_dir / "csms.csv"
    path.write_text("email,name\nann@example.com,Ann\n")
    result = feedback("import", "csms", str(path))
    assert result.returncode == 0, result.stderr
    assert "1 created" in result.stdout
    assert await CSM.count() == 1


async def test_import_lists_errors_and_writes_nothing(tmp_dir: Path) -> None:
    path = tmp_dir / "accounts.csv"
    path.write_text("external_id,name,arr\nx1,One,10\nx2,Two,ten\nx3,,1\n")
    result = feedback("import", "accounts", str(path))
    assert result.returncode == 1
    assert "line 3, column arr" in result.stderr and "line 4, column name" in result.stderr
    assert "NOT written" in result.stdout
    assert await Account.count() == 0
    skipped = feedback("import", "accounts", str(path), "--skip-invalid")
    assert skipped.returncode == 0
    assert await Account.count() == 1


async def test_import_turns_the_saas_churn_file_into_a_book() -> None:
    result = feedback("import", "saas-churn", str(SAAS_CHURN))
    assert result.returncode == 0, result.stderr
    assert await Account.count() == 2000
    assert await Response.count() == 2000
    assert await ChurnEvent.count() == 932


async def test_demo_loads_once_and_a_second_run_changes_nothing() -> None:
    first = feedback("demo")
    assert first.returncode == 0, first.stderr

    async def snapshot() -> list[object]:
        return [
            await CSM.count(),
            await Account.count(),
            await EndUser.count(),
            await Response.count(),
            await ChurnEvent.count(),
            await StaffUser.count(),
            await AuditEntry.count(),
            await Account.select(Account.updated_at)
            .order_by(Account.updated_at, ascending=False)
            .first(),
            await EndUser.select(EndUser.updated_at)
            .order_by(EndUser.updated_at, ascending=False)
            .first(),
        ]

    before = await snapshot()
    assert before[1] > 100 and before[3] > 1000
    second = feedback("demo")
    assert second.returncode == 0, second.stderr
    assert "0 created, 0 updated" in second.stdout
    assert await snapshot() == before


def test_worker_once_runs_its_jobs() -> None:
    result = feedback("worker", "--once")
    assert result.returncode == 0, result.stderr
    assert "apply_due_churn" in result.stderr


def test_serve_answers_on_the_given_port(tmp_dir: Path) -> None:
    port = free_port()
    log = (tmp_dir / "serve.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "feedback", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    assert r.status == 200
                    assert b'"database":"reachable"' in r.read()
                    break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    log.close()
                    print((tmp_dir / "serve.log").read_text())
                    raise
                time.sleep(0.3)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
