"""Calls-to-Action: raising them from signals, changing them, and enqueueing their messages.

Every function that changes a CTA runs inside the caller's transaction (or opens one) and
writes, in that transaction, the CTA, a `cta_event` row and the `outbox` row that carries
the change to Slack: the change and its message commit or roll back together.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from feedback.accounts.models import CSM
from feedback.auth.models import Role
from feedback.auth.services import Principal, audit
from feedback.ctas.models import Cta, CtaEvent, CtaStatus, CtaType, Outbox, OutboxStatus
from feedback.db import Statement, as_utc_datetime, is_sqlite, write_transaction
from feedback.errors import InputError
from feedback.kernel.clock import utcnow
from feedback.surveys.cache import TTLCache
from feedback.surveys.models import AppSetting

log = logging.getLogger("feedback.ctas")

BUILTIN_TYPES: dict[str, str] = {
    "risk": "Risk",
    "renewal": "Renewal",
    "onboarding": "Onboarding",
    "business_review": "Business review",
    "advocacy": "Advocacy",
    "health_alert": "Health alert",
    "going_dark": "Going dark",
}
PRIORITIES = {1: "urgent", 2: "high", 3: "medium", 4: "low"}
SNOOZE_CHOICES = (1, 7, 30)
ACTIONS = ("acknowledge", "snooze", "close", "reassign", "reopen")

# which statuses each action may start from (compare-and-set: a double click is a no-op)
ALLOWED_FROM: dict[str, tuple[str, ...]] = {
    "acknowledge": (CtaStatus.open, CtaStatus.snoozed),
    "snooze": (CtaStatus.open, CtaStatus.acknowledged, CtaStatus.snoozed),
    "close": (CtaStatus.open, CtaStatus.acknowledged, CtaStatus.snoozed),
    "reassign": (CtaStatus.open, CtaStatus.acknowledged, CtaStatus.snoozed),
    "reopen": (CtaStatus.snoozed, CtaStatus.acknowledged),
}

RULES_KEY = "cta_rules"
DEFAULT_RULES: dict[str, dict[str, Any]] = {
    # a detractor answer: risk CTA; priority from score and ARR
    "detractor_risk": {"enabled": True, "due_days": 3, "high_arr_cents": 10_000_000},
    # a promoter who wrote a comment: ask for a review or a reference
    "promoter_advocacy": {"enabled": True, "due_days": 14},
    # renewal within N days while the account's NPS over the last year is negative or its
    # latest health is in the red band
    "renewal_risk": {"enabled": True, "days_before_renewal": 90, "due_days": 7},
    # no response and no end-user activity for N days
    "going_dark": {"enabled": True, "days": 60, "due_days": 7},
    # health falls into the red band or drops by N points in 7 days (health scores)
    "health_alert": {"enabled": True, "drop_points": 15, "due_days": 5},
    # each CSM's digest (open CTAs by priority, new detractors), once a day from this hour
    "daily_digest": {"enabled": True, "hour_utc": 8},
}
RULE_PARAMS: dict[str, tuple[str, ...]] = {
    name: tuple(k for k in params if k != "enabled") for name, params in DEFAULT_RULES.items()
}

_rules_cache: TTLCache[dict[str, Any]] = TTLCache(ttl=10)


# -- settings ---------------------------------------------------------------------------


def forget_cta_rules() -> None:
    """Drop the cached rules (they are re-read within 10 s in other processes anyway)."""
    _rules_cache.clear()


async def _read_setting(key: str) -> dict[str, Any]:
    row = (
        await AppSetting.select(AppSetting.value)
        .where(AppSetting.key == key)
        .output(load_json=True)
        .first()
    )
    value = row["value"] if row else {}
    return value if isinstance(value, dict) else {}


async def _write_setting(key: str, value: dict[str, Any]) -> None:
    await AppSetting.insert(AppSetting(key=key, value=value, updated_at=utcnow())).on_conflict(
        target=AppSetting.key, action="DO UPDATE", values=[AppSetting.value, AppSetting.updated_at]
    )


async def cta_rules() -> dict[str, Any]:
    """The rules with the admins' changes over the defaults, plus `default_owner`."""

    async def load() -> dict[str, Any]:
        stored = await _read_setting(RULES_KEY)
        rules: dict[str, Any] = {
            name: {**params, **(stored.get(name) or {})} for name, params in DEFAULT_RULES.items()
        }
        rules["default_owner"] = stored.get("default_owner")
        return rules

    return await _rules_cache.get(RULES_KEY, load)


