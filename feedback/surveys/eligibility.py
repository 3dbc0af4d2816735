"""Whether to ask a user now: the cadence rules over the user's history, and a race-free
reservation of the display.

Every decision is made here, on the server, so it holds across tabs and devices. The
reservation is two guards in one transaction: a compare-and-set on the user's
`last_display_at` (the global gap between any two surveys) and a unique `slot` per
schedule, user, cycle and ask. Simultaneous checks for one user therefore reserve at most
one display on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import msgspec

from feedback.db import Row, is_sqlite, write_transaction
from feedback.kernel.cache import remember_to_forget
from feedback.kernel.clock import utcnow
from feedback.kernel.environments import PRODUCTION
from feedback.surveys import queries
from feedback.surveys.cadence import Decision, UserHistory, cycle_at, decide
from feedback.surveys.identify import (
    IdentifiedUser,
    Visitor,
    identify,
    known_accounts,
    promote_if_production,
    split_traits,
)
from feedback.surveys.keys import KeyInfo
from feedback.surveys.models import DisplayStatus, IdentityMode
from feedback.surveys.new_users import Visit, create_if_new
from feedback.surveys.schedules import (
    ActiveSchedule,
    active_schedules,
    in_order_for,
    localised,
    min_days_between_surveys,
    rules_for,
)
from feedback.surveys.targeting import targets, url_path

DISPLAY_LIFETIME = timedelta(hours=1)
# the longest the widget waits before asking again, so configuration changes reach it
MAX_CHECK_INTERVAL = timedelta(days=1)


class _NotReserved(Exception):
    """Another request took the slot first: roll back this one's compare-and-set."""


class ShownSurvey(msgspec.Struct, frozen=True, kw_only=True):
    """The display reserved for a user: what the widget shows, under its token."""

    token: str
    locale: str
    texts: dict[str, Any]
    theme: dict[str, Any]
    promoter_link_url: str | None
    delay_seconds: int
    expires_at: datetime
    account: int  # the account's primary key
    # whether a detractor's thank-you offers "Talk to <owner>" (the survey's setting)
    talk_to_detractors: bool = False


class Outcome(msgspec.Struct, frozen=True):
    """Whether to show a survey now (`display`), and when the widget should check again."""

    show: bool
    next_check_at: datetime
    display: ShownSurvey | None = None


class NotNowMemory:
    """ "Not now, until T" per user, page and traits: decisions only move later as a user is
    asked, answers or dismisses, so a repeat check before T can be answered from memory.
    Capped at `cap` so that admin changes made in another process reach every user within
    minutes. Entries outlive their use by up to `cap`: the stale ones are dropped whenever
    the memory has doubled since the last sweep, so it follows the users active lately."""

    def __init__(self, cap: timedelta = timedelta(minutes=5), max_entries: int = 100_000) -> None:
        self.cap = cap
        self.max_entries = max_entries
        self.entries: dict[tuple[Any, ...], tuple[datetime, datetime]] = {}
        self.sweep_at = 1_000

    @staticmethod
    def key(
        key: KeyInfo, user_id: str, account_id: str, traits: dict[str, Any], url: str | None
    ) -> tuple[Any, ...]:
        return (key.id, user_id, account_id, url_path(url), json.dumps(traits, sort_keys=True))

    def recall(self, quiet: tuple[Any, ...], now: datetime) -> datetime | None:
        """The next check time remembered for `quiet`, while it holds."""
        remembered = self.entries.get(quiet)
        if remembered is not None and remembered[0] > now:
            return remembered[1]
        return None

    def remember(self, quiet: tuple[Any, ...], outcome: Outcome, now: datetime) -> None:
        if len(self.entries) >= self.sweep_at:
            for stale in [k for k, (until, _) in self.entries.items() if until <= now]:
                del self.entries[stale]
            if len(self.entries) >= self.max_entries:
                self.entries.clear()
            self.sweep_at = max(1_000, 2 * len(self.entries))
        self.entries[quiet] = (min(outcome.next_check_at, now + self.cap), outcome.next_check_at)

    def clear(self) -> None:
        self.entries.clear()


not_now = NotNowMemory()
remember_to_forget(not_now)


def history_for(
    user: Visitor,
    displays: list[Row],
    schedule_id: int,
    cycle_index: int,
    last_answered_at: datetime | None,
) -> UserHistory:
    mine = [d for d in displays if d["schedule"] == schedule_id]
    in_cycle = [d for d in mine if d["cycle"] == cycle_index]
    dismissed = [d["dismissed_at"] for d in mine if d["dismissed_at"] is not None]
    return UserHistory(
        first_seen_at=user.first_seen_at,
        asks_in_cycle=len(in_cycle),
        answered_in_cycle=any(d["status"] == DisplayStatus.answered for d in in_cycle),
        last_answered_at=last_answered_at,
        last_dismissed_at=max(dismissed) if dismissed else None,
        last_display_at=user.last_display_at,
        asked_elsewhere_at=user.asked_elsewhere_at,
    )


