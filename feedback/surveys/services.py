"""Survey delivery: widget keys, eligibility with race-free reservation, and response intake.

Every decision is made here, on the server, so it holds across tabs and devices. The
reservation is two guards in one transaction: a compare-and-set on the user's
`last_display_at` (the global gap between any two surveys) and a unique `slot` per
schedule, user, cycle and ask. Simultaneous checks for one user therefore reserve at most
one display on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain
from typing import Any, NamedTuple

from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from feedback.accounts.models import Account, EndUser
from feedback.ctas.rules import notify_answer_rules
from feedback.db import GroupCommit, Statement, as_utc_datetime, is_sqlite, write_transaction
from feedback.errors import InputError, database_unavailable
from feedback.kernel.clock import utcnow
from feedback.observability import ANSWER_BATCH_SIZE, NEW_USER_BATCH_SIZE
from feedback.surveys.cache import TTLCache
from feedback.surveys.cadence import CadenceRules, Decision, UserHistory, cycle_at, decide
from feedback.surveys.models import (
    AppSetting,
    Display,
    DisplayStatus,
    Schedule,
    WidgetKey,
)
from feedback.surveys.targeting import targets, url_path
from feedback.surveys.texts import best_locale, category, localised_texts

DISPLAY_LIFETIME = timedelta(hours=1)
# the longest the widget waits before asking again, so configuration changes reach it
MAX_CHECK_INTERVAL = timedelta(days=1)
DEFAULT_MIN_DAYS_BETWEEN_SURVEYS = 7
# last_seen_at is for "going dark" reports, not a clock: one write an hour per user is enough
LAST_SEEN_RESOLUTION = timedelta(hours=1)
USER_FIELDS = ("role", "locale", "email")
ACCOUNT_FIELDS = ("plan", "industry")


class _NotReserved(Exception):
    """Another request took the slot first: roll back this one's compare-and-set."""


@dataclass(frozen=True)
class KeyInfo:
    id: int
    key: str
    environment: str
    allowed_origins: tuple[str, ...]
    identity_secret: str | None
    require_identity: bool


CONFIG_TTL_SECONDS = 10
_keys: TTLCache[KeyInfo | None] = TTLCache(CONFIG_TTL_SECONDS)
_config: TTLCache[Any] = TTLCache(CONFIG_TTL_SECONDS)


# "not now, until T" per user, page and traits: decisions only move later as a user is
# asked, answers or dismisses, so a repeat check before T can be answered from memory. Capped
# so that admin changes made in another process reach every user within minutes.
QUIET_CAP = timedelta(minutes=5)
QUIET_MAX_ENTRIES = 100_000
_quiet: dict[tuple[Any, ...], tuple[datetime, datetime]] = {}
# entries outlive their use by up to QUIET_CAP: drop the stale ones whenever the dict has
# doubled since the last sweep, so memory follows the users active in the last minutes
_quiet_sweep_at = 1_000

# account external id -> (primary key, plan): a check for a user of a known account is then
# one statement, whether the user is new or not (`_VISIT`). The plan is what targeting reads;
# like the rest of the configuration, a change reaches other processes within 10 s.
_accounts: TTLCache[tuple[int, str | None]] = TTLCache(
    CONFIG_TTL_SECONDS, max_entries=QUIET_MAX_ENTRIES
)


def forget_configuration() -> None:
    """Called after admin changes so this process applies them at once."""
    _keys.clear()
    _config.clear()
    _quiet.clear()
    _accounts.clear()


def _quiet_key(
    key: KeyInfo, user_id: str, account_id: str, traits: dict[str, Any], url: str | None
) -> tuple[Any, ...]:
    return (key.id, user_id, account_id, url_path(url), json.dumps(traits, sort_keys=True))


def _remember_quiet(quiet: tuple[Any, ...], outcome: Outcome, now: datetime) -> None:
    global _quiet_sweep_at
    if len(_quiet) >= _quiet_sweep_at:
        for stale in [k for k, (until, _) in _quiet.items() if until <= now]:
            del _quiet[stale]
        if len(_quiet) >= QUIET_MAX_ENTRIES:
            _quiet.clear()
        _quiet_sweep_at = max(1_000, 2 * len(_quiet))
    _quiet[quiet] = (min(outcome.next_check_at, now + QUIET_CAP), outcome.next_check_at)


async def load_key(key: str) -> KeyInfo:
    info = await _keys.get(key, lambda: _read_key(key))
    if info is None:
        raise NotAuthorizedException(
            "unknown or disabled widget key", extra=[{"field": "key", "message": "unknown"}]
        )
    return info


async def _read_key(key: str) -> KeyInfo | None:
    row = (
        await WidgetKey.select(
            WidgetKey.id,
            WidgetKey.key,
            WidgetKey.environment,
            WidgetKey.allowed_origins,
            WidgetKey.identity_secret,
            WidgetKey.require_identity,
        )
        .where((WidgetKey.key == key) & (WidgetKey.active == True))  # noqa: E712
        .output(load_json=True)
        .first()
    )
    if row is None:
        return None
    return KeyInfo(
        id=row["id"],
        key=row["key"],
        environment=row["environment"],
        allowed_origins=tuple(row["allowed_origins"] or ()),
        identity_secret=row["identity_secret"],
        require_identity=row["require_identity"],
    )


def origin_allowed(key: KeyInfo, origin: str | None) -> bool:
    if "*" in key.allowed_origins:
        return True
    return origin is not None and origin.rstrip("/") in {o.rstrip("/") for o in key.allowed_origins}