async def update_cta_rules(changes: dict[str, Any], actor: str, source: str) -> dict[str, Any]:
    """Validate and store a partial change: `{"detractor_risk": {"enabled": false}}`."""
    current = await cta_rules()
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in current.items()}
    for name, change in changes.items():
        if name == "default_owner":
            if change is not None:
                if not isinstance(change, int) or isinstance(change, bool):
                    raise InputError("default_owner", "a CSM id or null")
                if not await CSM.exists().where(CSM.id == change):
                    raise InputError("default_owner", f"no CSM with id {change}")
            merged["default_owner"] = change
            continue
        if name not in DEFAULT_RULES:
            raise InputError(name, f"unknown rule; rules: {', '.join(DEFAULT_RULES)}")
        if not isinstance(change, dict):
            raise InputError(name, "an object of the rule's settings")
        for param, value in change.items():
            field = f"{name}.{param}"
            if param == "enabled":
                if not isinstance(value, bool):
                    raise InputError(field, "true or false")
            elif param in RULE_PARAMS[name]:
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise InputError(field, "a whole number, 0 or more")
            else:
                raise InputError(
                    field, f"unknown setting; {name} has enabled, {', '.join(RULE_PARAMS[name])}"
                )
            merged[name][param] = value
    async with write_transaction():
        await _write_setting(RULES_KEY, merged)
        await audit(actor, source, "cta_rules.update", RULES_KEY, changes)
    forget_cta_rules()
    return merged


async def cta_types() -> dict[str, str]:
    async def load() -> dict[str, str]:
        custom = await CtaType.select(CtaType.key, CtaType.label).order_by(CtaType.key)
        return {**BUILTIN_TYPES, **{row["key"]: row["label"] for row in custom}}

    return await _rules_cache.get("types", load)  # type: ignore[arg-type]


async def add_cta_type(key: str, label: str) -> dict[str, str]:
    key = key.strip().lower()
    if not key or len(key) > 40 or not key.replace("_", "").isalnum() or not key.isascii():
        raise InputError("key", "1-40 lowercase letters, digits or underscores")
    label = label.strip()
    if not label or len(label) > 100:
        raise InputError("label", "1-100 characters")
    if key in BUILTIN_TYPES:
        raise InputError("key", "is a built-in type")
    inserted = (
        await CtaType.insert(CtaType(key=key, label=label))
        .on_conflict(action="DO NOTHING")
        .returning(CtaType.id)
    )
    if not inserted:
        raise InputError("key", "exists already", status_code=409)
    forget_cta_rules()
    return {"key": key, "label": label}


# -- raising CTAs from signals -------------------------------------------------------------


@dataclass(frozen=True)
class Signal:
    account_id: int
    type: str
    reason: str
    detail: str
    priority: int
    due_on: date | None
    trigger: dict[str, Any]
    actor: str = "rule"


_INSERT_CTA_SQL = """
INSERT INTO cta (type, reason, detail, priority, account, owner, due_on, status,
                 snoozed_until, snooze_reason, close_reason, trigger, version,
                 created_at, updated_at)
VALUES ({}, {}, {}, {}, {}, {}, {}, 'open', NULL, '', '', {}, 1, {}, {})
ON CONFLICT (account, type, reason) WHERE status <> 'closed' DO NOTHING
RETURNING id
"""