async def check_eligibility(
    key: KeyInfo,
    user_id: str,
    account_id: str,
    traits: dict[str, Any],
    url: str | None,
    now: datetime | None = None,
    force: bool = False,
    trust: IdentityMode = IdentityMode.browser,
) -> Outcome:
    """`force` shows a survey whatever the cadence rules say: only for a preview an admin
    started, or a signed identity on a staging or development key (the caller decides);
    `trust` is what the call proved about who is asking (`verification.verify`)."""
    now = now or utcnow()
    latest_check = now + MAX_CHECK_INTERVAL
    quiet = not_now.key(key, user_id, account_id, traits, url)
    remembered = None if force else not_now.recall(quiet, now)
    if remembered is not None:
        return Outcome(False, remembered)
    found, outcome = None, None
    # the one-statement path creates new users: never for a call that proves only the user id
    if not force and not is_sqlite() and trust is not IdentityMode.user_hash:
        account = known_accounts.peek(account_id)
        if account is None:
            found = await queries.IDENTIFY.first(user_id, account_id)
            if found is not None:
                account = (found["account_pk"], found["account_plan"], found["account_environment"])
                known_accounts.put(account_id, account)
        if account is not None and account[2] != PRODUCTION and key.environment == PRODUCTION:
            # first seen through a test key, named now through a production one
            await promote_if_production(key.environment, account[0], account[2])
            account = (account[0], account[1], PRODUCTION)
            known_accounts.put(account_id, account)
            if found is not None:
                found["account_environment"] = PRODUCTION
        if account is not None and (found is None or found["id"] is None):
            outcome, found = await _visit(key, user_id, account_id, account, traits, url, now)
    if outcome is None:
        outcome = await _check(
            key, user_id, account_id, traits, url, now, latest_check, force, found, trust
        )
    if not outcome.show:
        not_now.remember(quiet, outcome, now)
    return outcome


async def _visit(
    key: KeyInfo,
    user_id: str,
    account_id: str,
    account: tuple[int, str | None, str],
    traits: dict[str, Any],
    url: str | None,
    now: datetime,
) -> tuple[Outcome | None, Row | None]:
    """The check of a user of a known account in one statement: decided beforehand as if
    the user were new (nothing to read for them), then the statement creates them (and their
    display) only if they are. Returns the outcome for a new user, or None and the user's
    `queries.IDENTIFY` row to go on with the general way (None there: read it again)."""
    account_pk, plan, _ = account
    user_fields, _, free = split_traits(traits)
    role, email, locale = (user_fields.get(f) for f in ("role", "email", "locale"))
    user = Visitor(
        first_seen_at=now,
        last_display_at=None,
        last_answered_at=None,
        attributes={"role": role, "locale": locale, "plan": plan, "traits": free},
    )
    latest_check = now + MAX_CHECK_INTERVAL
    next_checks = [latest_check]
    gap = await min_days_between_surveys()
    schedules = await _targeted(key, user, url, now)
    chosen = next(iter(_choices(schedules, user, [], gap, now, user_id, next_checks)), None)
    schedule: ActiveSchedule | None = None
    survey_id: int | None = None
    schedule_id: int | None = None
    token = display_locale = None
    texts: dict[str, Any] = {}
    cycle = 0
    if chosen is not None:
        schedule, decision, _ = chosen
        if schedule.max_users_per_account is not None:
            # counting the account's users needs the general path
            return None, await queries.IDENTIFY.first(user_id, account_id)
        survey_id, schedule_id = schedule.survey, schedule.id
        token = secrets.token_urlsafe(24)
        cycle = decision.cycle.index
        display_locale, texts = localised(schedule.texts, locale)
    row = await create_if_new(
        Visit(
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
            f"{schedule_id}:",
            f":{cycle}:1",
            survey_id,
            schedule_id,
            key.id,
            key.environment,
            cycle,
            display_locale,
            (url or "")[:2000] or None,
            now + DISPLAY_LIFETIME,
            token is not None,
        )
    )
    if row is None:  # the account is gone (or renamed): the general way sees to it
        known_accounts.discard(account_id)
        return None, None
    known_accounts.put(
        account_id, (row["account_pk"], row["account_plan"], row["account_environment"])
    )
    if row["created"] is None:  # an existing user, or one created meanwhile (None: read again)
        return None, (row if row["id"] is not None else None)
    if schedule is not None and token is not None:
        return _shown(schedule, token, display_locale or "en", texts, now, account_pk), None
    return Outcome(False, next_check(next_checks, now)), None