def require_origin(key: KeyInfo, origin: str | None) -> None:
    if not origin_allowed(key, origin):
        raise PermissionDeniedException(
            "origin not allowed for this widget key",
            extra=[{"field": "origin", "message": f"{origin!r} is not an allowed origin"}],
        )


def identity_hash(secret: str, user_id: str) -> str:
    """What the host application sends as `user_hash`: HMAC-SHA256(secret, user id), hex."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_identity(key: KeyInfo, user_id: str, user_hash: str | None) -> None:
    if not key.require_identity:
        return
    if not user_hash or not key.identity_secret:
        raise InputError("user_hash", "this widget key requires identity verification", 401)
    if not hmac.compare_digest(identity_hash(key.identity_secret, user_id), user_hash.lower()):
        raise InputError("user_hash", "does not match the user id", 401)


async def min_days_between_surveys() -> int:
    return await _config.get("min_days_between_surveys", _read_min_days)


async def _read_min_days() -> int:
    row = (
        await AppSetting.select(AppSetting.value)
        .where(AppSetting.key == "min_days_between_surveys")
        .output(load_json=True)
        .first()
    )
    # a JSON object, not a bare number: SQLite's NUMERIC affinity would turn "7" into 7
    days = (row["value"] or {}).get("days") if row is not None else None
    return days if isinstance(days, int) else DEFAULT_MIN_DAYS_BETWEEN_SURVEYS


async def set_min_days_between_surveys(days: int) -> None:
    await AppSetting.insert(
        AppSetting(key="min_days_between_surveys", value={"days": days}, updated_at=utcnow())
    ).on_conflict(
        target=AppSetting.key, action="DO UPDATE", values=[AppSetting.value, AppSetting.updated_at]
    )
    forget_configuration()


# -- identifying the user ---------------------------------------------------------------


def split_traits(traits: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Widget traits -> (user fields, account fields, free-form user traits)."""
    user: dict[str, Any] = {}
    account: dict[str, Any] = {}
    rest: dict[str, str] = {}
    for name, value in traits.items():
        if value is None:
            continue
        text = str(value).strip()[:500]
        if name in USER_FIELDS:
            user[name] = text
        elif name in ACCOUNT_FIELDS or name == "account_name":
            account["name" if name == "account_name" else name] = text
        else:
            rest[name[:100]] = text
    return user, account, rest


# the account and the user in one round trip (the user columns are NULL for a new user)
_IDENTIFY = Statement("""
SELECT a.id AS account_pk, a.plan AS account_plan,
       u.id, u.account, u.traits, u.first_seen_at, u.last_seen_at, u.last_display_at,
       u.role, u.locale, u.email,
       (SELECT max(r.answered_at) FROM response r WHERE r.end_user = u.id) AS last_answered_at
FROM account a
LEFT JOIN end_user u ON u.external_id = {}
WHERE a.external_id = {}""")
_NEW_USER = Statement("""
INSERT INTO end_user (external_id, account, role, email, locale, traits, first_seen_at,
                      last_seen_at, created_at, updated_at)
VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})
ON CONFLICT (external_id) DO NOTHING
RETURNING id""")


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return json.loads(value or "{}")
    return value or {}