_OWNER = Statement("""
SELECT a.csm AS owner, c.active AS active FROM account a LEFT JOIN csm c ON c.id = a.csm
WHERE a.id = {}""")
_INSERT_CTA = Statement(_INSERT_CTA_SQL)
_OPEN_CTA = Statement("""
SELECT id, status, snoozed_until, priority, detail, version FROM cta
WHERE account = {} AND type = {} AND reason = {} AND status <> 'closed'""")
_UPDATE_CTA = Statement("""
UPDATE cta SET detail = {}, trigger = {}, priority = {}, version = version + 1, updated_at = {}
WHERE id = {}""")
_INSERT_EVENT = Statement("""
INSERT INTO cta_event (cta, at, actor, source, action, from_status, to_status, note, data)
VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {})""")


def _json_arg(value: dict[str, Any]) -> str:
    return json.dumps(value, default=str, sort_keys=True)


async def _owner_for(account_id: int) -> int | None:
    row = await _OWNER.first(account_id)
    if row is not None and row["owner"] is not None and row["active"] in (True, 1):
        return row["owner"]
    return (await cta_rules()).get("default_owner")


async def raise_signal(
    signal: Signal, now: datetime | None = None, earlier: Sequence[Signal] = ()
) -> tuple[int, str]:
    """Open a CTA for the signal, or update the one already open for the same account,
    type and reason. Runs in the caller's transaction. Returns (cta id, what happened):
    created, updated, unchanged, or snoozed (kept quiet until the snooze ends).

    `earlier` are signals for the same CTA that arrived just before this one (the answer rule
    runner handles a batch at once): each leaves its event in the CTA's history, the CTA
    shows the latest and the most urgent priority, and one message is queued for them all."""
    now = now or utcnow()
    priority = min([signal.priority, *(e.priority for e in earlier)])
    signal = replace(signal, priority=priority)
    owner = await _owner_for(signal.account_id)
    inserted = await _INSERT_CTA.fetch(
        signal.type,
        signal.reason[:300],
        signal.detail,
        signal.priority,
        signal.account_id,
        owner,
        signal.due_on,
        _json_arg(signal.trigger),
        now,
        now,
    )
    if inserted:
        cta_id = inserted[0]["id"]
        first, *rest = [*earlier, signal]
        await _record_signal(cta_id, first, "created", None, now)
        for each in rest:
            await _record_signal(cta_id, each, "signal", CtaStatus.open, now)
        await enqueue_cta_message(cta_id, now)
        return cta_id, "created"
    existing = await _OPEN_CTA.first(signal.account_id, signal.type, signal.reason[:300])
    if existing is None:  # closed between the two statements: try once more
        return await raise_signal(signal, now, earlier)
    if (
        not earlier
        and existing["detail"] == signal.detail
        and existing["priority"] <= signal.priority
    ):
        return existing["id"], "unchanged"  # the same signal again (a periodic rule)
    snoozed_until = as_utc_datetime(existing["snoozed_until"])
    quiet = existing["status"] == CtaStatus.snoozed and snoozed_until and snoozed_until > now
    await _UPDATE_CTA.fetch(
        signal.detail,
        _json_arg(signal.trigger),
        min(existing["priority"], signal.priority),
        now,
        existing["id"],
    )
    for each in [*earlier, signal]:
        await _record_signal(existing["id"], each, "signal", existing["status"], now)
    if quiet:
        return existing["id"], "snoozed"
    await enqueue_cta_message(existing["id"], now)
    return existing["id"], "updated"


# -- many CTAs at once (the answer rule runner on PostgreSQL) -------------------------------------
#
# The same outcome as `raise_signal` for each group of signals, in four statements for the
# whole batch instead of about seven per CTA: a round trip costs more client CPU than these
# statements cost the server. Groups come sorted by (account, type, reason) and every
# statement takes its row locks in that order, so that two runners never deadlock.

_SIGNALS = """unnest({}::int[], {}::text[], {}::text[], {}::text[], {}::int[], {}::date[],
                  {}::text[], {}::bool[]) WITH ORDINALITY
    AS g(account, type, reason, detail, priority, due_on, trigger, single, n)"""