async def _check(
    key: KeyInfo,
    user_id: str,
    account_id: str,
    traits: dict[str, Any],
    url: str | None,
    now: datetime,
    latest_check: datetime,
    force: bool,
    found: Row | None = None,
    trust: IdentityMode = IdentityMode.browser,
) -> Outcome:
    async with write_transaction():
        user = await identify(user_id, account_id, traits, now, found, trust, key.environment)
        schedules = await _targeted(key, user, url, now)
        if not schedules:
            return Outcome(False, latest_check)
        if force:
            return await _reserve(key, user, schedules[0], -1, now, url, slot=None)
        # someone first seen just now has no history to read
        displays = [] if user.is_new else await queries.DISPLAYS_OF_USER.fetch(user.id)
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
            if await account_is_full(schedule, user.account_id, user.id, now):
                continue
            slot = f"{schedule.id}:{user.id}:{decision.cycle.index}:{history.asks_in_cycle + 1}"
            try:
                return await _reserve(
                    key, user, schedule, decision.cycle.index, now, url, slot, gap
                )
            except _NotReserved:
                break
        return Outcome(False, next_check(next_checks, now))


async def _targeted(
    key: KeyInfo, user: Visitor, url: str | None, now: datetime
) -> list[ActiveSchedule]:
    """The active schedules that take this key and whose targeting takes this user on this
    page."""
    key_id, environment, attributes = key.id, key.environment, user.attributes
    return [
        s
        for s in in_order_for(await active_schedules(now), key_id, environment)
        if s.takes(key_id, environment) and targets(s.targeting or {}, attributes, url)
    ]


def _choices(
    schedules: list[ActiveSchedule],
    user: Visitor,
    displays: list[Row],
    gap: int,
    now: datetime,
    user_id: str,
    next_checks: list[datetime],
) -> Iterator[tuple[ActiveSchedule, Decision, UserHistory]]:
    """The schedules that may ask this user now, in priority order; the others add the time
    they may ask to `next_checks`."""
    for schedule in schedules:
        decision, history = decision_for(schedule, user, displays, gap, now, user_id)
        if decision.show:
            yield schedule, decision, history
        elif decision.next_check_at is not None:
            next_checks.append(decision.next_check_at)


def decision_for(
    schedule: ActiveSchedule,
    user: Visitor,
    displays: list[Row],
    gap: int,
    now: datetime,
    user_id: str,
) -> tuple[Decision, UserHistory]:
    """The cadence rules' decision for one schedule over the user's history (and the history
    it read): the widget's and "explain eligibility"'s alike."""
    rules = rules_for(schedule, gap)
    schedule_key = str(schedule.id)
    cycle = cycle_at(now, user_id, schedule_key, rules.cadence_days)
    history = history_for(user, displays, schedule.id, cycle.index, user.last_answered_at)
    return decide(rules, history, now, user_id, schedule_key, cycle), history


def next_check(next_checks: list[datetime], now: datetime) -> datetime:
    """The earliest of the schedules' next checks, at least a minute away."""
    return max(min(next_checks), now + timedelta(minutes=1))


async def account_is_full(
    schedule: ActiveSchedule, account_pk: int, user_pk: int | None, now: datetime
) -> bool:
    """Whether the schedule asked `max_users_per_account` other users of the account in its
    cadence already (reads only)."""
    cap = schedule.max_users_per_account
    if cap is None:
        return False
    since = now - timedelta(days=schedule.cadence_days)
    rows = await queries.USERS_SHOWN_IN_ACCOUNT.fetch(account_pk, schedule.id, since)
    users = {r["end_user"] for r in rows}
    return user_pk not in users and len(users) >= cap


async def _reserve(
    key: KeyInfo,
    user: IdentifiedUser,
    schedule: ActiveSchedule,
    cycle: int,
    now: datetime,
    url: str | None,
    slot: str | None,
    gap_days: int = 0,
) -> Outcome:
    if slot is not None:
        claimed = await queries.CLAIM.fetch(now, user.id, now - timedelta(days=gap_days))
        if not claimed:
            raise _NotReserved
    token = secrets.token_urlsafe(24)
    locale, texts = localised(schedule.texts, user.attributes["locale"])
    inserted = await queries.RESERVE.fetch(
        token,
        slot or f"forced:{token}",
        schedule.survey,
        schedule.id,
        user.id,
        user.account_id,
        key.id,
        key.environment,
        cycle,
        DisplayStatus.shown.value,
        locale,
        (url or "")[:2000] or None,
        now,
        now + DISPLAY_LIFETIME,
    )
    if not inserted:
        raise _NotReserved  # rolls back the compare-and-set with the transaction
    return _shown(schedule, token, locale, texts, now, user.account_id)


def _shown(
    schedule: ActiveSchedule,
    token: str,
    locale: str,
    texts: dict[str, Any],
    now: datetime,
    account: int,
) -> Outcome:
    return Outcome(
        True,
        now + DISPLAY_LIFETIME,
        ShownSurvey(
            token=token,
            locale=locale,
            texts=texts,
            theme=schedule.theme or {},
            promoter_link_url=schedule.texts.promoter_link_url,
            delay_seconds=schedule.delay_seconds,
            expires_at=now + DISPLAY_LIFETIME,
            account=account,
            talk_to_detractors=schedule.texts.talk_to_detractors,
        ),
    )
