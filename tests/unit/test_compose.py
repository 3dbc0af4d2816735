"""docker-compose.yml and the Dockerfile agree with the code they run.

The commands must be real `feedback` subcommands with real options, the FEEDBACK_*
variables must be ones `load_settings` accepts, the ports must line up. Nothing here
starts a container or connects to a database.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml

from feedback.cli import main
from feedback.settings import PREFIX, load_settings
from tests.support.paths import ROOT

COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
PYPROJECT = ROOT / "pyproject.toml"

FEEDBACK_SERVICES = ("app", "worker")
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - inside a container, that is the point

# what an operator would export before `docker compose up`
PLAUSIBLE_ENVIRONMENT = {
    "POSTGRES_PASSWORD": "s3cretPostgresPassword",
    "FEEDBACK_SECRET_KEY": "0123456789abcdef0123456789abcdef",
}

SHELLS = ("sh", "/bin/sh", "bash", "/bin/bash")
SHELL_SEPARATORS = ("&&", "||", ";", "|", "&")
INTERPOLATION = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


# ---- reading the files -------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def environment(name: str) -> dict[str, str]:
    """A service's `environment`, as written (a mapping or a list of KEY=VALUE)."""
    raw = service(name).get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.split("=", 1) if "=" in item else (item, "") for item in raw)
        return {key: value for key, value in pairs}
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def interpolate(value: str, variables: Mapping[str, str] = PLAUSIBLE_ENVIRONMENT) -> str:
    """Substitute `${VAR}`, `${VAR:-default}`, `${VAR:?message}` and `$VAR` as compose does."""

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        if name in variables:
            return variables[name]
        if op in ("-", ":-"):
            return arg
        pytest.fail(f"no plausible value for ${{{name}}} in {value!r}: add it to the test")

    return INTERPOLATION.sub(substitute, value)


def resolved_environment(name: str, **overrides: str) -> dict[str, str]:
    variables = {**PLAUSIBLE_ENVIRONMENT, **overrides}
    return {key: interpolate(value, variables) for key, value in environment(name).items()}


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends in a line continuation"
    return instructions


def dockerfile(keyword: str) -> list[str]:
    return [arguments for found, arguments in dockerfile_instructions() if found == keyword]


def dockerfile_cmd() -> list[str]:
    cmds = dockerfile("CMD")
    assert cmds, "the Dockerfile has no CMD"
    last = cmds[-1]
    assert last.startswith("["), "CMD should use the exec form, so that signals reach the server"
    return json.loads(last)


# ---- understanding the commands --------------------------------------------------------


