"""Configuration from `FEEDBACK_*` environment variables, validated once at start-up.

Secrets may also be given as `FEEDBACK_<NAME>_FILE`, a path whose content is the value
(Docker and Kubernetes secrets are mounted as files).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from urllib.parse import unquote, urlsplit

PREFIX = "FEEDBACK_"
ENVIRONMENTS = ("development", "production", "test")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class SettingsError(ValueError):
    """A configuration variable is missing or malformed; the message names it."""

    def __init__(self, variable: str, message: str) -> None:
        self.variable = variable
        super().__init__(f"{variable}: {message}")


def _raw(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(PREFIX + name)
    return None if value is None or value.strip() == "" else value.strip()


def env_str(env: Mapping[str, str], name: str, default: str) -> str:
    return _raw(env, name) or default


def env_int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _raw(env, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(PREFIX + name, f"expected an integer, got {raw!r}") from None
    if value < minimum:
        raise SettingsError(PREFIX + name, f"must be at least {minimum}, got {value}")
    return value


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _raw(env, name)
    if raw is None:
        return default
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(PREFIX + name, f"expected true or false, got {raw!r}")


def env_choice(env: Mapping[str, str], name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(env, name, default)
    if value not in choices:
        raise SettingsError(PREFIX + name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


def env_secret(env: Mapping[str, str], name: str) -> str | None:
    """Read `FEEDBACK_NAME`, or the file named by `FEEDBACK_NAME_FILE`."""
    direct = _raw(env, name)
    path = _raw(env, name + "_FILE")
    if direct is not None and path is not None:
        raise SettingsError(PREFIX + name, f"set either {PREFIX}{name} or {PREFIX}{name}_FILE")
    if path is None:
        return direct
    try:
        content = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(
            PREFIX + name + "_FILE", f"cannot read {path}: {exc.strerror}"
        ) from None
    if not content:
        raise SettingsError(PREFIX + name + "_FILE", f"{path} is empty")
    return content


@dataclass(frozen=True)
class DatabaseURL:
    engine: str  # "sqlite" or "postgres"
    url: str
    sqlite_path: str | None = None

    @property
    def display(self) -> str:
        """The URL without its password, safe to print."""
        if self.engine == "sqlite":
            return self.url
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
            return parts._replace(netloc=netloc).geturl()
        return self.url


def parse_database_url(value: str, variable: str = PREFIX + "DATABASE_URL") -> DatabaseURL:
    if value.startswith("sqlite:///"):
        path = value.removeprefix("sqlite:///")
        if not path:
            raise SettingsError(
                variable, "sqlite URL needs a file path: sqlite:///feedback.sqlite3"
            )
        # sqlite:////abs/path keeps its leading slash, sqlite:///rel/path is relative
        return DatabaseURL(engine="sqlite", url=value, sqlite_path=path)
    if value.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(value)
        if not parts.hostname and "host=" not in parts.query:
            raise SettingsError(variable, "PostgreSQL URL needs a host")
        if not parts.path.strip("/"):
            raise SettingsError(variable, "PostgreSQL URL needs a database name")
        return DatabaseURL(engine="postgres", url=value)
    raise SettingsError(
        variable,
        f"unsupported URL {value!r}: use sqlite:///path/to/file.sqlite3 or postgresql://...",
    )


@dataclass(frozen=True)
class Settings:
    environment: str
    database: DatabaseURL
    secret_key: str
    secret_key_is_generated: bool
    host: str
    port: int
    log_level: str
    secure_cookies: bool
    max_import_bytes: int
    worker_interval_seconds: int
    db_pool_size: int
    redis_url: str | None
    widget_rate_per_ip: int  # requests per minute, 0 = no limit
    widget_rate_per_key: int
    public_url: str
    slack: SlackSettings
    comment_retention_months: int  # 0 = keep comments
    log_format: str  # text or json
    metrics_token: str | None  # /metrics is off without it
    answer_rules_in_serve: bool  # `feedback serve` also runs the answer rule runner
    # proxies whose X-Forwarded-For is believed; without any, forwarded headers are ignored
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...]
    widget_followup_hours: int  # a comment or dismissal is taken this long after the display
    widget_comment_edit_minutes: int  # a stored comment may be replaced for this long
    public_api_docs: bool  # /schema (the OpenAPI documentation) is served without sign-in
    login_failures_per_account: int  # failed sign-ins per account per window, then refused
    login_failures_per_ip: int  # failed sign-ins per client address per window
    login_window_minutes: int
    import_max_columns: int  # an uploaded CSV with more columns is refused
    import_max_cell_chars: int  # a cell longer than this is a row error
    mail: MailSettings = field(default_factory=lambda: MailSettings())
    # `feedback serve` also runs the worker's periodic jobs (one process is enough for a
    # laptop or the demo; scripts/start turns it on)
    jobs_in_serve: bool = False
    webhooks: WebhookSettings = field(default_factory=lambda: WebhookSettings())

    @property
    def session_key(self) -> bytes:
        """32 bytes for the encrypted session cookie, derived from the secret key."""
        return hashlib.sha256(("session:" + self.secret_key).encode()).digest()

    @property
    def csrf_secret(self) -> str:
        return hashlib.sha256(("csrf:" + self.secret_key).encode()).hexdigest()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    known = {
        "ENV",
        "DATABASE_URL",
        "SECRET_KEY",
        "SECRET_KEY_FILE",
        "HOST",
        "PORT",
        "LOG_LEVEL",
        "SECURE_COOKIES",
        "MAX_IMPORT_BYTES",
        "WORKER_INTERVAL_SECONDS",
        "DB_POOL_SIZE",
        "REDIS_URL",
        "REDIS_URL_FILE",
        "WIDGET_RATE_PER_IP",
        "WIDGET_RATE_PER_KEY",
        "PUBLIC_URL",
        "COMMENT_RETENTION_MONTHS",
        "LOG_FORMAT",
        "METRICS_TOKEN",
        "METRICS_TOKEN_FILE",
        "SLACK_BOT_TOKEN",
        "SLACK_BOT_TOKEN_FILE",
        "SLACK_SIGNING_SECRET",
        "SLACK_SIGNING_SECRET_FILE",
        "SLACK_APP_TOKEN",
        "SLACK_APP_TOKEN_FILE",
        "SLACK_API_URL",
        "SLACK_DEFAULT_CHANNEL",
        "SLACK_CHANNEL_INTERVAL_MS",
        "SLACK_MAX_ATTEMPTS",
        "SLACK_RETRY_HOURS",
        "TRUSTED_PROXIES",
        "WIDGET_FOLLOWUP_HOURS",
        "WIDGET_COMMENT_EDIT_MINUTES",
        "PUBLIC_API_DOCS",
        "LOGIN_FAILURES_PER_ACCOUNT",
        "LOGIN_FAILURES_PER_IP",
        "LOGIN_WINDOW_MINUTES",
        "IMPORT_MAX_COLUMNS",
        "IMPORT_MAX_CELL_CHARS",
        "SLACK_LEASE_SECONDS",
        "SLACK_DELIVERY",
        "ANSWER_RULES",
        # mail to customers (programs; issue 18)
        "SMTP_URL",
        "SMTP_URL_FILE",
        "MAIL_FROM",
        "MAIL_MIN_DAYS_BETWEEN",
        "MAIL_RETRY_HOURS",
        "MAIL_LEASE_SECONDS",
        "MAIL_DELIVERY",
        # signed webhooks (issue 19)
        "WEBHOOK_ALLOW_PRIVATE",
        "WEBHOOK_RETRY_HOURS",
        "WEBHOOK_TIMEOUT_SECONDS",
        "WEBHOOK_LEASE_SECONDS",
        "WEBHOOK_DISABLE_AFTER_HOURS",
        "WEBHOOK_DELIVERY",
        # the worker's periodic jobs inside `feedback serve` (scripts/start turns it on)
        "JOBS_IN_SERVE",
        # read by the tools that create the first users and tokens
        "ADMIN_PASSWORD",
        "PASSWORD",
    }
    unknown = sorted(k for k in env if k.startswith(PREFIX) and k.removeprefix(PREFIX) not in known)
    if unknown:
        raise SettingsError(unknown[0], "unknown setting (is it misspelled?)")

    environment = env_choice(env, "ENV", "development", ENVIRONMENTS)
    database = parse_database_url(env_str(env, "DATABASE_URL", "sqlite:///feedback.sqlite3"))
    secret = env_secret(env, "SECRET_KEY")
    generated = secret is None
    if secret is None:
        if environment == "production":
            raise SettingsError(PREFIX + "SECRET_KEY", "required when FEEDBACK_ENV=production")
        secret = secrets.token_urlsafe(32)
    elif len(secret) < 16:
        raise SettingsError(PREFIX + "SECRET_KEY", "must be at least 16 characters")
    port = env_int(env, "PORT", 8000, minimum=1)
    if port > 65535:
        raise SettingsError(PREFIX + "PORT", f"must be at most 65535, got {port}")
    return Settings(
        environment=environment,
        database=database,
        secret_key=secret,
        secret_key_is_generated=generated,
        host=env_str(env, "HOST", "127.0.0.1"),
        port=port,
        log_level=env_choice(env, "LOG_LEVEL", "INFO", LOG_LEVELS),
        secure_cookies=env_bool(env, "SECURE_COOKIES", environment == "production"),
        max_import_bytes=env_int(env, "MAX_IMPORT_BYTES", 64 * 1024 * 1024, minimum=1024),
        worker_interval_seconds=env_int(env, "WORKER_INTERVAL_SECONDS", 60, minimum=1),
        db_pool_size=env_int(env, "DB_POOL_SIZE", 10, minimum=1),
        redis_url=_redis_url(env),
        widget_rate_per_ip=env_int(env, "WIDGET_RATE_PER_IP", 300),
        widget_rate_per_key=env_int(env, "WIDGET_RATE_PER_KEY", 60_000),
        public_url=_public_url(env, port),
        slack=_slack(env),
        comment_retention_months=env_int(env, "COMMENT_RETENTION_MONTHS", 0),
        log_format=env_choice(env, "LOG_FORMAT", "text", ("text", "json")),
        metrics_token=env_secret(env, "METRICS_TOKEN"),
        answer_rules_in_serve=env_choice(env, "ANSWER_RULES", "serve", ("serve", "worker"))
        == "serve",
        trusted_proxies=_networks(env, "TRUSTED_PROXIES"),
        widget_followup_hours=env_int(env, "WIDGET_FOLLOWUP_HOURS", 24, minimum=1),
        widget_comment_edit_minutes=env_int(env, "WIDGET_COMMENT_EDIT_MINUTES", 10),
        public_api_docs=env_bool(env, "PUBLIC_API_DOCS", True),
        login_failures_per_account=env_int(env, "LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1),
        login_failures_per_ip=env_int(env, "LOGIN_FAILURES_PER_IP", 30, minimum=1),
        login_window_minutes=env_int(env, "LOGIN_WINDOW_MINUTES", 15, minimum=1),
        import_max_columns=env_int(env, "IMPORT_MAX_COLUMNS", 1000, minimum=10),
        import_max_cell_chars=env_int(env, "IMPORT_MAX_CELL_CHARS", 10_000, minimum=100),
        mail=_mail(env),
        jobs_in_serve=env_bool(env, "JOBS_IN_SERVE", False),
        webhooks=_webhooks(env),
    )


def _networks(env: Mapping[str, str], name: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """A comma-separated list of addresses or CIDR ranges, e.g. `10.0.0.0/8, ::1`."""
    text = _raw(env, name) or ""
    networks: list[IPv4Network | IPv6Network] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ip_network(part, strict=False))
        except ValueError:
            message = f"{part!r} is not an address or CIDR range"
            raise SettingsError(PREFIX + name, message) from None
    return tuple(networks)


def _public_url(env: Mapping[str, str], port: int) -> str:
    url = env_str(env, "PUBLIC_URL", f"http://127.0.0.1:{port}").rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise SettingsError(PREFIX + "PUBLIC_URL", "expected http(s)://host[:port]")
    return url


@dataclass(frozen=True)
class SlackSettings:
    """Slack is optional: without a bot token, CTAs are kept in the outbox as `unrouted`
    and the admin page shows what would have been sent."""

    bot_token: str | None
    signing_secret: str | None
    app_token: str | None  # Socket Mode (xapp-...), for installs without a public URL
    api_url: str  # the Web API base; tests point it at a local stand-in
    default_channel: str | None
    channel_interval_ms: int  # at most one message per channel per interval
    max_attempts: int  # no longer used; kept so FEEDBACK_SLACK_MAX_ATTEMPTS still parses
    retry_hours: int  # transient errors keep a message retrying this long, then it is dead
    lease_seconds: int  # a claimed message not marked sent by then is sent by another worker
    deliver_in_serve: bool  # `feedback serve` also runs the outbox worker

    @property
    def configured(self) -> bool:
        return self.bot_token is not None


def _slack(env: Mapping[str, str]) -> SlackSettings:
    token = env_secret(env, "SLACK_BOT_TOKEN")
    signing = env_secret(env, "SLACK_SIGNING_SECRET")
    if token is not None and signing is None:
        raise SettingsError(
            PREFIX + "SLACK_SIGNING_SECRET", "required with FEEDBACK_SLACK_BOT_TOKEN"
        )
    api_url = env_str(env, "SLACK_API_URL", "https://slack.com/api/")
    if not api_url.startswith(("http://", "https://")):
        raise SettingsError(PREFIX + "SLACK_API_URL", "expected an http(s) URL")
    channel = _raw(env, "SLACK_DEFAULT_CHANNEL")
    return SlackSettings(
        bot_token=token,
        signing_secret=signing,
        app_token=env_secret(env, "SLACK_APP_TOKEN"),
        # slack-sdk joins method names onto the base: it must end with a slash
        api_url=api_url if api_url.endswith("/") else api_url + "/",
        default_channel=channel,
        channel_interval_ms=env_int(env, "SLACK_CHANNEL_INTERVAL_MS", 1000, minimum=0),
        max_attempts=env_int(env, "SLACK_MAX_ATTEMPTS", 8, minimum=1),
        retry_hours=env_int(env, "SLACK_RETRY_HOURS", 24, minimum=1),
        lease_seconds=env_int(env, "SLACK_LEASE_SECONDS", 60, minimum=1),
        deliver_in_serve=env_choice(env, "SLACK_DELIVERY", "serve", ("serve", "worker")) == "serve",
    )


@dataclass(frozen=True)
class SmtpURL:
    """Where mail goes: `smtp://[user:pass@]host[:port]` (STARTTLS when the server offers
    it; port 25 by default) or `smtps://...` (TLS from the first byte; port 465)."""

    scheme: str  # smtp or smtps
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @property
    def use_tls(self) -> bool:
        return self.scheme == "smtps"

    def display(self) -> str:
        """The URL without its password, for logs and pages."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"


