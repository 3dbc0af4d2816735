"""Explaining who gets which survey: for a widget key, a user, their account, traits and a
page, each active schedule's verdict (the key's scope, targeting, the cadence rules) and what
the widget would answer, worked out by the widget's own decision code.

It only reads: no display is reserved, no user or account is created, nothing about the user
changes. A user not seen yet is explained as the widget would first see them: new, first
seen now.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from feedback.db import Row, as_utc_datetime, json_object, read_transaction
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.surveys import queries
from feedback.surveys.configuration import list_widget_keys, scope_words
from feedback.surveys.eligibility import (
    DISPLAY_LIFETIME,
    MAX_CHECK_INTERVAL,
    account_is_full,
    decision_for,
    next_check,
)
from feedback.surveys.identify import UserAttributes, Visitor, split_traits
from feedback.surveys.models import DisplayStatus, IdentityMode, Schedule
from feedback.surveys.schedules import (
    ActiveSchedule,
    active_schedules,
    in_order_for,
    min_days_between_surveys,
)
from feedback.surveys.targeting import refusal


class CadenceVerdict(msgspec.Struct, frozen=True):
    """The cadence rules' decision for one schedule: `reason` in the rules' words ("new
    user", "answered recently", "asked by the previous tool", "not sampled this cycle", ...)."""

    show: bool
    reason: str
    next_check_at: datetime | None  # when not `show`: the earliest the answer could change
    cycle_ends_at: datetime


class ScheduleVerdict(msgspec.Struct, frozen=True):
    """One active schedule's verdict: `verdict` says it in a sentence."""

    schedule: int
    name: str
    survey: int
    survey_name: str
    scope: str  # in words: "Any key", "Production keys only", "Key: Web app (staging)"
    takes_key: bool
    targeted: bool
    targeting_refusal: str | None  # the rule that failed, when not `targeted`
    cadence: CadenceVerdict
    account_full: bool  # asked `max_users_per_account` other users of the account already
    would_show: bool
    verdict: str


class UserSeen(msgspec.Struct, frozen=True):
    """The user as the rules see them."""

    user_id: str
    known: bool  # False: explained as new, first seen now (nothing was created)
    account_known: bool
    first_seen_at: datetime
    last_display_at: datetime | None
    last_answered_at: datetime | None
    asked_elsewhere_at: datetime | None
    attributes: dict[str, Any]


class Explanation(msgspec.Struct, frozen=True):
    """What the widget would answer, and why, for each active schedule."""

    now: datetime
    key: dict[str, Any]  # id, key, name, environment, identity, active
    user: UserSeen
    schedules: list[ScheduleVerdict]
    shows: int | None  # the schedule the widget would show, if any
    next_check_at: datetime  # when the widget would check again
    summary: str
    notes: list[str]


def traits_from_text(text: str) -> dict[str, Any]:
    """Traits typed by an admin: a JSON object, or `name=value` lines."""
    text = text.strip()
    if not text:
        return {}
    if text.startswith("{"):
        try:
            value = msgspec.json.decode(text)
        except msgspec.DecodeError as exc:
            raise InputError("traits", f"not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise InputError("traits", "must be a JSON object or name=value lines")
        return value
    traits: dict[str, Any] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip():
            raise InputError("traits", f"line {number}: write name=value, e.g. plan=premium")
        traits[name.strip()] = value.strip()
    return traits


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


async def explain(
    key_id: int,
    user_id: str,
    account_id: str,
    traits: dict[str, Any],
    url: str | None,
    now: datetime | None = None,
) -> Explanation:
    """Each active schedule's verdict for this call, and the widget's answer (reads only)."""
    now = now or utcnow()
    keys = {k["id"]: k for k in await list_widget_keys()}
    key = keys.get(key_id)
    if key is None:
        raise InputError("widget_key", f"no widget key {key_id}")
    for field, value in (("user_id", user_id), ("account_id", account_id)):
        if not value.strip() or len(value) > 200:
            raise InputError(field, "enter the id your product sends (1 to 200 characters)")
    async with read_transaction():
        return await _explain(key, keys, user_id, account_id, traits, url, now)


async def _explain(
    key: dict[str, Any],
    keys: dict[int, dict[str, Any]],
    user_id: str,
    account_id: str,
    traits: dict[str, Any],
    url: str | None,
    now: datetime,
) -> Explanation:
    notes: list[str] = []
    trust = IdentityMode(key["identity"])
    account = await queries.IDENTIFY.first(user_id, account_id)
    stored = await queries.USER_BY_EXTERNAL_ID.first(user_id)
    user_fields, account_fields, free = split_traits(traits)
    if account is None:
        notes.append(
            f"No account {account_id!r} yet: the widget would create it"
            + (" (with the plan in the traits)." if account_fields.get("plan") else ".")
        )
        plan = account_fields.get("plan")
    else:
        plan = account["account_plan"]
    if trust is IdentityMode.user_hash:
        if stored is None:
            notes.append(
                "This key proves only the user id (user_hash): the widget refuses a user it "
                "does not know yet (403); explained below as if it took them."
            )
        else:
            notes.append(
                "This key proves only the user id (user_hash): the stored traits count, "
                "not the ones entered here."
            )
            user_fields, free = {}, {}
    user = _visitor(stored, user_fields, free, plan, now)
    if stored is None:
        notes.append(f"No user {user_id!r} yet: explained as a new user, first seen now.")
    if not key["active"]:
        notes.append("This key is disabled: the widget's calls with it are refused (401).")
    displays = await queries.DISPLAYS_OF_USER.fetch(stored["id"]) if stored else []
    open_until: list[datetime] = [
        d["expires_at"]
        for d in displays
        if d["status"] == DisplayStatus.shown and d["expires_at"] > now
    ]
    latest_check = now + MAX_CHECK_INTERVAL
    gap = await min_days_between_surveys()
    names = {
        r["id"]: r
        for r in await Schedule.select(
            Schedule.id, Schedule.name, Schedule.survey.name.as_alias("survey_name")
        )
    }
    verdicts: list[ScheduleVerdict] = []
    next_checks = [latest_check]
    targeted_any = False
    shows: int | None = None
    for schedule in in_order_for(await active_schedules(now), key["id"], key["environment"]):
        takes = schedule.takes(key["id"], key["environment"])
        refused = refusal(schedule.targeting or {}, user.attributes, url)
        decision, _ = decision_for(schedule, user, displays, gap, now, user_id)
        full = False
        would_show = False
        if not takes:
            verdict = (
                f"Not through this key: the schedule takes {_lower(scope_of(schedule, keys))}."
            )
        elif refused is not None:
            verdict = f"Not targeted: {refused}."
        else:
            targeted_any = True
            if open_until:
                verdict = (
                    "Waits: a survey is on screen in another tab or device until "
                    f"{_iso(max(open_until))}."
                )
            elif not decision.show:
                when = _iso(decision.next_check_at) or "never (the schedule has ended)"
                verdict = f"Not now: {decision.reason}; next possible at {when}."
                if decision.next_check_at is not None:
                    next_checks.append(decision.next_check_at)
            elif shows is not None:
                verdict = "Eligible, but a schedule above comes first."
            else:
                account_pk = account["account_pk"] if account else None
                full = account_pk is not None and await account_is_full(
                    schedule, account_pk, stored["id"] if stored else None, now
                )
                if full:
                    verdict = (
                        f"Eligible, but {schedule.max_users_per_account} other users of this "
                        "account were asked in this cadence already."
                    )
                else:
                    shows, would_show = schedule.id, key["active"]
                    verdict = (
                        "Would show now."
                        if key["active"]
                        else "Eligible (but the key is disabled)."
                    )
        row = names.get(schedule.id, {})
        verdicts.append(
            ScheduleVerdict(
                schedule=schedule.id,
                name=row.get("name") or f"schedule {schedule.id}",
                survey=schedule.survey,
                survey_name=row.get("survey_name") or "",
                scope=scope_of(schedule, keys),
                takes_key=takes,
                targeted=refused is None,
                targeting_refusal=refused,
                cadence=CadenceVerdict(
                    decision.show, decision.reason, decision.next_check_at, decision.cycle.ends_at
                ),
                account_full=full,
                would_show=would_show,
                verdict=verdict,
            )
        )
    if not key["active"]:
        shows, next_at = None, latest_check
        summary = "Nothing: this key is disabled, so the widget's calls with it are refused."
    elif shows is not None:
        chosen = next(v for v in verdicts if v.schedule == shows)
        summary = f"The widget would show {chosen.name} ({chosen.survey_name}) now."
        next_at = now + DISPLAY_LIFETIME
    elif open_until and targeted_any:
        next_at = min(max(open_until), latest_check)
        summary = f"Nothing now: a survey is on screen elsewhere until {_iso(next_at)}."
    elif not targeted_any:
        next_at = latest_check
        summary = "Nothing: no active schedule takes this key and targets this user on this page."
    else:
        next_at = next_check(next_checks, now)
        summary = f"Nothing now; the widget checks again at {_iso(next_at)}."
    return Explanation(
        now=now,
        key={k: key[k] for k in ("id", "key", "name", "environment", "identity", "active")},
        user=UserSeen(
            user_id=user_id,
            known=stored is not None,
            account_known=account is not None,
            first_seen_at=user.first_seen_at,
            last_display_at=user.last_display_at,
            last_answered_at=user.last_answered_at,
            asked_elsewhere_at=user.asked_elsewhere_at,
            attributes=dict(user.attributes),
        ),
        schedules=verdicts,
        shows=shows,
        next_check_at=next_at,
        summary=summary,
        notes=notes,
    )


def _lower(words: str) -> str:
    return words[:1].lower() + words[1:]


def scope_of(schedule: ActiveSchedule, keys: dict[int, dict[str, Any]]) -> str:
    return scope_words(sorted(schedule.widget_keys), sorted(schedule.environments), keys)


def _visitor(
    stored: Row | None,
    user_fields: dict[str, Any],
    free: dict[str, str],
    plan: str | None,
    now: datetime,
) -> Visitor:
    """The user as `identify` would leave them, without writing: the traits entered
    refresh the stored ones; a user not stored yet is new, first seen now."""
    if stored is None:
        attributes: UserAttributes = {
            "role": user_fields.get("role"),
            "locale": user_fields.get("locale"),
            "plan": plan,
            "traits": free,
        }
        return Visitor(
            first_seen_at=now, last_display_at=None, last_answered_at=None, attributes=attributes
        )
    return Visitor(
        first_seen_at=as_utc_datetime(stored["first_seen_at"]) or now,
        last_display_at=as_utc_datetime(stored["last_display_at"]),
        last_answered_at=as_utc_datetime(stored["last_answered_at"]),
        asked_elsewhere_at=as_utc_datetime(stored["asked_elsewhere_at"]),
        attributes={
            "role": user_fields.get("role", stored["role"]),
            "locale": user_fields.get("locale", stored["locale"]),
            "plan": plan,
            "traits": {**json_object(stored["traits"]), **free},
        },
    )