async def identify(
    user_id: str,
    account_id: str,
    traits: dict[str, Any],
    now: datetime,
    found: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create or refresh the user and their account, in plain SQL (this runs on every check);
    the widget never overwrites CRM data on an existing account (only fills a new one).
    `found` is this user's `_IDENTIFY` row when the caller has just read it."""
    user_fields, account_fields, free = split_traits(traits)
    if found is None:
        found = await _IDENTIFY.first(user_id, account_id)
    if found is None:
        await Account.insert(
            Account(
                external_id=account_id,
                name=account_fields.get("name") or account_id,
                plan=account_fields.get("plan"),
                industry=account_fields.get("industry"),
            )
        ).on_conflict(target=Account.external_id, action="DO NOTHING")
        found = await _IDENTIFY.first(user_id, account_id)
        assert found is not None
    account = {"id": found["account_pk"], "plan": found["account_plan"]}
    is_new = found["id"] is None
    rows = [found]
    if is_new:
        values = (user_fields.get("role"), user_fields.get("email"), user_fields.get("locale"))
        inserted = await _NEW_USER.fetch(
            user_id, account["id"], *values, json.dumps(free), now, now, now, now
        )
        if inserted:  # everything about this user is known: no need to read it back
            rows = [
                {
                    "id": inserted[0]["id"],
                    "account": account["id"],
                    "traits": free,
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "last_display_at": None,
                    "last_answered_at": None,
                    "role": values[0],
                    "email": values[1],
                    "locale": values[2],
                }
            ]
        else:  # a simultaneous request created the user first
            rows = [await _IDENTIFY.first(user_id, account_id)]
            is_new = False
    existing = rows[0]
    existing["traits"] = _json(existing["traits"])
    changes: dict[Any, Any] = {}
    if not is_new:
        last_seen = as_utc_datetime(existing["last_seen_at"])
        if last_seen is None or now - last_seen > LAST_SEEN_RESOLUTION:
            changes[EndUser.last_seen_at] = now
        for name, value in user_fields.items():
            if existing[name] != value:
                changes[getattr(EndUser, name)] = value
                existing[name] = value
        merged = {**existing["traits"], **free}
        if merged != existing["traits"]:
            changes[EndUser.traits] = json.dumps(merged)
            existing["traits"] = merged
        if existing["account"] != account["id"]:
            changes[EndUser.account] = account["id"]
        if existing["first_seen_at"] is None:
            changes[EndUser.first_seen_at] = now
            existing["first_seen_at"] = now
    if changes:
        changes[EndUser.updated_at] = now
        await EndUser.update(changes).where(EndUser.id == existing["id"])
    return {
        "id": existing["id"],
        "is_new": is_new,
        "account_id": account["id"],
        "first_seen_at": as_utc_datetime(existing["first_seen_at"]),
        "last_display_at": as_utc_datetime(existing["last_display_at"]),
        "last_answered_at": as_utc_datetime(existing["last_answered_at"]),
        "attributes": {
            "role": existing.get("role"),
            "locale": existing.get("locale"),
            "plan": account["plan"],
            "traits": existing["traits"],
        },
    }


# -- deciding ---------------------------------------------------------------------------


async def active_schedules(now: datetime) -> list[dict[str, Any]]:
    rows = await _config.get("schedules", _read_schedules)
    return [r for r in rows if r["ends_at"] is None or r["ends_at"] > now]


async def _read_schedules() -> list[dict[str, Any]]:
    rows = await (
        Schedule.select(
            Schedule.all_columns(),
            Schedule.survey.name.as_alias("survey_name"),
            Schedule.survey.product_name.as_alias("product_name"),
            Schedule.survey.texts.as_alias("texts"),
            Schedule.survey.theme.as_alias("theme"),
            Schedule.survey.promoter_link_url.as_alias("promoter_link_url"),
        )
        .where((Schedule.active == True) & (Schedule.survey.active == True))  # noqa: E712
        .order_by(Schedule.priority, ascending=False)
        .order_by(Schedule.id)
        .output(load_json=True)
    )
    for row in rows:
        row["localised"] = {}  # locale -> merged texts, filled as users are shown the survey
    return rows


def _localised(source: dict[str, Any], requested: str | None) -> tuple[str, dict[str, Any]]:
    """A survey's texts in the best locale for `requested`. `source` is a cached row with the
    survey's `texts` and `product_name` (a loaded schedule, a survey) and a `localised` memo:
    each locale is merged once for as long as that row is cached, so an admin change reaches
    the texts with the row. The merged texts are shared: never changed after."""
    texts = source["texts"] or {}
    locale = best_locale(texts, requested)
    merged = source["localised"].get(locale)
    if merged is None:
        merged = localised_texts(texts, source["product_name"], locale)[1]
        source["localised"][locale] = merged
    return locale, merged


def rules_for(schedule: dict[str, Any], min_gap_days: int) -> CadenceRules:
    return CadenceRules(
        cadence_days=schedule["cadence_days"],
        first_survey_after_days=schedule["first_survey_after_days"],
        dismiss_backoff_days=schedule["dismiss_backoff_days"],
        max_asks_per_cycle=schedule["max_asks_per_cycle"],
        sample_percent=schedule["sample_percent"],
        min_days_between_surveys=min_gap_days,
        starts_at=schedule["starts_at"],
        ends_at=schedule["ends_at"],
    )


def history_for(
    user: dict[str, Any],
    displays: list[dict[str, Any]],
    schedule_id: int,
    cycle_index: int,
    last_answered_at: datetime | None,
) -> UserHistory:
    mine = [d for d in displays if d["schedule"] == schedule_id]
    in_cycle = [d for d in mine if d["cycle"] == cycle_index]
    dismissed = [d["dismissed_at"] for d in mine if d["dismissed_at"] is not None]
    return UserHistory(
        first_seen_at=user["first_seen_at"],
        asks_in_cycle=len(in_cycle),
        answered_in_cycle=any(d["status"] == DisplayStatus.answered for d in in_cycle),
        last_answered_at=last_answered_at,
        last_dismissed_at=max(dismissed) if dismissed else None,
        last_display_at=user["last_display_at"],
    )


@dataclass
class Outcome:
    show: bool
    next_check_at: datetime
    display: dict[str, Any] | None = None


async def check_eligibility(
    key: KeyInfo,
    user_id: str,
    account_id: str,
    traits: dict[str, Any],
    url: str | None,
    now: datetime | None = None,
    force: bool = False,
) -> Outcome:
    now = now or utcnow()
    latest_check = now + MAX_CHECK_INTERVAL
    quiet = _quiet_key(key, user_id, account_id, traits, url)
    remembered = None if force else _quiet.get(quiet)
    if remembered is not None and remembered[0] > now:
        return Outcome(False, remembered[1])
    found, outcome = None, None
    if not force and not is_sqlite():
        account = _accounts.peek(account_id)
        if account is None:
            found = await _IDENTIFY.first(user_id, account_id)
            if found is not None:
                account = (found["account_pk"], found["account_plan"])
                _accounts.put(account_id, account)
        if account is not None and (found is None or found["id"] is None):
            outcome, found = await _visit(key, user_id, account_id, account, traits, url, now)
    if outcome is None:
        outcome = await _check(
            key, user_id, account_id, traits, url, now, latest_check, force, found
        )
    if not outcome.show:
        _remember_quiet(quiet, outcome, now)
    return outcome


def forget_accounts() -> None:
    """Accounts were imported in this process: targeting reads their new plans at once."""
    _accounts.clear()


# Batches of up to 8 rows (answers, new users' checks) reach PostgreSQL as rows of scalar
# parameters, so that it keeps a generic plan per connection for each statement instead of
# planning every run. Each kept plan costs its connection memory (measured: 0.2-0.27 MB for
# an answer statement, 0.6-0.67 MB for a new users' one), so there is one statement for each
# of these lengths only, and a batch is padded with empty rows up to the next: an empty row
# matches no display and no account, so it writes nothing and returns nothing.
ROW_BATCHES = (1, 2, 4, 8)
MAX_ROW_BATCH = ROW_BATCHES[-1]


def batch_length(items: int) -> int:
    """The statement length a batch of `items` rows is padded to."""
    return next(length for length in ROW_BATCHES if length >= items)


def padded(rows: list[Any], length: int) -> list[Any]:
    """The rows' values in order, then empty rows (as wide as the first) up to `length`."""
    return [*chain.from_iterable(rows), *([None] * ((length - len(rows)) * len(rows[0])))]


# PostgreSQL only: one statement reads the user and their account, as `_IDENTIFY` does, and
# when there is no such user creates them, with their display if one was decided for a new
# user (a data-modifying CTE is atomic on its own: no transaction, one round trip for a new
# user's check). The user row is inserted with last_display_at already set, so a simultaneous
# check for the same new user (another tab) either loses the insert and goes the general way,
# where the compare-and-set on last_display_at refuses it, or finds no user and races here.
#
# Checks that arrive together share the statement (group commit, as answers do): each input
# row is one check, numbered so its result comes back to its caller. The same new user twice
# in one batch is created once, for the first of their checks; the others find neither a user
# nor a creation and go the general way, as when another statement created the user first.
# Users are inserted in the order of their ids, so two batches never wait on each other's
# rows in opposite orders.
class _Visit(NamedTuple):
    """One check for `_VISITS`, its fields in the order of the statement's input columns."""

    user_id: str
    account_pk: int
    account_id: str
    role: str | None
    email: str | None
    locale: str | None
    traits: str  # JSON
    now: datetime
    last_display_at: datetime | None
    token: str | None
    slot_prefix: str
    slot_suffix: str
    survey: int | None
    schedule: int | None
    widget_key: int
    cycle: int
    display_locale: str | None
    url: str | None
    expires_at: datetime
    show: bool


_VISIT_TYPES = (
    *("text", "int", "text", "text", "text", "text", "jsonb", "timestamptz", "timestamptz"),
    *("text", "text", "text", "int", "int", "int", "int", "text", "text", "timestamptz"),
    "boolean",
)
_VISIT_INPUT = "i(n, " + ", ".join(_Visit._fields) + ")"
_VISITS_BODY = """
found AS (
    SELECT i.n, u.id, u.account, u.traits, u.first_seen_at, u.last_seen_at, u.last_display_at,
           u.role, u.locale, u.email,
           (SELECT max(r.answered_at) FROM response r WHERE r.end_user = u.id) AS last_answered_at
    FROM input i JOIN end_user u ON u.external_id = i.user_id
),
account AS (
    SELECT i.n, a.id AS account_pk, a.plan AS account_plan
    FROM input i JOIN account a ON a.id = i.account_pk AND a.external_id = i.account_id
),
new_user AS (
    INSERT INTO end_user (external_id, account, role, email, locale, traits, first_seen_at,
                          last_seen_at, last_display_at, created_at, updated_at)
    SELECT DISTINCT ON (i.user_id) i.user_id, account.account_pk, i.role, i.email, i.locale,
           i.traits, i.now, i.now, i.last_display_at, i.now, i.now
    FROM input i JOIN account ON account.n = i.n
    WHERE NOT EXISTS (SELECT 1 FROM found WHERE found.n = i.n)
    ORDER BY i.user_id, i.n
    ON CONFLICT (external_id) DO NOTHING
    RETURNING id, external_id
),
created AS (
    SELECT DISTINCT ON (i.user_id) i.n, new_user.id
    FROM input i JOIN new_user ON new_user.external_id = i.user_id
    ORDER BY i.user_id, i.n
),
shown AS (
    INSERT INTO display (token, slot, survey, schedule, end_user, account, widget_key, cycle,
                         status, locale, url, shown_at, expires_at)
    SELECT i.token, i.slot_prefix || CAST(created.id AS TEXT) || i.slot_suffix, i.survey,
           i.schedule, created.id, i.account_pk, i.widget_key, i.cycle, 'shown',
           i.display_locale, i.url, i.now, i.expires_at
    FROM input i JOIN created ON created.n = i.n
    WHERE i.show
    RETURNING id
)
SELECT i.n, account.account_pk, account.account_plan, created.id AS created, found.id,
       found.account, found.traits, found.first_seen_at, found.last_seen_at,
       found.last_display_at, found.role, found.locale, found.email, found.last_answered_at
FROM input i
JOIN account ON account.n = i.n
LEFT JOIN found ON found.n = i.n
LEFT JOIN created ON created.n = i.n"""


def _visits_of(rows: int) -> Statement:
    """The check statement for a batch of `rows` checks (constants only)."""
    values = ", ".join(
        "(" + ", ".join([str(n), *(f"{{}}::{kind}" for kind in _VISIT_TYPES)]) + ")"
        for n in range(rows)
    )
    source = f"(VALUES {values}) AS {_VISIT_INPUT}"
    return Statement(
        "-- PostgreSQL only",
        postgres=f"WITH input AS (SELECT * FROM {source}),{_VISITS_BODY}",  # noqa: S608
    )


# as for answers: a prepared statement per batch length in ROW_BATCHES, with a plan kept
_VISITS = {rows: _visits_of(rows) for rows in ROW_BATCHES}


async def _insert_visits(visits: list[_Visit]) -> list[dict[str, Any] | Exception | None]:
    """One statement for the batch; each check's row (None: its account is gone). Should the
    batch fail for a reason other than the database being away, each check runs by itself."""
    NEW_USER_BATCH_SIZE.observe(len(visits))
    try:
        length = batch_length(len(visits))
        rows = await _VISITS[length].fetch(*padded(visits, length))
    except Exception as exc:
        if database_unavailable(exc) or len(visits) == 1:
            raise
        return [await _visit_alone(visit) for visit in visits]
    by_number = {row.pop("n"): row for row in rows}
    return [by_number.get(n) for n in range(len(visits))]


async def _visit_alone(visit: _Visit) -> dict[str, Any] | Exception | None:
    try:
        return (await _insert_visits([visit]))[0]
    except Exception as exc:
        return exc


_NEW_VISITS: GroupCommit[_Visit, dict[str, Any] | None] = GroupCommit(
    _insert_visits, max_items=MAX_ROW_BATCH, linger=0.0005
)


async def _visit(
    key: KeyInfo,
    user_id: str,
    account_id: str,
    account: tuple[int, str | None],
    traits: dict[str, Any],
    url: str | None,
    now: datetime,
) -> tuple[Outcome | None, dict[str, Any] | None]:
    """The check of a user of a known account in one statement: decided beforehand as if
    the user were new (nothing to read for them), then the statement creates them (and their
    display) only if they are. Returns the outcome for a new user, or None and the user's
    `_IDENTIFY` row to go on with the general way (None there: read it again)."""
    account_pk, plan = account
    user_fields, _, free = split_traits(traits)
    role, email, locale = (user_fields.get(f) for f in ("role", "email", "locale"))
    user = {
        "id": None,
        "account_id": account_pk,
        "first_seen_at": now,
        "last_display_at": None,
        "last_answered_at": None,
        "attributes": {"role": role, "locale": locale, "plan": plan, "traits": free},
    }
    latest_check = now + MAX_CHECK_INTERVAL
    next_checks = [latest_check]
    gap = await min_days_between_surveys()
    schedules = await _targeted(user, url, now)
    chosen = next(iter(_choices(schedules, user, [], gap, now, user_id, next_checks)), None)
    schedule: dict[str, Any] = {}
    token = display_locale = None
    texts: dict[str, Any] = {}
    cycle = 0
    if chosen is not None:
        schedule, decision, _ = chosen
        if schedule["max_users_per_account"] is not None:
            # counting the account's users needs the general path
            return None, await _IDENTIFY.first(user_id, account_id)
        token = secrets.token_urlsafe(24)
        cycle = decision.cycle.index
        display_locale, texts = _localised(schedule, locale)
    row = await _NEW_VISITS.submit(
        _Visit(
            user_id,
            account_pk,
            account_id,
            role,
            email,
            locale,
            json.dumps(free),
            now,
            now if token else None,  # last_display_at
            token,
            f"{schedule.get('id')}:",
            f":{cycle}:1",
            schedule.get("survey"),
            schedule.get("id"),
            key.id,
            cycle,
            display_locale,
            (url or "")[:2000] or None,
            now + DISPLAY_LIFETIME,
            token is not None,
        )
    )
    if row is None:  # the account is gone (or renamed): the general way sees to it
        _accounts.discard(account_id)
        return None, None
    _accounts.put(account_id, (row["account_pk"], row["account_plan"]))
    if row["created"] is None:  # an existing user, or one created meanwhile (None: read again)
        return None, (row if row["id"] is not None else None)
    if token is not None:
        return _shown(schedule, token, display_locale or "en", texts, now), None
    return Outcome(False, _next_check(next_checks, now)), None


_DISPLAYS = Statement("""
SELECT schedule, cycle, status, shown_at, dismissed_at, expires_at
FROM display WHERE end_user = {}""")


async def _check(
    key: KeyInfo,
    user_id: str,
    account_id: str,
    traits: dict[str, Any],
    url: str | None,
    now: datetime,
    latest_check: datetime,
    force: bool,
    found: dict[str, Any] | None = None,
) -> Outcome:
    async with write_transaction():
        user = await identify(user_id, account_id, traits, now, found)
        schedules = await _targeted(user, url, now)
        if not schedules:
            return Outcome(False, latest_check)
        if force and key.environment != "production":
            return await _reserve(key, user, schedules[0], -1, now, url, slot=None)
        # someone first seen just now has no history to read
        displays = [] if user["is_new"] else await _DISPLAYS.fetch(user["id"])
        open_until = [
            d["expires_at"]
            for d in displays
            if d["status"] == DisplayStatus.shown and d["expires_at"] > now
        ]
        if open_until:  # another tab or device is showing a survey right now
            return Outcome(False, min(max(open_until), latest_check))
        gap = await min_days_between_surveys()
        next_checks = [latest_check]
        for schedule, decision, history in _choices(
            schedules, user, displays, gap, now, user_id, next_checks
        ):
            if await _account_is_full(schedule, user, now):
                continue
            slot = (
                f"{schedule['id']}:{user['id']}:{decision.cycle.index}:{history.asks_in_cycle + 1}"
            )
            try:
                return await _reserve(
                    key, user, schedule, decision.cycle.index, now, url, slot, gap
                )
            except _NotReserved:
                break
        return Outcome(False, _next_check(next_checks, now))


async def _targeted(user: dict[str, Any], url: str | None, now: datetime) -> list[dict[str, Any]]:
    """The active schedules whose targeting takes this user on this page."""
    return [
        s
        for s in await active_schedules(now)
        if targets(s["targeting"] or {}, user["attributes"], url)
    ]


def _choices(
    schedules: list[dict[str, Any]],
    user: dict[str, Any],
    displays: list[dict[str, Any]],
    gap: int,
    now: datetime,
    user_id: str,
    next_checks: list[datetime],
) -> Iterator[tuple[dict[str, Any], Decision, UserHistory]]:
    """The schedules that may ask this user now, in priority order; the others add the time
    they may ask to `next_checks`."""
    for schedule in schedules:
        rules = rules_for(schedule, gap)
        schedule_key = str(schedule["id"])
        cycle = cycle_at(now, user_id, schedule_key, rules.cadence_days)
        history = history_for(user, displays, schedule["id"], cycle.index, user["last_answered_at"])
        decision = decide(rules, history, now, user_id, schedule_key, cycle)
        if decision.show:
            yield schedule, decision, history
        elif decision.next_check_at is not None:
            next_checks.append(decision.next_check_at)


def _next_check(next_checks: list[datetime], now: datetime) -> datetime:
    return max(min(next_checks), now + timedelta(minutes=1))


async def _account_is_full(schedule: dict[str, Any], user: dict[str, Any], now: datetime) -> bool:
    cap = schedule["max_users_per_account"]
    if cap is None:
        return False
    since = now - timedelta(days=schedule["cadence_days"])
    rows = (
        await Display.select(Display.end_user)
        .where(
            (Display.account == user["account_id"])
            & (Display.schedule == schedule["id"])
            & (Display.shown_at > since)
        )
        .distinct()
    )
    users = {r["end_user"] for r in rows}
    return user["id"] not in users and len(users) >= cap


_CLAIM = Statement("""
UPDATE end_user SET last_display_at = {}
WHERE id = {} AND (last_display_at IS NULL OR last_display_at <= {})
RETURNING id""")
_RESERVE = Statement("""
INSERT INTO display (token, slot, survey, schedule, end_user, account, widget_key, cycle,
                     status, locale, url, shown_at, expires_at)
VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})
ON CONFLICT (slot) DO NOTHING
RETURNING id""")


async def _reserve(
    key: KeyInfo,
    user: dict[str, Any],
    schedule: dict[str, Any],
    cycle: int,
    now: datetime,
    url: str | None,
    slot: str | None,
    gap_days: int = 0,
) -> Outcome:
    if slot is not None:
        claimed = await _CLAIM.fetch(now, user["id"], now - timedelta(days=gap_days))
        if not claimed:
            raise _NotReserved
    token = secrets.token_urlsafe(24)
    locale, texts = _localised(schedule, user["attributes"]["locale"])
    inserted = await _RESERVE.fetch(
        token,
        slot or f"forced:{token}",
        schedule["survey"],
        schedule["id"],
        user["id"],
        user["account_id"],
        key.id,
        cycle,
        DisplayStatus.shown.value,
        locale,
        (url or "")[:2000] or None,
        now,
        now + DISPLAY_LIFETIME,
    )
    if not inserted:
        raise _NotReserved  # rolls back the compare-and-set with the transaction
    return _shown(schedule, token, locale, texts, now)


def _shown(
    schedule: dict[str, Any], token: str, locale: str, texts: dict[str, Any], now: datetime
) -> Outcome:
    return Outcome(
        True,
        now + DISPLAY_LIFETIME,
        {
            "token": token,
            "locale": locale,
            "texts": texts,
            "theme": schedule["theme"] or {},
            "promoter_link_url": schedule["promoter_link_url"],
            "delay_seconds": schedule["delay_seconds"],
            "expires_at": now + DISPLAY_LIFETIME,
        },
    )


# -- answers ----------------------------------------------------------------------------


# A score is one statement: the response row is built from the display, the account's segment
# attributes as they are now and the user's role (the snapshot), inserted unless the client id
# or the display already has an answer. On PostgreSQL the display is marked answered in the
# same statement, and answers arriving together share it (group commit, see `GroupCommit`),
# each row mapped back to its caller by its idempotency key. Each input row looks its display
# up by itself (LATERAL, kept apart by OFFSET 0): joined as a set, the planner expects 100
# rows from `unnest` and prefers reading the whole display table to 100 index lookups.
#
# How the batch reaches PostgreSQL decides what planning costs, which was half the
# statement's cost. A batch of up to `MAX_ROW_BATCH` answers comes as rows of scalar
# parameters (padded to a length in `ROW_BATCHES`): PostgreSQL keeps one generic plan per
# connection for each length, made of unique-index lookups whatever the values. Measured in an
# asyncpg loop, one answer per statement, with its commit: 0.35-0.41 ms against 0.74-0.77 ms
# when the same answer came as arrays and was planned again on every run. A larger batch
# comes as arrays, whose plan is made afresh for each run; its cost is shared by many answers.
# A JSON batch (`jsonb_to_recordset`, always 100 rows to the planner) was tried for every
# size: its generic plan, made while `display` was small, kept scanning it whole as it grew
# (seen: 940 scans of 70,000 rows in one step) until an ANALYZE, which never comes where
# autovacuum is off, as on the development machine. A plan of lookups by unique index has no
# such cliff: a sequential scan wins only on a table of a page or two, and every ANALYZE that
# autovacuum makes as the table grows (at 10 % new rows) replaces the plan.
# SQLite writes one answer at a time and marks the display in a second statement of the same
# transaction. The traits snapshot is the account's traits merged with the user's (the
# user's win).
#
# Answers the CTA rules may act on (0-6 now, 9-10 once they have a comment) are queued in
# `rules_queue` by the same statement: the rule runner (feedback/ctas/rules.py) raises their
# CTAs within a second, in its own transaction, so an answer never waits on a CTA row another
# answer of the same account holds.
_ANSWER_SQLITE = Statement("""
INSERT INTO response (idempotency_key, source, end_user, account, score, answered_at, locale,
                      role, display, survey, plan, industry, company_size, employee_count, csm,
                      arr_cents, traits, created_at)
SELECT {}, 'widget', d.end_user, d.account, {}, {}, d.locale, u.role, d.id, d.survey,
       a.plan, a.industry, a.company_size, a.employee_count, a.csm, a.arr_cents,
       json_patch(COALESCE(a.traits, json_object()), COALESCE(u.traits, json_object())),
       {}
FROM display d
JOIN account a ON a.id = d.account
LEFT JOIN end_user u ON u.id = d.end_user
WHERE d.token = {} AND d.widget_key = {}
ON CONFLICT DO NOTHING
RETURNING id, display, survey, locale""")
_ANSWER_INPUT = "i(idempotency_key, token, widget_key, score, answered_at)"
_ANSWER_ROW = "({}::text, {}::text, {}::int, {}::int, {}::timestamptz)"
# an answer the rules act on at once: a detractor; a promoter only once there is a comment
RULES_ACT_ON_SCORE = 6
_ANSWERS = f"""
answer AS (
    INSERT INTO response (idempotency_key, source, end_user, account, score, answered_at,
                          locale, role, display, survey, plan, industry, company_size,
                          employee_count, csm, arr_cents, traits, created_at)
    SELECT i.idempotency_key, 'widget', d.end_user, d.account, i.score, i.answered_at,
           d.locale, d.role, d.id, d.survey, d.plan, d.industry, d.company_size,
           d.employee_count, d.csm, d.arr_cents, d.traits, i.answered_at
    FROM input i
    CROSS JOIN LATERAL (
        SELECT d.id, d.end_user, d.account, d.locale, d.survey, u.role, a.plan, a.industry,
               a.company_size, a.employee_count, a.csm, a.arr_cents,
               COALESCE(a.traits, jsonb_build_object())
                   || COALESCE(u.traits, jsonb_build_object()) AS traits
        FROM display d
        JOIN account a ON a.id = d.account
        LEFT JOIN end_user u ON u.id = d.end_user
        WHERE d.token = i.token AND d.widget_key = i.widget_key
        OFFSET 0
    ) d
    ON CONFLICT DO NOTHING
    RETURNING id, display, survey, locale, idempotency_key, answered_at, score
),
marked AS (
    UPDATE display SET status = 'answered', answered_at = answer.answered_at
    FROM answer WHERE display.id = answer.display
),
queued AS (
    INSERT INTO rules_queue (response, due)
    SELECT id, answered_at FROM answer WHERE score <= {RULES_ACT_ON_SCORE}
)
SELECT id, display, survey, locale, idempotency_key FROM answer"""  # noqa: S608 (constants)


def _answers_from(source: str) -> Statement:
    """The answer statement reading its input rows from `source` (constants only)."""
    return Statement(f"WITH input AS (SELECT * FROM {source} AS {_ANSWER_INPUT}),{_ANSWERS}")  # noqa: S608


_ANSWERS_AS_ARRAYS = _answers_from(
    "unnest({}::text[], {}::text[], {}::int[], {}::int[], {}::timestamptz[])"
)
_ANSWERS_AS_ROWS = {
    rows: _answers_from(f"(VALUES {', '.join([_ANSWER_ROW] * rows)})") for rows in ROW_BATCHES
}
_MARK_ANSWERED = Statement("UPDATE display SET status = 'answered', answered_at = {} WHERE id = {}")
_DISPLAY = Statement("SELECT id, survey, locale FROM display WHERE token = {} AND widget_key = {}")
_EARLIER_ANSWER = Statement(
    "SELECT score FROM response WHERE display = {} OR idempotency_key = {} LIMIT 1"
)
# SQLite: an answer (or its comment) waits for the rules; a comment moves a waiting one up
_QUEUE = Statement("""
INSERT INTO rules_queue (response, due) VALUES ({}, {})
ON CONFLICT (response) DO UPDATE SET due = excluded.due""")
# a comment of a detractor or a promoter (again) waits for the rules; a passive's does not
_COMMENT_SQL = """
UPDATE response SET comment = {}, commented_at = {}
WHERE display = (SELECT id FROM display WHERE token = {} AND widget_key = {})
RETURNING id, score"""
_COMMENT_QUEUED = f"""
INSERT INTO rules_queue (response, due)
SELECT id, {{}} FROM commented WHERE score <= {RULES_ACT_ON_SCORE} OR score >= 9
ON CONFLICT (response) DO UPDATE SET due = excluded.due"""  # noqa: S608 (constants)
_COMMENT = Statement(
    _COMMENT_SQL,
    # PostgreSQL: the comment and its place in the queue in one statement
    postgres=f"WITH commented AS ({_COMMENT_SQL}), queued AS ({_COMMENT_QUEUED}) "  # noqa: S608
    "SELECT id, score FROM commented",
)
_DISMISS = Statement("""
UPDATE display SET status = 'dismissed', dismissed_at = {}
WHERE token = {} AND widget_key = {} AND status = 'shown'
RETURNING id""")


def _unknown_token() -> InputError:
    return InputError("display_token", "unknown display token")


async def _survey_texts(survey_id: int | None) -> dict[str, Any]:
    async def read() -> dict[str, Any]:
        row = await _SURVEY.first(survey_id)
        if row is None:
            row = {"texts": {}, "product_name": "our product", "promoter_link_url": None}
        return {**row, "texts": _json(row["texts"]), "localised": {}}

    return await _config.get(("survey", survey_id), read)


_SURVEY = Statement("SELECT texts, product_name, promoter_link_url FROM survey WHERE id = {}")


class _Score(NamedTuple):
    """One answer for the batch statement, its fields in the order of the statement's input."""

    idempotency_key: str
    token: str
    widget_key: int
    score: int
    now: datetime


async def _insert_scores(scores: list[_Score]) -> list[dict[str, Any] | Exception | None]:
    """One statement for the batch; the answer row of each score it created (None: not
    created, a retry or an unknown token). Should the batch fail for a reason other than
    the database being away (a deadlock between two batches answering the same two displays
    in opposite orders, say), each score is written by itself, so no score fails another."""
    ANSWER_BATCH_SIZE.observe(len(scores))
    try:
        if len(scores) <= MAX_ROW_BATCH:
            length = batch_length(len(scores))
            rows = await _ANSWERS_AS_ROWS[length].fetch(*padded(scores, length))
        else:
            rows = await _ANSWERS_AS_ARRAYS.fetch(*map(list, zip(*scores, strict=True)))
    except Exception as exc:
        if database_unavailable(exc) or len(scores) == 1:
            raise
        return [await _insert_alone(s) for s in scores]
    created = {row["idempotency_key"]: row for row in rows}
    # a retry in the same batch as its first try: only the first one is "created"
    return [created.pop(s.idempotency_key, None) for s in scores]


async def _insert_alone(score: _Score) -> dict[str, Any] | Exception | None:
    try:
        return (await _insert_scores([score]))[0]
    except Exception as exc:
        return exc


# after a batch of several, wait up to half a millisecond for its callers' next answers (the
# event loop's timers round it up to a millisecond): a lone answer never waits
_SCORES: GroupCommit[_Score, dict[str, Any] | None] = GroupCommit(_insert_scores, linger=0.0005)


async def record_score(
    key: KeyInfo, token: str, client_id: str, score: int, now: datetime | None = None
) -> tuple[bool, dict[str, Any]]:
    """Store the score (idempotent by client id and by display); (created, follow-up).

    An answer after a dismissal (another tab) or after expiry is still an answer."""
    now = now or utcnow()
    idempotency_key = f"widget:{client_id}"
    rules_due = score <= RULES_ACT_ON_SCORE
    if is_sqlite():
        async with write_transaction():
            answer = await _ANSWER_SQLITE.first(idempotency_key, score, now, now, token, key.id)
            if answer is not None:
                await _MARK_ANSWERED.fetch(now, answer["display"])
                if rules_due:
                    await _QUEUE.fetch(answer["id"], now)
    else:
        answer = await _SCORES.submit(_Score(idempotency_key, token, key.id, score, now))
    created = answer is not None
    if answer is None:  # a retry, a second answer to the display, or an unknown token
        answer = await _DISPLAY.first(token, key.id)
        if answer is None:
            raise _unknown_token()
        earlier = await _EARLIER_ANSWER.first(answer["id"], idempotency_key)
        if earlier is None:
            raise _unknown_token()
        score = earlier["score"]
    elif rules_due:
        notify_answer_rules()
    survey = await _survey_texts(answer["survey"])
    _, texts = _localised(survey, answer["locale"])
    kind = category(score)
    return created, {
        "category": kind,
        "follow_up": texts["follow_up"][kind],
        "thanks": texts["thanks"][kind],
        "promoter_link_url": survey["promoter_link_url"] if kind == "promoter" else None,
    }


async def record_comment(
    key: KeyInfo, token: str, comment: str, now: datetime | None = None
) -> None:
    now = now or utcnow()
    if is_sqlite():
        async with write_transaction():
            updated = await _COMMENT.first(comment.strip() or None, now, token, key.id)
            if updated is not None and category(updated["score"]) != "passive":
                await _QUEUE.fetch(updated["id"], now)
    else:
        updated = await _COMMENT.first(comment.strip() or None, now, token, key.id, now)
    if updated is None:
        if await _DISPLAY.first(token, key.id) is None:
            raise _unknown_token()
        raise InputError("display_token", "send the score before the comment")
    if category(updated["score"]) != "passive":
        notify_answer_rules()


async def dismiss(key: KeyInfo, token: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if await _DISMISS.first(now, token, key.id) is not None:
        return True
    if await _DISPLAY.first(token, key.id) is None:
        raise _unknown_token()
    return False  # answered, expired or dismissed already


async def expire_displays() -> int:
    """Worker job: displays nobody answered or dismissed become expired."""
    changed = (
        await Display.update({Display.status: DisplayStatus.expired.value})
        .where((Display.status == DisplayStatus.shown.value) & (Display.expires_at < utcnow()))
        .returning(Display.id)
    )
    return len(changed)
