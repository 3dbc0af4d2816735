"""The `feedback` command: serve, migrate, demo, import, users, tokens, check, worker."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from feedback.settings import SettingsError, get_settings

T = TypeVar("T")


def fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def settings_or_exit() -> Any:
    try:
        return get_settings()
    except SettingsError as exc:
        fail(f"invalid configuration: {exc}")


def with_database(func: Callable[..., Awaitable[T]]) -> Callable[..., T]:
    """Run an async command with the database connection pool open around it."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        settings_or_exit()
        from feedback.db import close_database, open_database

        async def run() -> T:
            await open_database()
            try:
                return await func(*args, **kwargs)
            finally:
                await close_database()

        try:
            return asyncio.run(run())
        except OSError as exc:
            fail(f"database unreachable: {exc}")
            raise  # unreachable; keeps type checkers content

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="feedback")
def main() -> None:
    """In-product NPS and feedback service.

    Configuration comes from FEEDBACK_* environment variables (see docs/configuration.md);
    FEEDBACK_DATABASE_URL picks SQLite (default: ./feedback.sqlite3) or PostgreSQL.
    """


@main.command()
@click.option(
    "--host", default=None, help="Interface to bind (default FEEDBACK_HOST or 127.0.0.1)."
)
@click.option("--port", type=int, default=None, help="Port (default FEEDBACK_PORT or 8000).")
@click.option("--reload", is_flag=True, help="Restart when source files change (development).")
@click.option("--workers", type=int, default=1, show_default=True, help="Server processes.")
def serve(host: str | None, port: int | None, reload: bool, workers: int) -> None:
    """Serve the web service (API, pages, widget)."""
    import uvicorn

    settings = settings_or_exit()
    uvicorn.run(
        "feedback.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        reload=reload,
        workers=None if reload else workers,
        log_level=settings.log_level.lower(),
        # who the client is behind a proxy is decided once, by FEEDBACK_TRUSTED_PROXIES
        # (`ratelimit.client_address`); uvicorn's own rewrite would trust 127.0.0.1 too
        proxy_headers=False,
    )


@main.command()
@with_database
async def migrate() -> None:
    """Create or update the database schema (safe to run repeatedly)."""
    from feedback.db import migrate as run_migrations
    from feedback.db import pending_migrations

    pending = await pending_migrations()
    await run_migrations()
    click.echo(f"migrations applied: {len(pending)}; database is up to date")


@main.command()
@with_database
async def demo() -> None:
    """Load demo data: CSMs, accounts, users, a year of responses, churn (idempotent)."""
    from feedback.demo import load_demo

    summary = await load_demo()
    for line in summary:
        click.echo(line)


IMPORT_KINDS = ["accounts", "users", "csms", "churn", "responses", "saas-churn"]
# moving in from another tool: its own export files (docs/moving-in.md)
MOVE_IN_TOOLS = ["delighted", "pendo", "wootric"]


