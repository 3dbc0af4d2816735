"""Surveys, their schedules, widget keys and displays (one per time a user is asked)."""

from enum import StrEnum

from piccolo.columns import (
    JSONB,
    Boolean,
    ForeignKey,
    Integer,
    OnDelete,
    Real,
    Serial,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from feedback.accounts.models import Account, EndUser


class DisplayStatus(StrEnum):
    shown = "shown"
    answered = "answered"
    dismissed = "dismissed"
    expired = "expired"


class IdentityMode(StrEnum):
    """What a widget call must prove about who is asking (see docs/widget.md)."""

    # an `identity_token` signed by the host's server names the user, account and traits
    signed = "signed"
    # a `user_hash` proves the user id only: the call never creates an account, moves the
    # user or changes their traits (the account and traits come from imports)
    user_hash = "user_hash"
    # the key trusts the browser: whatever the call says is stored (development, demos)
    browser = "browser"


class Survey(Table, tablename="survey"):
    """The NPS question with its follow-ups and thank-yous, per locale (texts fall back to
    the built-in English and Japanese defaults key by key)."""

    id: Serial  # the primary key Piccolo adds, declared for type checkers
    name = Varchar(length=200)
    product_name = Varchar(length=200, default="our product")
    texts = JSONB(default={})
    promoter_link_url = Varchar(length=2000, null=True, default=None)
    # a detractor's thank-you offers "Talk to <owner>" with the meeting link of the account's
    # CSM (or of the pool serving it), in the words of the locale's `talk_to_label`
    talk_to_detractors = Boolean(default=False)
    theme = JSONB(default={})
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Schedule(Table, tablename="schedule"):
    """Who is asked a survey, how often and where. See feedback/surveys/cadence.py."""

    id: Serial
    survey = ForeignKey(references=Survey, null=False, on_delete=OnDelete.cascade, index=True)
    name = Varchar(length=200, default="")
    cadence_days = Integer(default=90)
    first_survey_after_days = Integer(default=14)
    dismiss_backoff_days = Integer(default=30)
    max_asks_per_cycle = Integer(default=3)
    sample_percent = Real(default=100.0)
    max_users_per_account = Integer(null=True, default=None)
    targeting = JSONB(default={})
    delay_seconds = Integer(default=0)
    starts_at = Timestamptz(null=True, default=None)
    ends_at = Timestamptz(null=True, default=None)
    priority = Integer(default=0)
    active = Boolean(default=True)
    # where the schedule may ask: the ids of the widget keys, the environments (production,
    # staging, development) its users come through; empty: any key, any environment
    widget_keys = JSONB(default=[])
    environments = JSONB(default=[])
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class WidgetKey(Table, tablename="widget_key"):
    """A public, write-only key for one environment of the host product."""

    id: Serial
    key = Varchar(length=64, unique=True, index=True)
    name = Varchar(length=200, default="")
    environment = Varchar(length=20, default="production")
    allowed_origins = JSONB(default=[])
    # no longer written: the migration that added the sealed columns moved its value there
    identity_secret = Varchar(length=128, null=True, default=None, secret=True)
    # some verification is required (`identity` says which); a key inserted without an
    # `identity` but with this set is treated as `user_hash`, never as trusting the browser
    require_identity = Boolean(default=False)
    # keys made through the API or the admin page say it explicitly (production: signed)
    identity = Varchar(length=20, default=IdentityMode.browser.value, choices=IdentityMode)
    # the identity secret (HS256 and user_hash key), encrypted with the service's secret key
    identity_secret_sealed = Text(null=True, default=None, secret=True)
    # during a rotation, the previous secret, which still verifies until `previous_secret_until`
    previous_secret_sealed = Text(null=True, default=None, secret=True)
    previous_secret_until = Timestamptz(null=True, default=None)
    active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Display(Table, tablename="display"):
    id: Serial
    # unique: already indexed (a second index only slowed every insert)
    token = Varchar(length=64, unique=True)
    # schedule:user:cycle:ask; unique, so simultaneous checks reserve one display at most
    slot = Varchar(length=200, unique=True)
    survey = ForeignKey(references=Survey, null=False, on_delete=OnDelete.cascade)
    schedule = ForeignKey(references=Schedule, null=False, on_delete=OnDelete.cascade)
    # indexed by display_user_schedule (end_user, schedule) and display_account_schedule_shown
    end_user = ForeignKey(references=EndUser, null=False, on_delete=OnDelete.cascade)
    account = ForeignKey(references=Account, null=False, on_delete=OnDelete.cascade)
    widget_key = ForeignKey(references=WidgetKey, null=True, on_delete=OnDelete.set_null)
    # the environment of the key it came through (kept should the key change or go):
    # see feedback/kernel/environments.py
    environment = Varchar(length=20, default="production")
    cycle = Integer()
    status = Varchar(length=20, default=DisplayStatus.shown.value, choices=DisplayStatus)
    locale = Varchar(length=35, default="en")
    url = Text(null=True, default=None)
    shown_at = Timestamptz(default=TimestamptzNow(), index=True)
    expires_at = Timestamptz()
    answered_at = Timestamptz(null=True, default=None)
    dismissed_at = Timestamptz(null=True, default=None)


class LinkClick(Table, tablename="survey_link_click"):
    """A display whose thank-you link (e.g. "Talk to ...") was followed: one row per display
    and link, so the widget's retries count once. The survey's page counts them per
    category; nothing here names the person beyond the display."""

    id: Serial
    # display:link, unique: a retried or repeated click of one display counts once
    slot = Varchar(length=100, unique=True)
    display = ForeignKey(references=Display, null=False, on_delete=OnDelete.cascade)
    survey = ForeignKey(references=Survey, null=False, on_delete=OnDelete.cascade, index=True)
    link = Varchar(length=20)
    category = Varchar(length=20)
    clicked_at = Timestamptz(default=TimestamptzNow())
