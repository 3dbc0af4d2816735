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
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from feedback.accounts.models import Account, EndUser
from feedback.ctas.rules import on_answer
from feedback.db import as_utc_datetime, utcnow, write_transaction
from feedback.errors import InputError
from feedback.responses.models import Response
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
from feedback.surveys.texts import category, localised_texts

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


def forget_configuration() -> None:
    """Called after admin changes so this process applies them at once."""
    _keys.clear()
    _config.clear()
    _quiet.clear()


def _quiet_key(
    key: KeyInfo, user_id: str, account_id: str, traits: dict[str, Any], url: str | None
) -> tuple[Any, ...]:
    return (key.id, user_id, account_id, url_path(url), json.dumps(traits, sort_keys=True))


def _remember_quiet(quiet: tuple[Any, ...], outcome: Outcome, now: datetime) -> Outcome:
    if len(_quiet) >= QUIET_MAX_ENTRIES:
        _quiet.clear()
    _quiet[quiet] = (min(outcome.next_check_at, now + QUIET_CAP), outcome.next_check_at)
    return outcome


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


_USER_SQL = """
SELECT u.id, u.account, u.traits, u.first_seen_at, u.last_seen_at, u.last_display_at,
       u.role, u.locale, u.email,
       (SELECT max(r.answered_at) FROM response r WHERE r.end_user = u.id) AS last_answered_at
FROM end_user u
WHERE u.external_id = {}
"""
_NEW_USER_SQL = """
INSERT INTO end_user (external_id, account, role, email, locale, traits, first_seen_at,
                      last_seen_at, created_at, updated_at)
VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {})
ON CONFLICT (external_id) DO NOTHING
RETURNING id
"""


def _json(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return json.loads(value or "{}")
    return value or {}


async def identify(
    user_id: str, account_id: str, traits: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Create or refresh the user and their account, in plain SQL (this runs on every check);
    the widget never overwrites CRM data on an existing account (only fills a new one)."""
    user_fields, account_fields, free = split_traits(traits)
    find_account = "SELECT id, plan FROM account WHERE external_id = {}"
    accounts = await Account.raw(find_account, account_id)
    if not accounts:
        await Account.insert(
            Account(
                external_id=account_id,
                name=account_fields.get("name") or account_id,
                plan=account_fields.get("plan"),
                industry=account_fields.get("industry"),
            )
        ).on_conflict(target=Account.external_id, action="DO NOTHING")
        accounts = await Account.raw(find_account, account_id)
    account = accounts[0]
    rows = await EndUser.raw(_USER_SQL, user_id)
    is_new = not rows
    if is_new:
        values = (user_fields.get("role"), user_fields.get("email"), user_fields.get("locale"))
        inserted = await EndUser.raw(
            _NEW_USER_SQL, user_id, account["id"], *values, json.dumps(free), now, now, now, now
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
            rows = await EndUser.raw(_USER_SQL, user_id)
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
    return await (
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
    outcome = await _check(key, user_id, account_id, traits, url, now, latest_check, force)
    if not outcome.show:
        _remember_quiet(quiet, outcome, now)
    return outcome


_DISPLAYS_SQL = """
SELECT schedule, cycle, status, shown_at, dismissed_at, expires_at
FROM display WHERE end_user = {}
"""


async def _check(
    key: KeyInfo,
    user_id: str,
    account_id: str,
    traits: dict[str, Any],
    url: str | None,
    now: datetime,
    latest_check: datetime,
    force: bool,
) -> Outcome:
    async with write_transaction():
        user = await identify(user_id, account_id, traits, now)
        schedules = [
            s
            for s in await active_schedules(now)
            if targets(s["targeting"] or {}, user["attributes"], url)
        ]
        if not schedules:
            return Outcome(False, latest_check)
        if force and key.environment != "production":
            return await _reserve(key, user, schedules[0], -1, now, url, slot=None)
        # someone first seen just now has no history to read
        displays = [] if user["is_new"] else await Display.raw(_DISPLAYS_SQL, user["id"])
        open_until = [
            d["expires_at"]
            for d in displays
            if d["status"] == DisplayStatus.shown and d["expires_at"] > now
        ]
        if open_until:  # another tab or device is showing a survey right now
            return Outcome(False, min(max(open_until), latest_check))
        last_answered = user["last_answered_at"]
        gap = await min_days_between_surveys()
        next_checks = [latest_check]
        for schedule in schedules:
            rules = rules_for(schedule, gap)
            user_key, schedule_key = user_id, str(schedule["id"])
            cycle = cycle_at(now, user_key, schedule_key, rules.cadence_days)
            history = history_for(user, displays, schedule["id"], cycle.index, last_answered)
            decision: Decision = decide(rules, history, now, user_key, schedule_key)
            if not decision.show:
                if decision.next_check_at is not None:
                    next_checks.append(decision.next_check_at)
                continue
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
        return Outcome(False, max(min(next_checks), now + timedelta(minutes=1)))


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


_CLAIM_SQL = """
UPDATE end_user SET last_display_at = {}
WHERE id = {} AND (last_display_at IS NULL OR last_display_at <= {})
RETURNING id
"""
_RESERVE_SQL = """
INSERT INTO display (token, slot, survey, schedule, end_user, account, widget_key, cycle,
                     status, locale, url, shown_at, expires_at)
VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})
ON CONFLICT (slot) DO NOTHING
RETURNING id
"""


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
        claimed = await EndUser.raw(_CLAIM_SQL, now, user["id"], now - timedelta(days=gap_days))
        if not claimed:
            raise _NotReserved
    token = secrets.token_urlsafe(24)
    locale, texts = localised_texts(
        schedule["texts"] or {}, schedule["product_name"], user["attributes"]["locale"]
    )
    inserted = await Display.raw(
        _RESERVE_SQL,
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


SNAPSHOT_FIELDS = ("plan", "industry", "company_size", "employee_count", "csm", "arr_cents")


# One statement with plain joins: Piccolo re-derives its joins on every query, which cost
# more CPU than the query itself on this hot path (measured: ~0.5 ms per answer).
_DISPLAY_SQL = """
SELECT d.id, d.status, d.survey, d.end_user, d.account, d.locale, d.widget_key,
       s.product_name, s.texts, s.promoter_link_url,
       a.plan, a.industry, a.company_size, a.employee_count, a.csm, a.arr_cents,
       u.role