@main.command("import")
@click.argument("kind", type=click.Choice(IMPORT_KINDS + MOVE_IN_TOOLS))
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--people",
    "--end-users",
    "people",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="delighted/wootric: the people (end users) file; seeds the cadence.",
)
@click.option(
    "--unsubscribes",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="delighted: unsubscribed people, added to the mail suppression list.",
)
@click.option(
    "--bounces",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="delighted: bounced people, added to the mail suppression list.",
)
@click.option(
    "--declines",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="wootric: declined surveys (an ask the cadence counts).",
)
@click.option("--account-property", default=None, help="The property naming the account.")
@click.option("--account-name-property", default=None, help="The property naming its name.")
@click.option("--user-property", default=None, help="The property naming the user id.")
@click.option("--default-account", default=None, help="The account of people without one.")
@click.option("--skip-invalid", is_flag=True, help="Write the valid rows and report the rest.")
@click.option("--dry-run", is_flag=True, help="Validate only; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "--observed-from",
    default="2025-01-01",
    show_default=True,
    help="saas-churn only: the date the observation (and the survey) starts.",
)
def import_(
    kind: str,
    file: Path,
    skip_invalid: bool,
    dry_run: bool,
    as_json: bool,
    observed_from: str,
    **move_in_options: Any,
) -> None:
    """Import a CSV FILE of KIND (columns in docs/imports.md); upserts by external id.

    The whole file is validated first: nothing is written unless every row is valid
    (or, with --skip-invalid, the valid rows are written and the others listed).
    `saas-churn` turns shared/data/saas_churn.csv into accounts, one response each and
    churn events. `delighted`, `pendo` and `wootric` read FILE (their responses export) and
    the files given with --people, --unsubscribes, --bounces, --declines (docs/moving-in.md).
    """

    data = file.read_bytes()
    if kind in MOVE_IN_TOOLS:
        _move_in(kind, file, skip_invalid, dry_run, as_json, move_in_options)
        return

    @with_database
    async def run() -> Any:
        from feedback.imports.parsing import FileError, decode, read_csv
        from feedback.imports.saas_churn import import_saas_churn
        from feedback.imports.services import Importer, ImportResult

        importer = Importer(skip_invalid=skip_invalid, dry_run=dry_run, actor="cli", source="cli")
        if kind == "saas-churn":
            return await import_saas_churn(importer, data, observed_from)
        try:
            header, rows = read_csv(decode(data))
        except FileError as exc:
            result = ImportResult(kind=kind, dry_run=dry_run)
            result.errors.append(exc.error)
            return [result]
        return [await importer.run(kind, header, rows)]

    results = run()
    failed = False
    for result in results:
        failed = failed or (not result.ok and not skip_invalid)
        if as_json:
            click.echo(json.dumps(result.as_dict()))
            continue
        state = "written" if result.written else ("validated" if dry_run else "NOT written")
        click.echo(
            f"{result.kind}: {result.rows} rows, {result.valid} valid, {result.invalid} invalid; "
            f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged "
            f"({state})"
        )
        for error in result.errors[:50]:
            click.echo(f"  {error}", err=True)
        if len(result.errors) > 50:
            click.echo(f"  ... and {len(result.errors) - 50} more errors", err=True)
    if failed:
        sys.exit(1)


