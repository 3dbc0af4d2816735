"""Configuration from FEEDBACK_* variables; a bad one is named in the error."""

from __future__ import annotations

from pathlib import Path

import pytest

from feedback.settings import SettingsError, load_settings, parse_database_url


def test_defaults_use_an_sqlite_file_in_the_working_directory() -> None:
    settings = load_settings({})
    assert settings.database.engine == "sqlite"
    assert settings.database.sqlite_path == "feedback.sqlite3"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_a_postgres_url_selects_postgres_and_hides_its_password() -> None:
    url = parse_database_url("postgresql://app:s3cret@db:5432/feedback")
    assert url.engine == "postgres"
    assert "s3cret" not in url.display


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"FEEDBACK_PORT": "eighty"}, "FEEDBACK_PORT"),
        ({"FEEDBACK_PORT": "70000"}, "FEEDBACK_PORT"),
        ({"FEEDBACK_DATABASE_URL": "mysql://x/y"}, "FEEDBACK_DATABASE_URL"),
        ({"FEEDBACK_DATABASE_URL": "postgresql://host"}, "FEEDBACK_DATABASE_URL"),
        ({"FEEDBACK_ENV": "staging"}, "FEEDBACK_ENV"),
        ({"FEEDBACK_SECURE_COOKIES": "maybe"}, "FEEDBACK_SECURE_COOKIES"),
        ({"FEEDBACK_ENV": "production"}, "FEEDBACK_SECRET_KEY"),
        ({"FEEDBACK_SECRET_KEY": "short"}, "FEEDBACK_SECRET_KEY"),
        ({"FEEDBACK_DATABSE_URL": "sqlite:///x"}, "FEEDBACK_DATABSE_URL"),
        ({"FEEDBACK_SECRET_KEY_FILE": "/nonexistent/secret"}, "FEEDBACK_SECRET_KEY_FILE"),
        ({"FEEDBACK_SLACK_BOT_TOKEN": "xoxb-1"}, "FEEDBACK_SLACK_SIGNING_SECRET"),
        ({"FEEDBACK_SLACK_DELIVERY": "both"}, "FEEDBACK_SLACK_DELIVERY"),
        ({"FEEDBACK_ANSWER_RULES": "both"}, "FEEDBACK_ANSWER_RULES"),
        ({"FEEDBACK_SLACK_API_URL": "slack.com/api"}, "FEEDBACK_SLACK_API_URL"),
        ({"FEEDBACK_SLACK_MAX_ATTEMPTS": "0"}, "FEEDBACK_SLACK_MAX_ATTEMPTS"),
        ({"FEEDBACK_PUBLIC_URL": "feedback.example.com"}, "FEEDBACK_PUBLIC_URL"),
        ({"FEEDBACK_SMTP_URL": "mail.example.com:25"}, "FEEDBACK_SMTP_URL"),
        ({"FEEDBACK_SMTP_URL": "http://mail.example.com"}, "FEEDBACK_SMTP_URL"),
        ({"FEEDBACK_SMTP_URL": "smtp://mail.example.com:port"}, "FEEDBACK_SMTP_URL"),
        ({"FEEDBACK_SMTP_URL": "smtp://mail.example.com:70000"}, "FEEDBACK_SMTP_URL"),
        ({"FEEDBACK_SMTP_URL": "smtp://:25"}, "FEEDBACK_SMTP_URL"),
        ({"FEEDBACK_SMTP_URL": "smtp://mail.example.com/inbox"}, "FEEDBACK_SMTP_URL"),
        ({"FEEDBACK_MAIL_FROM": "Feedback <nps@example.com>"}, "FEEDBACK_MAIL_FROM"),
        ({"FEEDBACK_MAIL_DELIVERY": "both"}, "FEEDBACK_MAIL_DELIVERY"),
        ({"FEEDBACK_JOBS_IN_SERVE": "sometimes"}, "FEEDBACK_JOBS_IN_SERVE"),
        ({"FEEDBACK_WEBHOOK_DELIVERY": "both"}, "FEEDBACK_WEBHOOK_DELIVERY"),
        ({"FEEDBACK_WEBHOOK_ALLOW_PRIVATE": "maybe"}, "FEEDBACK_WEBHOOK_ALLOW_PRIVATE"),
        ({"FEEDBACK_WEBHOOK_RETRY_HOURS": "0"}, "FEEDBACK_WEBHOOK_RETRY_HOURS"),
        ({"FEEDBACK_WEBHOOK_TIMEOUT_SECONDS": "soon"}, "FEEDBACK_WEBHOOK_TIMEOUT_SECONDS"),
    ],
)
def test_it_names_the_bad_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    assert caught.value.variable == variable
    assert str(caught.value).startswith(variable + ":")