def command_segments(command: str | list[str]) -> list[list[str]]:
    """The simple commands a compose `command` runs, e.g. [["feedback", "migrate"], ...].

    A string is split the way compose splits it (no shell); `sh -c SCRIPT` is looked into.
    """
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if len(argv) >= 3 and argv[0] in SHELLS and argv[1] == "-c":
        lexer = shlex.shlex(argv[2], posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        segments: list[list[str]] = [[]]
        for token in lexer:
            if token in SHELL_SEPARATORS:
                segments.append([])
            else:
                segments[-1].append(token)
        segments = [segment for segment in segments if segment]
    else:
        segments = [argv]
    # `exec feedback serve` replaces the shell with the server
    return [segment[1:] if segment[0] == "exec" else segment for segment in segments]


def feedback_invocations(command: str | list[str]) -> list[list[str]]:
    return [s for s in command_segments(command) if Path(s[0]).name == "feedback"]


def option_names(command: click.Command) -> set[str]:
    names: set[str] = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(param.opts, param.secondary_opts)
    return names


def parse_feedback(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """Resolve `feedback SUB ... --opts` against the click CLI; return (path, parsed params)."""
    assert argv[0].endswith("feedback")
    command: click.Command = main
    path = ["feedback"]
    args = argv[1:]
    while isinstance(command, click.Group):
        assert args, f"`{' '.join(argv)}` names no subcommand of `{' '.join(path)}`"
        name, args = args[0], args[1:]
        assert name in command.commands, (
            f"`{' '.join(path)} {name}` is not a command; known: {sorted(command.commands)}"
        )
        command = command.commands[name]
        path.append(name)
    known = option_names(command)
    for arg in args:
        if arg.startswith("--"):
            option = arg.split("=", 1)[0]
            assert option in known, f"`{' '.join(path)}` has no option {option}"
    # let click itself parse the rest: types (an integer --port), required options
    with command.make_context(" ".join(path), list(args)) as ctx:
        return " ".join(path), dict(ctx.params)


def serve_params(command: str | list[str]) -> dict[str, Any]:
    for argv in feedback_invocations(command):
        path, params = parse_feedback(argv)
        if path == "feedback serve":
            return params
    pytest.fail(f"{command!r} does not run `feedback serve`")


def app_serve_params() -> dict[str, Any]:
    return serve_params(service("app")["command"])


def published_container_port(ports: list[Any]) -> int:
    """The container side of the first `ports` entry ("8000:8000", "127.0.0.1:8000:8000"...)."""
    entry = ports[0]
    if isinstance(entry, dict):
        return int(entry["target"])
    container = str(entry).split(":")[-1]
    return int(container.split("/")[0])


def healthcheck_urls(text: str) -> list[str]:
    return re.findall(r"https?://[^\s'\"]+", text)


# ---- the services ----------------------------------------------------------------------


def test_compose_file_defines_postgres_app_and_worker() -> None:
    services = compose()["services"]
    assert {"postgres", "app", "worker"} <= set(services)


def test_every_feedback_command_in_compose_is_a_real_subcommand_with_real_options() -> None:
    seen = []
    for name, definition in compose()["services"].items():
        if "command" not in definition:
            continue
        for argv in feedback_invocations(definition["command"]):
            path, _ = parse_feedback(argv)
            seen.append((name, path))
    assert ("app", "feedback serve") in seen
    assert ("worker", "feedback worker") in seen


def test_serve_has_the_host_and_port_options_the_files_use() -> None:
    serve = main.commands["serve"]
    assert {"--host", "--port"} <= option_names(serve)
    port_option = next(p for p in serve.params if p.name == "port")
    assert isinstance(port_option.type, click.types.IntParamType)


def test_app_service_migrates_then_serves() -> None:
    invocations = feedback_invocations(service("app")["command"])
    paths = [parse_feedback(argv)[0] for argv in invocations]
    assert paths == ["feedback migrate", "feedback serve"]
    script = service("app")["command"]
    script = script if isinstance(script, str) else " ".join(script)
    # the server must only start when the migrations succeeded
    assert re.search(r"feedback migrate\s*&&", script), script


def test_app_serves_on_all_interfaces_of_the_container() -> None:
    assert app_serve_params()["host"] == ALL_INTERFACES


def test_worker_service_runs_the_worker() -> None:
    paths = [parse_feedback(argv)[0] for argv in feedback_invocations(service("worker")["command"])]
    assert paths[-1] == "feedback worker"


def test_worker_runs_the_same_image_as_the_app() -> None:
    app, worker = service("app"), service("worker")
    assert worker.get("image", app.get("image")) == app.get("image")
    assert worker.get("build", app.get("build")) == app.get("build")
    assert app.get("build") or app.get("image")


def test_worker_does_not_inherit_the_web_healthcheck() -> None:
    # the image's HEALTHCHECK probes /healthz, which only the app serves
    assert service("worker").get("healthcheck", {}).get("disable") is True


# ---- ports -------------------------------------------------------------------------------


def test_app_publishes_the_port_it_serves_on() -> None:
    assert published_container_port(service("app")["ports"]) == app_serve_params()["port"]


def test_dockerfile_exposes_the_port_the_app_serves_on() -> None:
    exposed = {int(port.split("/")[0]) for line in dockerfile("EXPOSE") for port in line.split()}
    assert app_serve_params()["port"] in exposed
    assert serve_params(dockerfile_cmd())["port"] in exposed


def test_feedback_host_and_port_agree_with_the_serve_command() -> None:
    settings = load_settings(resolved_environment("app"))
    params = app_serve_params()
    assert settings.port == params["port"]
    assert settings.host == params["host"]


def test_healthchecks_probe_healthz_on_the_served_port() -> None:
    port = app_serve_params()["port"]
    expected = f"http://127.0.0.1:{port}/healthz"
    healthchecks = dockerfile("HEALTHCHECK")
    assert healthchecks, "the Dockerfile has no HEALTHCHECK"
    assert healthcheck_urls(healthchecks[-1]) == [expected]
    assert "urllib" in healthchecks[-1]  # python:3.11-slim has no curl
    app_check = service("app").get("healthcheck")
    if app_check:  # compose may tune the image's check; it must still probe the same URL
        test = app_check["test"]
        assert healthcheck_urls(test if isinstance(test, str) else " ".join(test)) == [expected]


# ---- settings ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", FEEDBACK_SERVICES)
def test_every_feedback_variable_is_accepted_by_load_settings(name: str) -> None:
    env = resolved_environment(name)
    assert any(key.startswith(PREFIX) for key in env)
    load_settings(env)  # raises SettingsError on an unknown or malformed FEEDBACK_* variable


@pytest.mark.parametrize("name", FEEDBACK_SERVICES)
def test_database_url_is_postgres_on_the_postgres_service(name: str) -> None:
    settings = load_settings(resolved_environment(name))
    assert settings.database.engine == "postgres"
    url = urlsplit(settings.database.url)
    postgres = resolved_environment("postgres")
    assert url.hostname == "postgres"
    assert (url.port or 5432) == 5432
    assert url.username == postgres.get("POSTGRES_USER", "postgres")
    assert url.path.strip("/") == postgres.get("POSTGRES_DB", url.username)
    assert url.password == postgres["POSTGRES_PASSWORD"]


def test_database_password_comes_from_the_environment() -> None:
    written = environment("postgres")["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]*\}", written), written
    assert "${POSTGRES_PASSWORD" in environment("app")["FEEDBACK_DATABASE_URL"]


@pytest.mark.parametrize("name", FEEDBACK_SERVICES)
def test_services_run_in_production_with_the_secret_key_from_the_environment(name: str) -> None:
    env = environment(name)
    assert env["FEEDBACK_ENV"] == "production"
    written = env.get("FEEDBACK_SECRET_KEY") or env.get("FEEDBACK_SECRET_KEY_FILE")
    assert written is not None, "production needs FEEDBACK_SECRET_KEY or FEEDBACK_SECRET_KEY_FILE"
    # required (`:?`) rather than defaulted, so compose refuses to start without it
    assert re.fullmatch(r"\$\{FEEDBACK_SECRET_KEY(_FILE)?:\?[^}]*\}", written), written
    settings = load_settings(resolved_environment(name))
    assert settings.environment == "production"
    assert settings.secret_key == PLAUSIBLE_ENVIRONMENT["FEEDBACK_SECRET_KEY"]
    assert not settings.secret_key_is_generated


def test_secure_cookies_default_on_and_can_be_switched_off() -> None:
    written = environment("app")["FEEDBACK_SECURE_COOKIES"]
    assert re.fullmatch(r"\$\{FEEDBACK_SECURE_COOKIES:?-[^}]*\}", written), written
    assert load_settings(resolved_environment("app")).secure_cookies is True
    switched_off = resolved_environment("app", FEEDBACK_SECURE_COOKIES="false")
    assert load_settings(switched_off).secure_cookies is False


def test_app_and_worker_share_the_same_configuration() -> None:
    assert resolved_environment("app") == resolved_environment("worker")


# ---- postgres and start-up order -------------------------------------------------------


def test_postgres_keeps_its_data_in_a_named_volume() -> None:
    volumes = service("postgres").get("volumes") or []
    named = compose().get("volumes") or {}
    sources = [v["source"] if isinstance(v, dict) else str(v).split(":")[0] for v in volumes]
    targets = [v["target"] if isinstance(v, dict) else str(v).split(":")[1] for v in volumes]
    assert "/var/lib/postgresql/data" in targets
    data = sources[targets.index("/var/lib/postgresql/data")]
    assert data in named, f"{data!r} is not a named volume"


def test_postgres_has_a_pg_isready_healthcheck() -> None:
    check = service("postgres")["healthcheck"]
    test = check["test"] if isinstance(check["test"], str) else " ".join(check["test"])
    assert "pg_isready" in test
    assert not check.get("disable")


@pytest.mark.parametrize("name", FEEDBACK_SERVICES)
def test_services_wait_for_a_healthy_database(name: str) -> None:
    depends_on = service(name)["depends_on"]
    assert depends_on["postgres"]["condition"] == "service_healthy"


def test_worker_starts_after_the_app_has_migrated() -> None:
    migrates_itself = any(
        parse_feedback(argv)[0] == "feedback migrate"
        for argv in feedback_invocations(service("worker")["command"])
    )
    depends_on = service("worker")["depends_on"]
    assert migrates_itself or "app" in depends_on


# ---- the Dockerfile ----------------------------------------------------------------------


def test_dockerfile_builds_on_python_3_11_slim() -> None:
    bases = [line.split()[0] for line in dockerfile("FROM")]
    assert bases, "the Dockerfile has no FROM"
    assert all(base == "python:3.11-slim" for base in bases), bases


def test_dockerfile_default_command_is_feedback_serve() -> None:
    cmd = dockerfile_cmd()
    assert cmd[:2] == ["feedback", "serve"]
    assert serve_params(cmd)["host"] == ALL_INTERFACES


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = dockerfile("USER")
    assert users, "the Dockerfile has no USER"
    assert users[-1].split(":")[0] not in ("root", "0")


def test_dockerfile_installs_the_project_with_pip() -> None:
    assert any(
        re.search(r"\bpip install\b.*(?<![\w/.-])\.(\s|$)", run) for run in dockerfile("RUN")
    )


def test_dockerfile_copies_every_folder_the_wheel_packages() -> None:
    pyproject = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    wheel = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = {*wheel["packages"], *wheel.get("force-include", {}), "pyproject.toml"}
    readme = pyproject["project"].get("readme")
    if isinstance(readme, str):  # hatchling reads it into the metadata
        needed.add(readme)
    copied: set[str] = set()
    for arguments in dockerfile("COPY"):
        words = [w for w in arguments.split() if not w.startswith("--")]
        copied.update(source.rstrip("/") for source in words[:-1])
    if "." in copied:
        return
    assert needed <= copied, f"not copied into the image: {sorted(needed - copied)}"