@main.group()
def users() -> None:
    """Staff users who sign in to the web pages."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--role", required=True, type=click.Choice(["admin", "manager", "csm", "analyst"]))
@click.option("--name", default="")
@click.option("--csm-email", default=None, help="For role csm: the CSM whose accounts they see.")
@click.option(
    "--password",
    envvar="FEEDBACK_PASSWORD",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given; or set FEEDBACK_PASSWORD.",
)
def users_create(email: str, role: str, name: str, csm_email: str | None, password: str) -> None:
    """Create a staff user (password: prompt, --password or FEEDBACK_PASSWORD)."""
    from feedback.kernel.errors import InputError

    @with_database
    async def run() -> dict[str, Any]:
        from feedback.auth.services import (
            audit,
            create_staff_user,
            csm_id_for_email,
            parse_role,
        )

        parsed = parse_role(role)
        csm_id = await csm_id_for_email(csm_email, parsed)
        user = await create_staff_user(email, parsed, password, name=name, csm_id=csm_id)
        await audit("cli", "cli", "staff_user.create", user["email"], {"role": role})
        return user

    try:
        user = run()
    except InputError as exc:
        fail(f"{exc.field}: {exc.message}")
    click.echo(f"created {user['role']} {user['email']}")


def _staff_change(change: Callable[[], Awaitable[dict[str, Any]]]) -> dict[str, Any]:
    """Run one staff-user change with the database open; a refusal exits 1 with its words."""
    from feedback.kernel.errors import DomainError

    @with_database
    async def run() -> dict[str, Any]:
        return await change()

    try:
        return run()
    except DomainError as exc:
        fail(exc.error)
        raise  # unreachable; keeps type checkers content


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the users as JSON lines.")
def users_list(as_json: bool) -> None:
    """List staff users: email, role, state, last sign-in."""

    @with_database
    async def run() -> list[dict[str, Any]]:
        from feedback.auth.staff_users import list_staff_users

        return await list_staff_users()

    for user in run():
        if as_json:
            click.echo(json.dumps(user, default=str))
            continue
        state = "active" if user["active"] else "deactivated"
        csm = f" (CSM {user['csm_email']})" if user["csm_email"] else ""
        last = (
            user["last_login_at"].strftime("%Y-%m-%d %H:%M") if user["last_login_at"] else "never"
        )
        click.echo(f"{user['email']}\t{user['role']}{csm}\t{state}\tlast sign-in {last}")


@users.command("deactivate")
@click.argument("email")
def users_deactivate(email: str) -> None:
    """Deactivate EMAIL: their sessions end and the API tokens they own are revoked."""

    async def change() -> dict[str, Any]:
        from feedback.auth.staff_users import find_staff_user, set_active

        return await set_active(await find_staff_user(email), False, "cli", "cli")

    user = _staff_change(change)
    click.echo(f"deactivated {user['email']}")


@users.command("activate")
@click.argument("email")
def users_activate(email: str) -> None:
    """Activate EMAIL again (they sign in with their password)."""

    async def change() -> dict[str, Any]:
        from feedback.auth.staff_users import find_staff_user, set_active

        return await set_active(await find_staff_user(email), True, "cli", "cli")

    user = _staff_change(change)
    click.echo(f"activated {user['email']}")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(["admin", "manager", "csm", "analyst"]))
@click.option("--csm-email", default=None, help="For role csm: the CSM whose accounts they see.")
def users_set_role(email: str, role: str, csm_email: str | None) -> None:
    """Give EMAIL another ROLE (applies from their next request)."""

    async def change() -> dict[str, Any]:
        from feedback.auth.services import parse_role
        from feedback.auth.staff_users import find_staff_user, set_role

        user_id = await find_staff_user(email)
        return await set_role(user_id, parse_role(role), csm_email, "cli", "cli")

    user = _staff_change(change)
    click.echo(f"{user['email']} is now {user['role']}")


@users.command("reset-password")
@click.argument("email")
@click.option(
    "--password",
    envvar="FEEDBACK_PASSWORD",
    prompt="New password",
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given; or set FEEDBACK_PASSWORD.",
)
def users_reset_password(email: str, password: str) -> None:
    """Set a new password for EMAIL; their sessions end."""

    async def change() -> dict[str, Any]:
        from feedback.auth.staff_users import find_staff_user, reset_password

        return await reset_password(await find_staff_user(email), password, "cli", "cli")

    user = _staff_change(change)
    click.echo(f"password reset for {user['email']}; their sessions ended")


@main.group()
def tokens() -> None:
    """API tokens (bearer tokens for /api/v1)."""


@tokens.command("create")
@click.option("--role", required=True, type=click.Choice(["admin", "manager", "csm", "analyst"]))
@click.option("--name", default="", help="What the token is for, e.g. 'CRM sync'.")
@click.option("--csm-email", default=None, help="For role csm: the CSM whose accounts it sees.")
@click.option(
    "--owner-email",
    default=None,
    help="The staff user the token acts for: deactivating them revokes it.",
)
def tokens_create(role: str, name: str, csm_email: str | None, owner_email: str | None) -> None:
    """Create an API token and print it once (only its hash is stored)."""
    from feedback.kernel.errors import DomainError

    @with_database
    async def run() -> str:
        from feedback.auth.services import audit, create_token, csm_id_for_email, parse_role
        from feedback.auth.staff_users import find_staff_user

        parsed = parse_role(role)
        csm_id = await csm_id_for_email(csm_email, parsed)
        owner_id = await find_staff_user(owner_email, "owner_email") if owner_email else None
        token, info = await create_token(parsed, name, "cli", csm_id, owner_id)
        await audit("cli", "cli", "token.create", info["prefix"], {"role": role, "name": name})
        return token

    try:
        token = run()
    except DomainError as exc:
        fail(exc.error)
    click.echo(token)


@main.command()
def check() -> None:
    """Check the configuration and that the database is reachable and migrated."""
    settings = settings_or_exit()
    click.echo(f"configuration: ok (environment {settings.environment})")
    click.echo(f"database: {settings.database.display}")
    if settings.secret_key_is_generated:
        click.secho(
            "warning: FEEDBACK_SECRET_KEY is not set; sign-in sessions end when the process "
            "restarts",
            fg="yellow",
        )
    from feedback.db import close_database, open_database, pending_migrations, ping

    async def run() -> tuple[bool, str, list[str]]:
        await open_database()
        try:
            ok, message = await ping()
            pending = await pending_migrations() if ok else []
            return ok, message, pending
        finally:
            await close_database()

    try:
        ok, message, pending = asyncio.run(run())
    except OSError as exc:
        ok, message, pending = False, str(exc), []
    if not ok:
        fail(f"database unreachable: {message}")
    if pending:
        fail(
            f"database reachable but {len(pending)} migrations are pending: run `feedback migrate`"
        )
    click.echo("database: reachable, migrations up to date")


@main.command()
@click.option("--once", is_flag=True, help="Run every job once and exit.")
def worker(once: bool) -> None:
    """Run background jobs (churn, CTA rules, snoozes, digests); deliver the Slack outbox."""
    from feedback.runtime import run_worker

    settings = settings_or_exit()

    @with_database
    async def run() -> None:
        await run_worker(settings.worker_interval_seconds, once=once)

    run()


@main.group()
def health() -> None:
    """Health scores: the daily snapshot per account."""


@health.command("snapshot")
@click.option(
    "--day",
    default=None,
    help="The UTC day to compute, YYYY-MM-DD (default: yesterday, the last complete day).",
)
def health_snapshot(day: str | None) -> None:
    """Compute one day's health snapshot for every account; re-running a day replaces it."""
    from datetime import date

    try:
        chosen = date.fromisoformat(day) if day else None
    except ValueError:
        fail(f"--day: expected YYYY-MM-DD, got {day!r}")

    @with_database
    async def run() -> Any:
        from feedback.health.snapshot import compute_snapshot, last_complete_day

        return await compute_snapshot(chosen or last_complete_day(), replace=True)

    result = run()
    click.echo(f"health snapshot {result.day.isoformat()}: {result.accounts} accounts")