FROM display d
JOIN survey s ON s.id = d.survey
JOIN account a ON a.id = d.account
JOIN end_user u ON u.id = d.end_user
WHERE d.token = {}
"""


async def _display_for(key: KeyInfo, token: str) -> dict[str, Any]:
    """The display, its survey's texts, the user's role and the account's segment
    attributes as they are now."""
    rows = await Display.raw(_DISPLAY_SQL, token)
    if not rows or rows[0]["widget_key"] != key.id:
        raise InputError("display_token", "unknown display token")
    row = rows[0]
    if isinstance(row["texts"], str):
        row["texts"] = json.loads(row["texts"] or "{}")
    return row


async def record_score(
    key: KeyInfo, token: str, client_id: str, score: int, now: datetime | None = None
) -> tuple[bool, dict[str, Any]]:
    """Store the score (idempotent by client id and by display); (created, follow-up).

    An answer after a dismissal (another tab) or after expiry is still an answer."""
    now = now or utcnow()
    idempotency_key = f"widget:{client_id}"
    async with write_transaction():
        display = await _display_for(key, token)
        inserted = (
            await Response.insert(
                Response(
                    idempotency_key=idempotency_key,
                    source="widget",
                    end_user=display["end_user"],
                    account=display["account"],
                    score=score,
                    answered_at=now,
                    locale=display["locale"],
                    role=display["role"],
                    display=display["id"],
                    survey=display["survey"],
                    **{f: display[f] for f in SNAPSHOT_FIELDS},
                )
            )
            # a retry conflicts on the client id, a second answer on the display
            .on_conflict(action="DO NOTHING")
            .returning(Response.id)
        )
        created = bool(inserted)
        if created:
            await Display.update(
                {Display.status: DisplayStatus.answered.value, Display.answered_at: now}
            ).where(Display.id == display["id"])
            if score <= 6 or score >= 9:  # the only answers a CTA rule may act on
                await on_answer(inserted[0]["id"], now)
        else:
            existing = (
                await Response.select(Response.score)
                .where(
                    (Response.display == display["id"])
                    | (Response.idempotency_key == idempotency_key)
                )
                .first()
            )
            score = existing["score"]
    _, texts = localised_texts(display["texts"] or {}, display["product_name"], display["locale"])
    kind = category(score)
    return created, {
        "category": kind,
        "follow_up": texts["follow_up"][kind],
        "thanks": texts["thanks"][kind],
        "promoter_link_url": display["promoter_link_url"] if kind == "promoter" else None,
    }


async def record_comment(
    key: KeyInfo, token: str, comment: str, now: datetime | None = None
) -> None:
    now = now or utcnow()
    async with write_transaction():
        display = await _display_for(key, token)
        updated = (
            await Response.update(
                {Response.comment: comment.strip() or None, Response.commented_at: now}
            )
            .where(Response.display == display["id"])
            .returning(Response.id, Response.score)
        )
        if not updated:
            raise InputError("display_token", "send the score before the comment")
        if updated[0]["score"] <= 6 or updated[0]["score"] >= 9:  # as in record_score
            await on_answer(updated[0]["id"], now)


async def dismiss(key: KeyInfo, token: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    async with write_transaction():
        display = await _display_for(key, token)
        changed = (
            await Display.update(
                {Display.status: DisplayStatus.dismissed.value, Display.dismissed_at: now}
            )
            .where((Display.id == display["id"]) & (Display.status == DisplayStatus.shown.value))
            .returning(Display.id)
        )
    return bool(changed)


async def expire_displays() -> int:
    """Worker job: displays nobody answered or dismissed become expired."""
    changed = (
        await Display.update({Display.status: DisplayStatus.expired.value})
        .where((Display.status == DisplayStatus.shown.value) & (Display.expires_at < utcnow()))
        .returning(Display.id)
    )
    return len(changed)