_CREATE_CTAS = Statement(
    "-- PostgreSQL only",
    postgres="""
INSERT INTO cta (type, reason, detail, priority, account, owner, due_on, status,
                 snoozed_until, snooze_reason, close_reason, trigger, version,
                 created_at, updated_at)
SELECT g.type, g.reason, g.detail, g.priority, g.account,
       CASE WHEN c.active THEN a.csm ELSE {}::int END,
       g.due_on, 'open', NULL, '', '', g.trigger::jsonb, 1, {}, {}
FROM @signals
JOIN account a ON a.id = g.account
LEFT JOIN csm c ON c.id = a.csm
ORDER BY g.n
ON CONFLICT (account, type, reason) WHERE status <> 'closed' DO NOTHING
RETURNING id, account, type, reason""".replace("@signals", _SIGNALS),
)
# the open CTA of each remaining group, locked in order, then changed unless the signal is
# the same one again (as in `raise_signal`); each row says whether it was changed
_UPDATE_CTAS = Statement(
    "-- PostgreSQL only",
    postgres="""
WITH target AS (
    SELECT t.id, t.account, t.type, t.reason, t.status, t.snoozed_until,
           g.detail, g.trigger, g.priority,
           NOT (g.single AND t.detail = g.detail AND t.priority <= g.priority) AS changes
    FROM @signals
    JOIN cta t ON t.account = g.account AND t.type = g.type AND t.reason = g.reason
    WHERE t.status <> 'closed'
    ORDER BY g.n
    FOR UPDATE OF t
),
changed AS (
    UPDATE cta SET detail = target.detail, trigger = target.trigger::jsonb,
                   priority = LEAST(cta.priority, target.priority),
                   version = cta.version + 1, updated_at = {}
    FROM target WHERE cta.id = target.id AND target.changes
    RETURNING cta.id
)
SELECT id, account, type, reason, status, snoozed_until, changes FROM target""".replace(
        "@signals", _SIGNALS
    ),
)
_RECORD_EVENTS = Statement(
    "-- PostgreSQL only",
    postgres="""
INSERT INTO cta_event (cta, at, actor, source, action, from_status, to_status, note, data)
SELECT e.cta, {}, e.actor, 'rule', e.action, e.from_status, e.to_status, e.note, e.data::jsonb
FROM unnest({}::int[], {}::text[], {}::text[], {}::text[], {}::text[], {}::text[], {}::text[])
    AS e(cta, actor, action, from_status, to_status, note, data)""",
)
# `enqueue_cta_message` for many CTAs: the routed channel (owner's channel, else the owner's
# direct messages, else the default channel), and the channel of the current message when it
# differs; nothing where a pending (or, with no channel, an unrouted) message is queued already
_ENQUEUE_MESSAGES = Statement(
    "-- PostgreSQL only",
    postgres="""
WITH t AS (
    SELECT t.id, t.version, t.slack_channel AS current,
           COALESCE(NULLIF(c.slack_channel, ''), NULLIF(c.slack_user_id, ''), {}) AS target
    FROM cta t LEFT JOIN csm c ON c.id = t.owner
    WHERE t.id = ANY({}::int[])
),
wanted AS (
    SELECT id, version, target AS channel FROM t
    UNION ALL
    SELECT id, version, current FROM t WHERE current IS NOT NULL AND current <> ''
        AND current IS DISTINCT FROM target
)
INSERT INTO outbox (key, kind, cta, channel, payload, status, attempts, next_attempt_at,
                    claimed_by, claimed_until, last_error, slack_ts, created_at, sent_at)
SELECT 'cta:' || w.id || ':v' || w.version || ':' || COALESCE(w.channel, '-'), 'cta', w.id,
       w.channel, jsonb_build_object(),
       CASE WHEN w.channel IS NULL THEN 'unrouted' ELSE 'pending' END, 0, {}, NULL, NULL,
       CASE WHEN w.channel IS NULL THEN {} ELSE '' END, NULL, {}, NULL
FROM wanted w
WHERE NOT EXISTS (
    SELECT 1 FROM outbox o
    WHERE o.cta = w.id AND CASE WHEN w.channel IS NULL THEN o.status = 'unrouted'
                                ELSE o.status = 'pending' AND o.channel = w.channel END
)
ON CONFLICT DO NOTHING""",
)
_UNROUTED_ERROR = "no Slack channel: owner has none and no default"