@main.group()
def slack() -> None:
    """The Slack app: its manifest, and Socket Mode for installs without a public URL."""


@slack.command("manifest")
@click.option(
    "--url",
    required=True,
    help="The service's public address, e.g. https://feedback.example.com.",
)
def slack_manifest(url: str) -> None:
    """Print the Slack app manifest with your address (paste it into api.slack.com/apps)."""
    if not url.startswith(("https://", "http://")):
        fail("--url: expected https://your-host")
    from importlib.resources import files

    text = files("bot").joinpath("slack-manifest.yml").read_text(encoding="utf-8")
    click.echo(text.replace("https://feedback.example.com", url.rstrip("/")), nl=False)


@slack.command("socket")
def slack_socket() -> None:
    """Talk to Slack over Socket Mode (needs FEEDBACK_SLACK_APP_TOKEN, xapp-...) instead of
    receiving requests at /slack/events; also delivers the outbox unless
    FEEDBACK_SLACK_DELIVERY=worker."""
    settings = settings_or_exit()
    if not settings.slack.configured:
        fail("FEEDBACK_SLACK_BOT_TOKEN: not set (Slack is not configured)")
    if not settings.slack.app_token:
        fail("FEEDBACK_SLACK_APP_TOKEN: Socket Mode needs an app-level token (xapp-...)")

    @with_database
    async def run() -> None:
        from feedback.runtime import run_socket_mode

        await run_socket_mode(settings)

    run()