def test_secrets_can_be_read_from_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("a-long-enough-secret-from-a-file\n")
    settings = load_settings({"FEEDBACK_SECRET_KEY_FILE": str(secret)})
    assert settings.secret_key == "a-long-enough-secret-from-a-file"
    assert not settings.secret_key_is_generated


def test_the_redis_url_can_be_read_from_a_file(tmp_path: Path) -> None:
    """Documented like every secret, and refused as an unknown setting until 2026-12-05."""
    url = tmp_path / "redis-url"
    url.write_text("redis://:p4ss@127.0.0.1:6379/0\n")
    assert load_settings({"FEEDBACK_REDIS_URL_FILE": str(url)}).redis_url == (
        "redis://:p4ss@127.0.0.1:6379/0"
    )


def test_production_defaults_to_secure_cookies() -> None:
    settings = load_settings({"FEEDBACK_ENV": "production", "FEEDBACK_SECRET_KEY": "x" * 32})
    assert settings.secure_cookies


def test_slack_is_off_by_default_and_on_with_a_token_and_a_signing_secret(tmp_path: Path) -> None:
    assert load_settings({}).slack.configured is False
    secret = tmp_path / "signing"
    secret.write_text("s3cret-signing\n")
    settings = load_settings(
        {
            "FEEDBACK_SLACK_BOT_TOKEN": "xoxb-1",
            "FEEDBACK_SLACK_SIGNING_SECRET_FILE": str(secret),
            "FEEDBACK_SLACK_API_URL": "http://127.0.0.1:8099/api",
        }
    )
    assert settings.slack.configured and settings.slack.signing_secret == "s3cret-signing"
    # slack-sdk joins method names onto the base, which must end with a slash
    assert settings.slack.api_url == "http://127.0.0.1:8099/api/"
    assert settings.slack.deliver_in_serve is True


@pytest.mark.parametrize(
    ("url", "scheme", "host", "port", "user", "password", "tls"),
    [
        ("smtp://127.0.0.1:1025", "smtp", "127.0.0.1", 1025, None, None, False),
        ("smtp://relay.example.com", "smtp", "relay.example.com", 25, None, None, False),
        ("smtps://relay.example.com", "smtps", "relay.example.com", 465, None, None, True),
        # a password may hold reserved characters, percent-encoded
        (
            "smtp://nps%40example.com:p%40ss%3Aw@relay:587",
            "smtp",
            "relay",
            587,
            "nps@example.com",
            "p@ss:w",
            False,
        ),
    ],
)
def test_the_smtp_url_is_read_at_start_up(
    url: str, scheme: str, host: str, port: int, user: str | None, password: str | None, tls: bool
) -> None:
    smtp = load_settings({"FEEDBACK_SMTP_URL": url}).mail.smtp
    assert smtp is not None
    assert (smtp.scheme, smtp.host, smtp.port, smtp.username, smtp.password, smtp.use_tls) == (
        scheme,
        host,
        port,
        user,
        password,
        tls,
    )
    assert "p@ss" not in smtp.display()


def test_without_an_smtp_url_mail_waits_and_the_jobs_stay_in_the_worker() -> None:
    settings = load_settings({})
    assert settings.mail.smtp is None and not settings.mail.configured
    assert settings.mail.min_days_between == 7
    assert settings.jobs_in_serve is False
    assert load_settings({"FEEDBACK_JOBS_IN_SERVE": "true"}).jobs_in_serve is True


def test_webhook_settings_default_to_safe_and_are_read() -> None:
    defaults = load_settings({}).webhooks
    assert defaults.allow_private is False and defaults.deliver_in_serve is True
    assert (defaults.retry_hours, defaults.disable_after_hours) == (24, 24)
    chosen = load_settings(
        {
            "FEEDBACK_WEBHOOK_ALLOW_PRIVATE": "true",
            "FEEDBACK_WEBHOOK_DELIVERY": "worker",
            "FEEDBACK_WEBHOOK_RETRY_HOURS": "6",
            "FEEDBACK_WEBHOOK_TIMEOUT_SECONDS": "3",
            "FEEDBACK_WEBHOOK_LEASE_SECONDS": "30",
            "FEEDBACK_WEBHOOK_DISABLE_AFTER_HOURS": "12",
        }
    ).webhooks
    assert chosen.allow_private is True and chosen.deliver_in_serve is False
    assert (chosen.retry_hours, chosen.timeout_seconds, chosen.lease_seconds) == (6, 3, 30)
    assert chosen.disable_after_hours == 12