def _signal_arrays(groups: Sequence[Sequence[Signal]]) -> list[list[Any]]:
    """The arrays of `_SIGNALS`: per group its latest signal, at the most urgent priority."""
    latest = [group[-1] for group in groups]
    return [
        [s.account_id for s in latest],
        [s.type for s in latest],
        [s.reason[:300] for s in latest],
        [s.detail for s in latest],
        [min(e.priority for e in group) for group in groups],
        [s.due_on for s in latest],
        [_json_arg(s.trigger) for s in latest],
        [len(group) == 1 for group in groups],
    ]


async def raise_signal_groups(
    groups: Sequence[Sequence[Signal]], now: datetime | None = None
) -> None:
    """`raise_signal(group[-1], now, earlier=group[:-1])` for each group of signals for one
    CTA, in the caller's transaction; the groups sorted by (account, type, reason), each
    group's signals in the order they came. On PostgreSQL in four statements for them all."""
    now = now or utcnow()
    if is_sqlite():
        for group in groups:
            await raise_signal(group[-1], now, earlier=group[:-1])
        return
    default_owner = (await cta_rules()).get("default_owner")
    arrays = _signal_arrays(groups)
    index = {(s.account_id, s.type, s.reason[:300]): n for n, s in enumerate(g[-1] for g in groups)}
    events: list[tuple[int, Signal, str, str | None, str]] = []
    notify: list[int] = []
    placed: set[int] = set()
    for row in await _CREATE_CTAS.fetch(default_owner, now, now, *arrays):
        n = index[(row["account"], row["type"], row["reason"])]
        placed.add(n)
        first, *rest = groups[n]
        events.append((row["id"], first, "created", None, CtaStatus.open))
        events.extend((row["id"], each, "signal", CtaStatus.open, CtaStatus.open) for each in rest)
        notify.append(row["id"])
    remaining = [n for n in range(len(groups)) if n not in placed]
    if remaining:
        rest_arrays = [[column[n] for n in remaining] for column in arrays]
        for row in await _UPDATE_CTAS.fetch(*rest_arrays, now):
            n = index[(row["account"], row["type"], row["reason"])]
            placed.add(n)
            if not row["changes"]:
                continue  # the same signal again
            status = row["status"]
            events.extend((row["id"], each, "signal", status, status) for each in groups[n])
            snoozed_until = as_utc_datetime(row["snoozed_until"])
            if not (status == CtaStatus.snoozed and snoozed_until and snoozed_until > now):
                notify.append(row["id"])
    if events:
        await _RECORD_EVENTS.fetch(
            now,
            [cta for cta, *_ in events],
            [signal.actor[:200] for _, signal, *_ in events],
            [action for _, _, action, _, _ in events],
            [None if before is None else str(before) for *_, before, _ in events],
            [str(after) for *_, after in events],
            [signal.detail for _, signal, *_ in events],
            [_json_arg(signal.trigger) for _, signal, *_ in events],
        )
    if notify:
        from feedback.settings import get_settings

        default_channel = get_settings().slack.default_channel or None
        await _ENQUEUE_MESSAGES.fetch(default_channel, notify, now, _UNROUTED_ERROR, now)
        _notify_delivery()
    # closed between the statements, or an account that is gone: the one-by-one way
    for n in range(len(groups)):
        if n not in placed:
            await raise_signal(groups[n][-1], now, earlier=groups[n][:-1])


async def _record_signal(
    cta_id: int, signal: Signal, action: str, status: str | None, now: datetime
) -> None:
    to_status = status if action == "signal" else CtaStatus.open
    await _record(
        cta_id, signal.actor, "rule", action, status, to_status, now, signal.detail, signal.trigger
    )