@main.command()
@click.argument("kind", type=click.Choice(["user", "account"]))
@click.argument("external_id")
@click.option(
    "--mode",
    type=click.Choice(["anonymise", "delete"]),
    default="anonymise",
    show_default=True,
    help="anonymise: answers keep score and segments, lose the person; delete: answers go too.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def erase(kind: str, external_id: str, mode: str, yes: bool) -> None:
    """Erase an end user or an account on request (an audit entry is kept)."""
    settings_or_exit()
    if not yes:
        click.confirm(f"Erase {kind} {external_id!r} ({mode})?", abort=True)
    from feedback.kernel.errors import InputError
    from feedback.lifecycle import services

    @with_database
    async def run() -> dict[str, Any]:
        erase_one = services.erase_user if kind == "user" else services.erase_account
        return await erase_one(external_id, mode, "cli", "cli")

    try:
        result = run()
    except InputError as exc:
        fail(f"{exc.field}: {exc.message}")
        return
    click.echo(json.dumps(result))


@main.command("export")
@click.argument("kind", type=click.Choice(["account"]))
@click.argument("external_id")
@click.option(
    "--output", type=click.Path(dir_okay=False, writable=True), help="File (else stdout)."
)
def export_data(kind: str, external_id: str, output: str | None) -> None:
    """Export everything stored about an account as JSON."""
    settings_or_exit()
    from feedback.auth.services import audit
    from feedback.kernel.errors import InputError
    from feedback.lifecycle import services

    @with_database
    async def run() -> dict[str, Any]:
        data = await services.export_account(external_id)
        await audit("cli", "cli", "export.account", external_id, {})
        return data

    try:
        data = run()
    except InputError as exc:
        fail(f"{exc.field}: {exc.message}")
        return
    text = json.dumps(data, indent=2, ensure_ascii=False)
    if output:
        Path(output).write_text(text + "\n", encoding="utf-8")
    else:
        click.echo(text)


# --- comment themes (issue 17) ---------------------------------------------------------------


@main.group()
def themes() -> None:
    """Comment themes, learned on this server from the comments (English and Japanese)."""


@themes.command("build")
@click.option(
    "--language", type=click.Choice(["en", "ja"]), default=None, help="One language (else both)."
)
@click.option("--max-themes", type=click.IntRange(2, 50), default=15, show_default=True)
def themes_build(language: str | None, max_themes: int) -> None:
    """Learn the themes again from every comment; themes that are the same keep their id,
    name, pin and merges. Then theme the comments that came meanwhile."""
    settings_or_exit()
    from feedback.auth.services import audit
    from feedback.themes.assign import assign_new_comments
    from feedback.themes.build import build_themes

    @with_database
    async def run() -> list[Any]:
        builds = await build_themes([language] if language else None, max_themes=max_themes)
        await assign_new_comments()
        await audit("cli", "cli", "themes.build", "theme", {"language": language})
        return builds

    for build in run():
        click.echo(
            f"{build.language}: {build.comments} comments, {build.themes} themes "
            f"({build.kept} kept, {build.new} new, {build.retired} retired) in {build.seconds} s"
        )


@themes.command("assign")
def themes_assign() -> None:
    """Place the comments not themed yet in the existing themes (what the worker does daily)."""
    settings_or_exit()
    from feedback.themes.assign import assign_new_comments

    @with_database
    async def run() -> int:
        return await assign_new_comments()

    click.echo(f"comments themed: {run()}")


@themes.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the themes as JSON lines.")
def themes_list(as_json: bool) -> None:
    """The themes shown in reports, the most answers first."""
    settings_or_exit()
    from feedback.kernel.principal import Principal, Role
    from feedback.themes.members import all_themes
    from feedback.themes.reports import answers_per_theme

    @with_database
    async def run() -> list[tuple[Any, int]]:
        counts = await answers_per_theme(Principal(role=Role.admin, actor="cli", source="cli"))
        shown = [t for t in await all_themes() if t.status in ("active", "hidden")]
        return sorted(((t, counts.get(t.id, 0)) for t in shown), key=lambda p: -p[1])

    for theme, answers in run():
        if as_json:
            row = {
                "id": theme.id,
                "label": theme.shown_label,
                "language": theme.language,
                "source": theme.source,
                "status": theme.status,
                "pinned": theme.pinned,
                "answers": answers,
                "keyphrases": theme.keyphrases,
            }
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            pin = " pinned" if theme.pinned else ""
            click.echo(
                f"{theme.id}\t{theme.language}\t{answers}\t{theme.shown_label}"
                f"\t{theme.source}{pin}{'' if theme.status == 'active' else ' hidden'}"
            )


@main.group()
def mail() -> None:
    """Mail to customers (programs): check the SMTP relay."""


@mail.command("test")
@click.option("--to", "to_address", required=True, help="Where to send the test mail.")
def mail_test(to_address: str) -> None:
    """Send one test mail through FEEDBACK_SMTP_URL now (not through the outbox)."""
    settings = settings_or_exit()
    from feedback.mail.delivery import SmtpFailure, send_test_mail
    from feedback.mail.enqueue import normalize_address

    address = normalize_address(to_address)
    if address is None:
        fail(f"--to: not an email address: {to_address!r}")
    if settings.mail.smtp is None:
        fail("FEEDBACK_SMTP_URL is not set: mails wait on the mail outbox page")
    try:
        reply = asyncio.run(send_test_mail(settings, str(address)))
    except SmtpFailure as exc:
        fail(f"{settings.mail.smtp.display()} refused the mail: {exc.error}")
    click.echo(f"sent to {address} through {settings.mail.smtp.display()}: {reply}")


# --- pooled specialists (issue 18) -----------------------------------------------------------


@main.group()
def pools() -> None:
    """Pools of specialists: list them, import pools and members, run their SLA job."""


@pools.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print each pool as a JSON line.")
def pools_list(as_json: bool) -> None:
    """Every pool with its rule, channel and members."""
    settings_or_exit()
    from feedback.pools.services import list_pools

    @with_database
    async def run() -> list[Any]:
        return await list_pools()

    for pool in run():
        if as_json:
            click.echo(json.dumps(pool.as_dict(), default=str, ensure_ascii=False))
        else:
            members = ", ".join(m.email for m in pool.members) or "no members"
            state = "" if pool.active else " (inactive)"
            channel = pool.slack_channel or "-"
            click.echo(f"{pool.id}\t{pool.name}{state}\t{pool.rule}\t{channel}\t{members}")


@pools.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def pools_import(path: Path) -> None:
    """Import pools and members from a CSV file (all or nothing; docs/pools.md)."""
    settings_or_exit()
    from feedback.pools.imports import import_pools

    data = path.read_bytes()

    @with_database
    async def run() -> Any:
        return await import_pools(data, actor="cli", source="cli")

    result = run()
    for error in result.errors[:100]:
        click.echo(str(error), err=True)
    if not result.ok:
        fail(f"import refused: {len(result.errors)} errors, nothing written")
    click.echo(json.dumps(result.as_dict()))


@pools.command("sla")
def pools_sla() -> None:
    """Assign and escalate the pooled CTAs that are due now (the worker does this too)."""
    settings_or_exit()
    from feedback.pools.sla import run_pool_sla

    @with_database
    async def run() -> int:
        return await run_pool_sla()

    click.echo(f"pooled CTAs assigned or escalated: {run()}")


# --- programs that email customers (issue 18) -----------------------------------------------


@main.group()
def programs() -> None:
    """Programs that email customers: list them, create the shipped ones, run a round."""


@programs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print each program as a JSON line.")
def programs_list(as_json: bool) -> None:
    """Every program with its state, trigger and participant counts."""
    settings_or_exit()
    from feedback.programs.services import list_programs, participant_counts, program_json

    @with_database
    async def run() -> list[dict[str, Any]]:
        counts = await participant_counts()
        return [program_json(p, counts.get(p.id, {})) for p in await list_programs()]

    for program in run():
        if as_json:
            click.echo(json.dumps(program, default=str, ensure_ascii=False))
        else:
            state = "on" if program["enabled"] else "off"
            enrolled = program["participants"].get("enrolled", 0)
            trigger = program["trigger"]["kind"]
            line = [str(program["id"]), program["name"], state, trigger, f"{enrolled} enrolled"]
            click.echo("\t".join(line))


@programs.command("ensure-defaults")
@click.option("--enable", is_flag=True, help="Also switch the shipped programs on.")
def programs_ensure_defaults(enable: bool) -> None:
    """Create the shipped programs (Onboarding, Poor NPS follow-up) if they are missing."""
    settings_or_exit()
    from feedback.programs.shipped import ensure_default_programs

    @with_database
    async def run() -> list[int]:
        return await ensure_default_programs(enabled=enable)

    click.echo(f"shipped programs: {', '.join(str(i) for i in run())}")


@programs.command("run")
def programs_run() -> None:
    """Enrol whom the triggers name and do the due steps now (the worker does this too)."""
    settings_or_exit()
    from feedback.programs.jobs import programs_job

    @with_database
    async def run() -> int:
        return await programs_job()

    click.echo(f"people enrolled and steps done: {run()}")


def _move_in(
    tool: str,
    file: Path,
    skip_invalid: bool,
    dry_run: bool,
    as_json: bool,
    options: dict[str, Any],
) -> None:
    """`feedback import delighted|pendo|wootric`: every file in one transaction."""
    from feedback.imports.moving_in import move_in, options_for, read_plan

    paths = {"responses": file}
    for part in ("people", "unsubscribes", "bounces", "declines"):
        if options.get(part) is not None:
            paths[part] = options[part]
    try:
        plan = read_plan(tool, {part: path.read_bytes() for part, path in paths.items()})
    except ValueError as exc:
        fail(str(exc))
    chosen = options_for(
        tool,
        account_property=options.get("account_property"),
        account_name_property=options.get("account_name_property"),
        user_property=options.get("user_property"),
        default_account=options.get("default_account"),
    )

    @with_database
    async def run() -> Any:
        return await move_in(plan, chosen, skip_invalid=skip_invalid, dry_run=dry_run)

    result = run()
    if as_json:
        click.echo(json.dumps(result.as_dict()))
    else:
        state = "written" if result.written else ("validated" if dry_run else "NOT written")
        click.echo(
            f"{tool}: {result.rows} rows, {result.valid} valid, {result.invalid} invalid; "
            f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged "
            f"({state})"
        )
        for part, counts in result.parts.items():
            click.echo(f"  {part}: " + ", ".join(f"{n} {what}" for what, n in counts.items()))
        for error in result.errors[:50]:
            click.echo(f"  {error}", err=True)
        if len(result.errors) > 50:
            click.echo(f"  ... and {len(result.errors) - 50} more errors", err=True)
    if not result.ok and not skip_invalid:
        sys.exit(1)