def parse_smtp_url(value: str, variable: str = PREFIX + "SMTP_URL") -> SmtpURL:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise SettingsError(variable, "expected smtp://[user:pass@]host[:port] or smtps://...")
    try:
        port = parts.port
    except ValueError:
        raise SettingsError(variable, "the port must be a number from 1 to 65535") from None
    if not parts.hostname:
        raise SettingsError(variable, "the host is missing: smtp://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise SettingsError(variable, "expected no path or query after host[:port]")
    return SmtpURL(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port or (465 if parts.scheme == "smtps" else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


@dataclass(frozen=True)
class MailSettings:
    """Mail to customers (programs). Without `smtp`, mails wait on the outbox page."""

    smtp: SmtpURL | None = None
    # the address mail is sent from; the From name and Reply-To are the CSM's
    from_address: str = "feedback@localhost"
    min_days_between: int = 7  # at most one program mail per person per this many days
    retry_hours: int = 24  # a mail failing with 4xx or a dropped connection retries this long
    lease_seconds: int = 60  # a claimed mail not marked sent by then is sent by another worker
    deliver_in_serve: bool = True  # `feedback serve` also sends mail

    @property
    def configured(self) -> bool:
        return self.smtp is not None


def _mail(env: Mapping[str, str]) -> MailSettings:
    url = env_secret(env, "SMTP_URL")
    from_address = env_str(env, "MAIL_FROM", "feedback@localhost").strip()
    if "@" not in from_address or any(c in from_address for c in " <>,\r\n"):
        raise SettingsError(PREFIX + "MAIL_FROM", "expected one address, e.g. nps@example.com")
    return MailSettings(
        smtp=None if url is None else parse_smtp_url(url),
        from_address=from_address,
        min_days_between=env_int(env, "MAIL_MIN_DAYS_BETWEEN", 7),
        retry_hours=env_int(env, "MAIL_RETRY_HOURS", 24, minimum=1),
        lease_seconds=env_int(env, "MAIL_LEASE_SECONDS", 60, minimum=1),
        deliver_in_serve=env_choice(env, "MAIL_DELIVERY", "serve", ("serve", "worker")) == "serve",
    )


@dataclass(frozen=True)
class WebhookSettings:
    """Signed webhooks to the endpoints admins register (docs/webhooks.md)."""

    # endpoints on loopback, link-local and private addresses are refused unless allowed
    # (tests, on-premise receivers), so a webhook cannot probe the internal network
    allow_private: bool = False
    # a delivery failing with a 5xx, a timeout or no connection is retried this long
    retry_hours: int = 24
    timeout_seconds: int = 10  # a receiver that does not answer by then has failed this attempt
    lease_seconds: int = 60  # a claimed delivery not finished by then is tried by another worker
    # an endpoint whose deliveries have failed for this long is switched off and admins told
    disable_after_hours: int = 24
    deliver_in_serve: bool = True  # `feedback serve` also delivers webhooks


def _webhooks(env: Mapping[str, str]) -> WebhookSettings:
    return WebhookSettings(
        allow_private=env_bool(env, "WEBHOOK_ALLOW_PRIVATE", False),
        retry_hours=env_int(env, "WEBHOOK_RETRY_HOURS", 24, minimum=1),
        timeout_seconds=env_int(env, "WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1),
        lease_seconds=env_int(env, "WEBHOOK_LEASE_SECONDS", 60, minimum=1),
        disable_after_hours=env_int(env, "WEBHOOK_DISABLE_AFTER_HOURS", 24, minimum=1),
        deliver_in_serve=env_choice(env, "WEBHOOK_DELIVERY", "serve", ("serve", "worker"))
        == "serve",
    )


def _redis_url(env: Mapping[str, str]) -> str | None:
    url = env_secret(env, "REDIS_URL")
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError(PREFIX + "REDIS_URL", "expected redis://host:6379/0")
    return url


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