async def _record(
    cta_id: int,
    actor: str,
    source: str,
    action: str,
    from_status: str | None,
    to_status: str | None,
    now: datetime,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    await _INSERT_EVENT.fetch(
        cta_id,
        now,
        actor[:200],
        source,
        action,
        None if from_status is None else str(from_status),
        None if to_status is None else str(to_status),
        note,
        _json_arg(data or {}),
    )


# -- routing and the outbox ------------------------------------------------------------------

_ROUTE_SQL = """
SELECT t.id, t.version, t.slack_channel, t.slack_ts,
       c.slack_channel AS owner_channel, c.slack_user_id AS owner_slack_user
FROM cta t LEFT JOIN csm c ON c.id = t.owner
WHERE t.id = {}
"""


_ROUTE = Statement(_ROUTE_SQL)
_PENDING_IN_CHANNEL = Statement(
    "SELECT id FROM outbox WHERE cta = {} AND status = 'pending' AND channel = {} LIMIT 1"
)
_UNROUTED = Statement("SELECT id FROM outbox WHERE cta = {} AND status = 'unrouted' LIMIT 1")


def route(owner_channel: str | None, owner_user: str | None) -> str | None:
    """Where a CTA goes: the owner's channel, else a direct message to the owner, else the
    default channel (None: nowhere; the outbox keeps it as unrouted for admins)."""
    from feedback.settings import get_settings

    return owner_channel or owner_user or get_settings().slack.default_channel


async def enqueue_cta_message(cta_id: int, now: datetime | None = None) -> None:
    """Queue a post or an update of the CTA's message: in the owner's channel, and in the
    channel of its current message when that differs (after a reassignment the old message
    shows the new owner). One pending row per CTA and channel is enough: the worker renders
    the CTA as it is when it sends."""
    now = now or utcnow()
    row = await _ROUTE.first(cta_id)
    if row is None:
        return
    target = route(row["owner_channel"], row["owner_slack_user"])
    channels = [target] + (
        [row["slack_channel"]] if row["slack_channel"] not in (None, target) else []
    )
    for channel in channels:
        if channel:
            pending = await _PENDING_IN_CHANNEL.first(cta_id, channel)
        else:  # one unrouted row per CTA shows admins what it would say
            pending = await _UNROUTED.first(cta_id)
        if pending is not None:
            continue
        await Outbox.insert(
            Outbox(
                key=f"cta:{cta_id}:v{row['version']}:{channel or '-'}",
                kind="cta",
                cta=cta_id,
                channel=channel,
                payload={},
                status=OutboxStatus.pending.value if channel else OutboxStatus.unrouted.value,
                next_attempt_at=now,
                created_at=now,
                last_error="" if channel else _UNROUTED_ERROR,
            )
        ).on_conflict(action="DO NOTHING")
    _notify_delivery()


_delivery_listeners: list[Any] = []


def on_enqueue(callback: Any) -> None:
    """The in-process deliverer registers here to wake up as soon as a message is queued."""
    _delivery_listeners.append(callback)


def _notify_delivery() -> None:
    for callback in _delivery_listeners:
        callback()


# -- changing CTAs (Slack buttons, web forms, API) ----------------------------------------------


@dataclass(frozen=True)
class Change:
    changed: bool
    cta: dict[str, Any]
    message: str


async def load_cta(cta_id: int) -> dict[str, Any] | None:
    rows = await Cta.raw(_CTA_SQL + " WHERE t.id = {}", cta_id)
    return _cta_out(rows[0]) if rows else None


_CTA_SQL = """
SELECT t.id, t.type, t.reason, t.detail, t.priority, t.account AS account_id,
       t.owner AS owner_id, t.due_on, t.status, t.snoozed_until, t.snooze_reason,
       t.close_reason, t.trigger, t.version, t.slack_channel, t.slack_ts,
       t.created_at, t.updated_at, t.closed_at,
       a.external_id AS account_external_id, a.name AS account_name, a.arr_cents,
       a.plan, a.renewal_date, a.csm AS account_csm,
       c.name AS owner_name, c.email AS owner_email, c.slack_user_id AS owner_slack_user,
       c.manager AS owner_manager, c.slack_channel AS owner_channel,
       (SELECT h.score FROM health_snapshot h WHERE h.account = t.account
        ORDER BY h.day DESC LIMIT 1) AS health_score,
       (SELECT h.band FROM health_snapshot h WHERE h.account = t.account
        ORDER BY h.day DESC LIMIT 1) AS health_band
FROM cta t
JOIN account a ON a.id = t.account
LEFT JOIN csm c ON c.id = t.owner
"""


def _cta_out(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out["trigger"], str):
        out["trigger"] = json.loads(out["trigger"] or "{}")
    for name in ("snoozed_until", "created_at", "updated_at", "closed_at"):
        out[name] = as_utc_datetime(out[name])
    if isinstance(out["due_on"], str):
        out["due_on"] = date.fromisoformat(out["due_on"])
    if isinstance(out["renewal_date"], str):
        out["renewal_date"] = date.fromisoformat(out["renewal_date"])
    out["priority_label"] = PRIORITIES.get(out["priority"], str(out["priority"]))
    score = out.pop("health_score")
    band = out.pop("health_band")
    out["health"] = None if score is None else f"{float(score):.0f} ({band})"
    return out


async def change_cta(
    cta_id: int,
    action: str,
    *,
    actor: str,
    source: str,
    snooze_days: int | None = None,
    reason: str = "",
    owner_id: int | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> Change:
    """Apply one action with compare-and-set on the status (and the version when given).
    A second click, a Slack retry or a stale page changes nothing and says why."""
    now = now or utcnow()
    if action not in ACTIONS:
        raise InputError("action", f"must be one of {', '.join(ACTIONS)}")
    values: dict[Any, Any] = {Cta.version: Cta.version + 1, Cta.updated_at: now}
    to_status: str | None
    note = reason.strip()
    if action == "acknowledge":
        to_status = CtaStatus.acknowledged
        values[Cta.snoozed_until] = None
    elif action == "snooze":
        if snooze_days is None or not 1 <= snooze_days <= 365:
            raise InputError("snooze_days", "1 to 365 days")
        to_status = CtaStatus.snoozed
        values[Cta.snoozed_until] = now + timedelta(days=snooze_days)
        values[Cta.snooze_reason] = note
        note = note or f"{snooze_days} days"
    elif action == "close":
        if not note:
            raise InputError("reason", "a close reason is required")
        to_status = CtaStatus.closed
        values[Cta.close_reason] = note[:2000]
        values[Cta.closed_at] = now
        values[Cta.snoozed_until] = None
    elif action == "reopen":
        to_status = CtaStatus.open
        values[Cta.snoozed_until] = None
    else:  # reassign
        if owner_id is None:
            raise InputError("owner", "the CSM to assign to")
        if not await CSM.exists().where((CSM.id == owner_id) & (CSM.active == True)):  # noqa: E712
            raise InputError("owner", f"no active CSM with id {owner_id}")
        to_status = None
        values[Cta.owner] = owner_id
    if to_status is not None:
        values[Cta.status] = str(to_status)
    async with write_transaction():
        before = await load_cta(cta_id)
        if before is None:
            raise InputError("cta", f"no CTA with id {cta_id}", status_code=404)
        condition = (Cta.id == cta_id) & Cta.status.is_in([str(s) for s in ALLOWED_FROM[action]])
        if expected_version is not None:
            condition &= Cta.version == expected_version
        if action == "reassign":
            condition &= Cta.owner != owner_id
        updated = await Cta.update(values).where(condition).returning(Cta.id)
        if not updated:
            return Change(False, before, _why_unchanged(before, action, expected_version))
        await _record(
            cta_id,
            actor,
            source,
            action,
            before["status"],
            str(to_status) if to_status else before["status"],
            now,
            note=note,
            data={"owner": owner_id} if owner_id else {},
        )
        await enqueue_cta_message(cta_id, now)
        after = await load_cta(cta_id)
    assert after is not None
    return Change(True, after, f"{action} done")


def _why_unchanged(cta: dict[str, Any], action: str, expected_version: int | None) -> str:
    if expected_version is not None and cta["version"] != expected_version:
        return "the CTA changed since this was shown; here is its current state"
    if action == "reassign":
        return "already assigned to that CSM"
    return f"nothing to do: the CTA is {cta['status']}"


async def wake_snoozed(now: datetime | None = None) -> int:
    """Worker job: snoozes that ended reopen their CTA (and its message shows it)."""
    now = now or utcnow()
    due = await Cta.select(Cta.id).where(
        (Cta.status == CtaStatus.snoozed.value) & (Cta.snoozed_until <= now)
    )
    woken = 0
    for row in due:
        change = await change_cta(row["id"], "reopen", actor="snooze ended", source="rule", now=now)
        woken += change.changed
    return woken


# -- who may see and act -------------------------------------------------------------------------


async def team_of(csm_id: int) -> set[int]:
    """The CSM and everyone who reports to them, directly or not."""
    rows = await CSM.select(CSM.id, CSM.manager)
    reports: dict[int | None, list[int]] = {}
    for row in rows:
        reports.setdefault(row["manager"], []).append(row["id"])
    team, todo = {csm_id}, [csm_id]
    while todo:
        for member in reports.get(todo.pop(), []):
            if member not in team:
                team.add(member)
                todo.append(member)
    return team


def visible_to(principal: Principal) -> tuple[str, list[Any]]:
    """SQL condition (on cta t and account a) for the CTAs a principal may see."""
    if principal.role is Role.csm:
        return "(t.owner = {} OR a.csm = {})", [principal.csm_id, principal.csm_id]
    return "1 = 1", []


async def list_ctas(
    principal: Principal,
    *,
    status: str | None = "active",
    owner_ids: set[int] | None = None,
    account_id: int | None = None,
    type_: str | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    condition, args = visible_to(principal)
    where = [condition]
    if status == "active":
        where.append("t.status <> 'closed'")
    elif status is not None:
        if status not in {s.value for s in CtaStatus}:
            raise InputError("status", "one of active, open, acknowledged, snoozed, closed")
        where.append("t.status = {}")
        args.append(status)
    if owner_ids is not None:
        if not owner_ids:
            return []
        where.append(f"t.owner IN ({', '.join('{}' for _ in owner_ids)})")
        args.extend(sorted(owner_ids))
    if account_id is not None:
        where.append("t.account = {}")
        args.append(account_id)
    if type_ is not None:
        where.append("t.type = {}")
        args.append(type_)
    sql = (
        _CTA_SQL + " WHERE " + " AND ".join(where) + " ORDER BY t.priority, t.due_on, t.id LIMIT {}"
    )
    rows = await Cta.raw(sql, *args, max(1, min(limit, 1000)))
    return [_cta_out(row) for row in rows]


async def cta_history(cta_id: int) -> list[dict[str, Any]]:
    rows = (
        await CtaEvent.select(
            CtaEvent.at,
            CtaEvent.actor,
            CtaEvent.source,
            CtaEvent.action,
            CtaEvent.from_status,
            CtaEvent.to_status,
            CtaEvent.note,
        )
        .where(CtaEvent.cta == cta_id)
        .order_by(CtaEvent.id)
    )
    for row in rows:
        row["at"] = as_utc_datetime(row["at"])
    return rows


async def get_visible_cta(principal: Principal, cta_id: int) -> dict[str, Any]:
    cta = await load_cta(cta_id)
    if cta is None or not (
        principal.role is not Role.csm or principal.csm_id in (cta["owner_id"], cta["account_csm"])
    ):
        raise InputError("cta", f"no CTA with id {cta_id}", status_code=404)
    return cta
