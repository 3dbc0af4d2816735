"""The rules that turn signals into CTAs. Admins switch each one off or tune it
(`PUT /api/v1/cta-rules`, the CTA rules page); defaults in rule_settings.DEFAULT_RULES.

Answer-driven rules run on a queue: the widget stores an answer and queues it in `rules_queue`
in one statement; the answer rule runner (in every `feedback serve` and `feedback worker`
process, woken at once by an answer taken in its own process, polling every second for the
others) raises the CTA, writes its outbox message and takes the answer off the queue in one
transaction. So no answer is lost or acted on twice, answers never wait on a CTA row that
another answer of the same account holds, and a burst of answers is absorbed in batches.
Time-driven rules run in the worker (`evaluate_rules`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import statistics
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from feedback.accounts.models import Account
from feedback.ctas import queries
from feedback.ctas.actions import change_cta
from feedback.ctas.history import json_text, record_event
from feedback.ctas.models import CtaStatus, RulesQueue
from feedback.ctas.rule_settings import cta_rules
from feedback.ctas.signals import Signal, raise_signal, raise_signal_groups
from feedback.db import as_utc_datetime, fetch, json_object, write_transaction
from feedback.db.errors import database_unavailable
from feedback.health.reads import ACCOUNTS_PER_QUERY, latest_day, latest_scores, scores_on
from feedback.kernel.clock import utcnow
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.nps import category
from feedback.outbox.enqueue import enqueue_cta_message
from feedback.responses.models import Response

log = logging.getLogger("feedback.ctas")

DETRACTOR_REASON = "Detractor answer"
ADVOCACY_REASON = "Promoter with a comment"
RENEWAL_REASON = "Renewal at risk"
DARK_REASON = "No answers and no activity"
HEALTH_REASON = "Health alert"


def detractor_priority(score: int, arr_cents: int | None, high_arr_cents: int) -> int:
    """1 (urgent) to 4 (low): a harsh score and a large account each make it more urgent."""
    priority = 3
    if score <= 3:
        priority -= 1
    if arr_cents is not None and arr_cents >= high_arr_cents:
        priority -= 1
    return max(1, priority)


# priorities 1-4 by name, as the due-by-priority settings name them
PRIORITY_NAMES = {1: "urgent", 2: "high", 3: "medium", 4: "low"}
# a renewal this close makes any time-driven CTA of the account one step more urgent
RENEWAL_SOON_DAYS = 60


def add_working_days(day: date, days: int) -> date:
    """The working day (Monday to Friday) `days` working days after `day` (1 after a Friday
    or a Sunday is the Monday); 0 is `day` itself when it is a working day, else the next."""
    while days <= 0 and day.weekday() >= 5:
        day += timedelta(days=1)
    while days > 0:
        day += timedelta(days=1)
        if day.weekday() < 5:
            days -= 1
    return day


def due_for(priority: int, rules: dict[str, Any], rule: dict[str, Any], now: datetime) -> date:
    """When a rule's CTA of this priority is due: by priority in working days (urgent the
    next working day, low in about three weeks), or the rule's own `due_days` when the
    due-by-priority setting is off."""
    spread = rules["due_by_priority"]
    if spread["enabled"]:
        name = PRIORITY_NAMES[min(4, max(1, priority))]
        return add_working_days(now.date(), spread[f"{name}_working_days"])
    return _due(now, rule["due_days"])


def account_priority(
    base: int,
    arr_cents: int | None,
    renewal: date | None,
    today: date,
    high_arr_cents: int,
) -> int:
    """1 (urgent) to 4 (low) for a time-driven CTA: the rule's `base`, one step more urgent
    for a large account (ARR at least the detractor rule's `high_arr_cents`) and for a
    renewal within RENEWAL_SOON_DAYS, one step less for an account that pays nothing."""
    priority = base
    if arr_cents is not None and arr_cents >= high_arr_cents:
        priority -= 1
    if renewal is not None and 0 <= (renewal - today).days <= RENEWAL_SOON_DAYS:
        priority -= 1
    if arr_cents == 0:
        priority += 1
    return min(4, max(1, priority))


def usual_gap_days(answered: list[datetime]) -> float | None:
    """How many days usually pass between an account's answers: the median gap between its
    answer days (answers on one day count once), None with fewer than two such days."""
    days = sorted({moment.date() for moment in answered})
    if len(days) < 2:
        return None
    return float(statistics.median((b - a).days for a, b in itertools.pairwise(days)))


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
        return value
    if isinstance(value, datetime):
        return value.date()
    return date.fromisoformat(str(value)[:10])


async def _account_facts(accounts: list[int]) -> dict[int, tuple[int | None, date | None]]:
    """(arr_cents, renewal_date) of these accounts."""
    facts: dict[int, tuple[int | None, date | None]] = {}
    ids = sorted(set(accounts))
    for start in range(0, len(ids), ACCOUNTS_PER_QUERY):
        chunk = ids[start : start + ACCOUNTS_PER_QUERY]
        rows = await Account.select(Account.id, Account.arr_cents, Account.renewal_date).where(
            Account.id.is_in(chunk)
        )
        for row in rows:
            facts[row["id"]] = (row["arr_cents"], _as_date(row["renewal_date"]))
    return facts


def _trigger(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "response",
        "response_id": row["id"],
        "score": row["score"],
        "comment": row["comment"] or "",
        "user": row["user_external_id"] or "",
        "role": row["role"] or "",
        "answered_at": as_utc_datetime(row["answered_at"]),
    }


def _due(now: datetime, days: int) -> date:
    return (now + timedelta(days=days)).date()


def signal_for(answer: dict[str, Any], rules: dict[str, Any], now: datetime) -> Signal | None:
    """What an answer calls for: a detractor a risk CTA, a promoter with a comment an
    advocacy CTA (each when its rule is on); anything else nothing."""
    score, comment = answer["score"], (answer["comment"] or "").strip()
    who = answer["user_external_id"] or "a user"
    if category(score) == "detractor" and rules["detractor_risk"]["enabled"]:
        rule = rules["detractor_risk"]
        priority = detractor_priority(score, answer["arr_cents"], rule["high_arr_cents"])
        return Signal(
            account_id=answer["account"],
            type="risk",
            reason=DETRACTOR_REASON,
            detail=f"{who} answered {score}" + (f": {comment}" if comment else ""),
            priority=priority,
            due_on=due_for(priority, rules, rule, now),
            trigger=_trigger(answer),
            actor="rule:detractor_risk",
        )
    if category(score) == "promoter" and comment and rules["promoter_advocacy"]["enabled"]:
        return Signal(
            account_id=answer["account"],
            type="advocacy",
            reason=ADVOCACY_REASON,
            detail=f"{who} answered {score}: {comment}",
            priority=4,
            due_on=due_for(4, rules, rules["promoter_advocacy"], now),
            trigger=_trigger(answer),
            actor="rule:promoter_advocacy",
        )
    return None


def acted_on(answer: dict[str, Any]) -> bool:
    """Whether the answer rules act on an answer: production answers only. An answer given
    on a staging or development key raises no CTA, posts nothing and replies under no card;
    it leaves the queue like any other (docs/environments.md)."""
    return (answer.get("environment") or PRODUCTION) == PRODUCTION


async def act_on_answers(answers: list[dict[str, Any]], now: datetime) -> None:
    """The CTAs of a batch of answers: answers for the same CTA (one account's detractors)
    update it once, each answer still in its history. An answer whose score changed since a
    rule raised a CTA for it first brings that CTA into line (`_follow_changed_scores`).
    Answers not from production are left out (`acted_on`)."""
    answers = [answer for answer in answers if acted_on(answer)]
    if not answers:
        return
    rules = await cta_rules()
    signals = {answer["id"]: signal_for(answer, rules, now) for answer in answers}
    settled = await _follow_changed_scores(answers, signals, rules, now)
    groups: dict[tuple[int, str, str], list[Signal]] = {}
    for answer in answers:
        signal = signals[answer["id"]]
        if signal is not None and answer["id"] not in settled:
            groups.setdefault((signal.account_id, signal.type, signal.reason), []).append(signal)
    # in one order (account, type, reason), so that two runners lock CTA rows alike and never
    # deadlock on each other (seen under load with the batch's arrival order)
    await raise_signal_groups([signals for _, signals in sorted(groups.items())], now)


# -- changed scores: the CTAs raised for an answer follow its last score -----------------------
#
# A user may correct a mis-tapped score while the follow-up is open, usually after the runner
# has acted on the first one. A CTA knows its answers from its history: each created or
# signal event of the rule holds the answer's trigger (`response_id`, `score`), and a
# `score_changed` event marked `withdrawn` says the answer no longer calls for it. Only open
# CTAs are brought into line: once someone acknowledged, snoozed or closed one, it is theirs.

# the CTAs the answer rules raise: (type, reason) -> the rule's actor
ANSWER_RULE_CTAS = {
    ("risk", DETRACTOR_REASON): "rule:detractor_risk",
    ("advocacy", ADVOCACY_REASON): "rule:promoter_advocacy",
}


@dataclass
class _RuleCta:
    """A CTA not closed that an answer rule raised, as its history tells it."""

    id: int
    type: str
    reason: str
    status: str
    version: int
    detail: str
    priority: int
    trigger: dict[str, Any]
    actor: str
    # answer id -> (the score the CTA knows it by, the place of its latest event)
    carried: dict[int, tuple[int, int]]


class CtaMoved(RuntimeError):
    """A CTA changed between the rules reading it and changing it: the batch is tried again
    one answer at a time, and reads it afresh."""


async def _answer_rule_ctas(accounts: list[int]) -> list[_RuleCta]:
    """The CTAs not closed that the answer rules raised for these accounts."""
    rows = []
    for start in range(0, len(accounts), ACCOUNTS_PER_QUERY):
        chunk = accounts[start : start + ACCOUNTS_PER_QUERY]
        rows += await fetch(queries.rule_cta_events_sql(len(chunk)), *chunk)
    found: dict[int, _RuleCta | None] = {}
    for place, row in enumerate(rows):
        if row["cta"] not in found:  # its first event says who raised it
            actor = ANSWER_RULE_CTAS.get((row["type"], row["reason"]))
            found[row["cta"]] = (
                None
                if actor is None or row["action"] != "created" or row["actor"] != actor
                else _RuleCta(
                    row["cta"],
                    row["type"],
                    row["reason"],
                    row["status"],
                    row["version"],
                    row["detail"],
                    row["priority"],
                    json_object(row["trigger"]),
                    actor,
                    {},
                )
            )
        cta = found[row["cta"]]
        data = json_object(row["data"])
        if cta is None or data.get("kind") != "response" or "response_id" not in data:
            continue
        if data.get("withdrawn"):
            cta.carried.pop(data["response_id"], None)
        else:
            cta.carried[data["response_id"]] = (data["score"], place)
    return [cta for cta in found.values() if cta is not None]


async def _follow_changed_scores(
    answers: list[dict[str, Any]],
    signals: dict[int, Signal | None],
    rules: dict[str, Any],
    now: datetime,
) -> set[int]:
    """Bring the open CTAs raised for these answers into line with their scores now. A CTA
    an answer no longer calls for is closed when it is the CTA's only answer, else the
    answer leaves it (detail and priority from the answers that remain); a CTA the answer
    still calls for shows its last score. Returns the answers settled here, which raise
    nothing more: those that updated their CTA, and those whose CTA someone acted on."""
    again = [answer for answer in answers if _queued_again(answer)]
    if not again:  # first answers only, the usual batch: no CTA carries them yet
        return set()
    ctas = await _answer_rule_ctas(sorted({answer["account"] for answer in again}))
    settled: set[int] = set()
    for answer in again:
        for cta in ctas:
            known = cta.carried.get(answer["id"])
            if cta.status == CtaStatus.closed or known is None or known[0] == answer["score"]:
                continue  # not this answer's CTA, or not a changed score (a comment, say)
            if not rules[cta.actor.removeprefix("rule:")]["enabled"]:
                continue  # its rule is off: the rule has nothing to say about the new score
            signal = signals[answer["id"]]
            same = signal is not None and (signal.type, signal.reason) == (cta.type, cta.reason)
            if cta.status != CtaStatus.open:
                if same:
                    settled.add(answer["id"])  # someone acted on it: left as they left it
                continue
            who = answer["user_external_id"] or "a user"
            note = f"{who} changed their score from {known[0]} to {answer['score']}"
            if signal is not None and same:
                await _rescore(cta, answer, signal, note, rules, now)
                settled.add(answer["id"])
            elif len(cta.carried) == 1:
                change = await change_cta(
                    cta.id,
                    "close",
                    actor=cta.actor,
                    source="rule",
                    reason=note,
                    expected_version=cta.version,
                    now=now,
                )
                if not change.changed:
                    raise CtaMoved(f"CTA {cta.id} changed while the rules read it")
                cta.status = CtaStatus.closed
            else:
                await _withdraw(cta, answer, note, rules, now)
    return settled


def _queued_again(answer: dict[str, Any]) -> bool:
    """Whether the answer waits for the rules again (a comment, a changed score, a retry):
    a first answer waits from the moment it was given."""
    due, answered_at = as_utc_datetime(answer.get("due")), as_utc_datetime(answer["answered_at"])
    return due is None or answered_at is None or due > answered_at


async def _remaining_signals(
    cta: _RuleCta, leaving: int, rules: dict[str, Any], now: datetime
) -> list[Signal]:
    """What the CTA's other answers call for now, oldest event first (an answer changed
    since and waiting for the rules in turn is left out: its turn will say)."""
    others = {answer: place for answer, (_, place) in cta.carried.items() if answer != leaving}
    ids = sorted(others)
    rows = []
    for start in range(0, len(ids), ACCOUNTS_PER_QUERY):
        chunk = ids[start : start + ACCOUNTS_PER_QUERY]
        rows += await fetch(queries.answers_by_id_sql(len(chunk)), *chunk)
    placed = []
    for row in rows:
        signal = signal_for(row, rules, now)
        if signal is not None and (signal.type, signal.reason) == (cta.type, cta.reason):
            placed.append((others[row["id"]], signal))
    return [signal for _, signal in sorted(placed, key=lambda each: each[0])]


async def _set_cta(
    cta: _RuleCta, detail: str, trigger: dict[str, Any], priority: int, now: datetime
) -> None:
    done = await queries.SET_FROM_ANSWERS.first(
        detail, json_text(trigger), priority, now, cta.id, cta.version
    )
    if done is None:
        raise CtaMoved(f"CTA {cta.id} changed while the rules read it")
    cta.version += 1
    cta.detail, cta.trigger, cta.priority = detail, trigger, priority


async def _rescore(
    cta: _RuleCta,
    answer: dict[str, Any],
    signal: Signal,
    note: str,
    rules: dict[str, Any],
    now: datetime,
) -> None:
    """The answer still calls for its CTA: the CTA shows its last score, at the most urgent
    priority of the answers it carries."""
    remaining = await _remaining_signals(cta, answer["id"], rules, now)
    priority = min([signal.priority, *(each.priority for each in remaining)])
    await _set_cta(cta, signal.detail, signal.trigger, priority, now)
    was = cta.carried[answer["id"]][0]
    cta.carried[answer["id"]] = (answer["score"], max(p for _, p in cta.carried.values()) + 1)
    data = {**signal.trigger, "from_score": was}
    await record_event(
        cta.id, cta.actor, "rule", "score_changed", CtaStatus.open, CtaStatus.open, now, note, data
    )
    await enqueue_cta_message(cta.id, now)


async def _withdraw(
    cta: _RuleCta, answer: dict[str, Any], note: str, rules: dict[str, Any], now: datetime
) -> None:
    """The answer no longer calls for its CTA, which carries others: it stays open, showing
    the latest of the others at the most urgent of their priorities."""
    remaining = await _remaining_signals(cta, answer["id"], rules, now)
    if remaining:
        latest = remaining[-1]
        priority = min(each.priority for each in remaining)
        await _set_cta(cta, latest.detail, latest.trigger, priority, now)
    else:  # the others changed too and wait for their turn: keep what it shows
        await _set_cta(cta, cta.detail, cta.trigger, cta.priority, now)
    was = cta.carried.pop(answer["id"])[0]
    others = len(cta.carried)
    note += "; 1 other answer keeps" if others == 1 else f"; {others} other answers keep"
    note += " this CTA open"
    data = {
        "kind": "response",
        "response_id": answer["id"],
        "score": answer["score"],
        "from_score": was,
        "withdrawn": True,
    }
    await record_event(
        cta.id, cta.actor, "rule", "score_changed", CtaStatus.open, CtaStatus.open, now, note, data
    )
    await enqueue_cta_message(cta.id, now)


# -- the answer rule runner --------------------------------------------------------------------

ANSWER_BATCH = 200
ANSWER_POLL_SECONDS = 1.0
# after a wake-up, wait this long so that answers arriving together are handled in one batch
ANSWER_GATHER_SECONDS = 0.05
# an answer whose rules failed on their own is tried again this much later (and logged)
ANSWER_RETRY = timedelta(minutes=10)

_wakers: set[asyncio.Event] = set()


def notify_answer_rules() -> None:
    """An answer was queued for the rules in this process: wake this process's runner now."""
    for wake in _wakers:
        wake.set()


async def apply_answer_rules(limit: int = ANSWER_BATCH, now: datetime | None = None) -> int:
    """Run the CTA rules on up to `limit` answers waiting for them, in one transaction that
    also clears their mark. Returns how many answers it handled."""
    now = now or utcnow()
    if await queries.ANY_ANSWER_DUE.first(now) is None:  # a plain read: no write lock while idle
        return 0
    try:
        async with write_transaction():
            answers = await queries.ANSWERS_DUE.fetch(now, limit)
            await act_on_answers(answers, now)
            await _clear([answer["id"] for answer in answers])
        return len(answers)
    except Exception as exc:
        if database_unavailable(exc):
            raise  # nothing to try one at a time: the runner tries again at its next poll
        log.exception("CTA rules failed on a batch of answers; trying them one at a time")
    return await _one_at_a_time(limit, now)


async def _clear(ids: list[int], until: datetime | None = None) -> None:
    """Take these answers off the queue, or (`until`) leave them there until then."""
    if not ids:
        return
    if until is None:
        await RulesQueue.delete().where(RulesQueue.response.is_in(ids))
    else:
        await RulesQueue.update({RulesQueue.due: until}).where(RulesQueue.response.is_in(ids))


async def _one_at_a_time(limit: int, now: datetime) -> int:
    """After a failed batch: each answer in its own transaction, so one answer whose rules
    fail (logged, retried later) does not hold back the others."""
    handled = 0
    for _ in range(limit):
        response_id = None
        try:
            async with write_transaction():
                due = await queries.ANSWERS_DUE.fetch(now, 1)
                if not due:
                    break
                response_id = due[0]["id"]
                await act_on_answers(due, now)
                await _clear([response_id])
            handled += 1
        except Exception as exc:
            if response_id is None or database_unavailable(exc):
                raise  # not this answer's fault: the runner tries again at its next poll
            log.exception("CTA rules failed on answer %s; retrying it later", response_id)
            async with write_transaction():
                await _clear([response_id], until=now + ANSWER_RETRY)
    return handled


async def queue_answers_for_rules(since: datetime, after_response: int = 0) -> int:
    """Queue for the answer rules the answers given since `since` that the rules act on (a
    production detractor's score, a production promoter's comment), as if they had come
    through the widget: for answers that arrived another way, e.g. the demo's. Only answers
    with an id above `after_response` (those added since); each is queued at its own time,
    once."""
    rows = await Response.select(
        Response.id, Response.score, Response.comment, Response.answered_at
    ).where(
        Response.id > after_response,
        Response.answered_at >= since,
        Response.environment == PRODUCTION,
    )
    wanted = [
        row
        for row in rows
        if category(row["score"]) == "detractor"
        or (category(row["score"]) == "promoter" and (row["comment"] or "").strip())
    ]
    for start in range(0, len(wanted), ACCOUNTS_PER_QUERY):
        chunk = wanted[start : start + ACCOUNTS_PER_QUERY]
        await RulesQueue.insert(
            *(RulesQueue(response=row["id"], due=row["answered_at"]) for row in chunk)
        ).on_conflict(action="DO NOTHING")
    return len(wanted)


async def answers_awaiting_rules() -> tuple[int, datetime | None]:
    """How many answers wait for the rules, and since when (for /metrics)."""
    row = await queries.ANSWERS_AWAITING.first()
    if row is None:
        return 0, None
    return int(row["n"]), as_utc_datetime(row["oldest"])


async def drain_answer_rules() -> int:
    """Every answer waiting now (`feedback worker --once`, tests)."""
    total = 0
    while (done := await apply_answer_rules()) > 0:
        total += done
    return total


async def run_answer_rules(stop: asyncio.Event) -> None:
    """The runner loop of a serve or worker process, until `stop` is set."""
    wake = asyncio.Event()
    _wakers.add(wake)
    try:
        while not stop.is_set():
            try:
                done = await apply_answer_rules()
            except Exception:  # the database is away: try again at the next poll
                log.exception("the answer rule runner failed; retrying")
                done = 0
            if done >= ANSWER_BATCH:
                continue
            wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), ANSWER_POLL_SECONDS)
            if wake.is_set():
                await asyncio.sleep(ANSWER_GATHER_SECONDS)
    finally:
        _wakers.discard(wake)


# -- time-driven rules (worker) -----------------------------------------------------------------


async def _health_alert_candidates(day: date, drop_points: float) -> list[dict[str, Any]]:
    """Live accounts whose health on `day` is in the red band or at least `drop_points` below
    their health 7 days before, in account order: account, score, band, week_ago (None
    without a snapshot then), arr_cents."""
    today = {a: s for a, s in (await scores_on(day)).items() if s.score is not None}
    if not today:
        return []
    week_ago = await scores_on(day - timedelta(days=7), list(today))
    falling = [
        account
        for account, now_ in today.items()
        if now_.band == "red"
        or (
            (before := week_ago.get(account)) is not None
            and before.score is not None
            and before.score - (now_.score or 0.0) >= drop_points
        )
    ]
    live: dict[int, int | None] = {}
    for start in range(0, len(falling), ACCOUNTS_PER_QUERY):
        chunk = sorted(falling)[start : start + ACCOUNTS_PER_QUERY]
        for row in await fetch(queries.live_accounts_sql(len(chunk)), *chunk):
            live[row["id"]] = row["arr_cents"]
    return [
        {
            "account": account,
            "score": today[account].score,
            "band": today[account].band,
            "week_ago": None if account not in week_ago else week_ago[account].score,
            "arr_cents": live[account],
        }
        for account in sorted(live)
    ]


async def _health_alerts(now: datetime, rules: dict[str, Any]) -> int:
    """Health in the red band, or N points lower than 7 days before: a health alert, high
    for red and medium for a drop, moved by ARR and a near renewal (`account_priority`)."""
    rule, high_arr_cents = rules["health_alert"], rules["detractor_risk"]["high_arr_cents"]
    day = await latest_day()
    if day is None:
        return 0
    candidates = await _health_alert_candidates(day, rule["drop_points"])
    facts = await _account_facts([row["account"] for row in candidates])
    raised = 0
    for row in candidates:
        score = float(row["score"])
        parts = []
        if row["band"] == "red":
            parts.append(f"health {score:.0f} is in the red band")
        if row["week_ago"] is not None and float(row["week_ago"]) - score >= rule["drop_points"]:
            parts.append(f"down {float(row['week_ago']) - score:.0f} points in 7 days")
        _, renewal = facts.get(row["account"], (None, None))
        priority = account_priority(
            2 if row["band"] == "red" else 3,
            row["arr_cents"],
            renewal,
            now.date(),
            high_arr_cents,
        )
        async with write_transaction():
            _, what = await raise_signal(
                Signal(
                    account_id=row["account"],
                    type="health_alert",
                    reason=HEALTH_REASON,
                    detail=f"On {day.isoformat()}: " + " and ".join(parts),
                    priority=priority,
                    due_on=due_for(priority, rules, rule, now),
                    trigger={
                        "kind": "health",
                        "day": day,
                        "score": round(score),
                        "band": row["band"],
                        "week_ago": row["week_ago"],
                    },
                    actor="rule:health_alert",
                ),
                now,
            )
        raised += what == "created"
    return raised


def renewal_priority(days_left: int, arr_cents: int | None, high_arr_cents: int) -> int:
    """1 (urgent) to 4 (low) for a renewal at risk: urgent within 30 days, high within 60,
    medium beyond; one step more urgent for a large account, one less for a free one."""
    priority = 1 if days_left <= 30 else 2 if days_left <= 60 else 3
    if arr_cents is not None and arr_cents >= high_arr_cents:
        priority -= 1
    if arr_cents == 0:
        priority += 1
    return min(4, max(1, priority))


async def _renewals_at_risk(now: datetime, rules: dict[str, Any]) -> int:
    """A renewal within N days while the account's NPS over the last year (production
    answers) is negative or its latest health is in the red band: a renewal CTA."""
    rule, high_arr_cents = rules["renewal_risk"], rules["detractor_risk"]["high_arr_cents"]
    today = now.date()
    horizon = today + timedelta(days=rule["days_before_renewal"])
    renewing = await queries.RENEWING_ACCOUNTS.fetch(now - timedelta(days=365), today, horizon)
    health = await latest_scores([row["id"] for row in renewing]) if renewing else {}
    facts = await _account_facts([row["id"] for row in renewing]) if renewing else {}
    raised = 0
    for row in renewing:
        nps = None
        if row["responses"]:
            nps = 100 * (row["promoters"] - row["detractors"]) / row["responses"]
            nps = nps if nps < 0 else None
        latest = health.get(row["id"])
        red = latest is not None and latest.band == "red" and latest.score is not None
        if nps is None and not red:
            continue
        renewal = row["renewal_date"]
        renewal = date.fromisoformat(renewal) if isinstance(renewal, str) else renewal
        why = []
        if nps is not None:
            why.append(f"NPS {nps:.0f} over the last year ({row['responses']} answers)")
        if red:
            assert latest is not None and latest.score is not None
            why.append(f"health {latest.score:.0f} in the red band")
        arr_cents, _ = facts.get(row["id"], (None, None))
        priority = renewal_priority((renewal - today).days, arr_cents, high_arr_cents)
        async with write_transaction():
            _, what = await raise_signal(
                Signal(
                    account_id=row["id"],
                    type="renewal",
                    reason=RENEWAL_REASON,
                    detail=f"Renews on {renewal.isoformat()} with " + " and ".join(why),
                    priority=priority,
                    due_on=min(due_for(priority, rules, rule, now), renewal),
                    trigger={
                        "kind": "renewal",
                        "renewal_date": renewal,
                        "nps": None if nps is None else round(nps),
                    },
                    actor="rule:renewal_risk",
                ),
                now,
            )
        raised += what == "created"
    return raised


async def _answer_times(accounts: list[int], since: datetime) -> dict[int, list[datetime]]:
    """When each of these accounts' production answers since `since` came."""
    times: dict[int, list[datetime]] = {account: [] for account in accounts}
    for start in range(0, len(accounts), ACCOUNTS_PER_QUERY):
        chunk = accounts[start : start + ACCOUNTS_PER_QUERY]
        rows = await Response.select(Response.account, Response.answered_at).where(
            Response.account.is_in(chunk),
            Response.answered_at >= since,
            Response.environment == PRODUCTION,
        )
        for row in rows:
            moment = as_utc_datetime(row["answered_at"])
            if moment is not None:
                times[row["account"]].append(moment)
    return times


def dark_threshold_days(days: int, multiple: int, usual_gap: float | None) -> float:
    """How long an account may be silent before it counts as going dark: the rule's `days`,
    or `multiple` times its usual gap between answers when that is longer."""
    if usual_gap is None:
        return float(days)
    return max(float(days), multiple * usual_gap)


async def _going_dark(now: datetime, rules: dict[str, Any]) -> int:
    """No production answers and no product activity for N days, and for longer than twice
    the account's usual gap between answers: a going-dark CTA. An account never heard from
    (no answer, no user seen) has no activity to lose and raises nothing."""
    rule, high_arr_cents = rules["going_dark"], rules["detractor_risk"]["high_arr_cents"]
    cutoff = now - timedelta(days=rule["days"])
    silent: dict[int, datetime] = {}
    for row in await queries.ACCOUNT_ACTIVITY.fetch():
        moments = [as_utc_datetime(row[k]) for k in ("last_answer", "last_seen")]
        latest = max((m for m in moments if m is not None), default=None)
        if latest is not None and latest < cutoff:
            silent[row["id"]] = latest
    if not silent:
        return 0
    accounts = sorted(silent)
    history = await _answer_times(accounts, now - timedelta(days=365))
    facts = await _account_facts(accounts)
    raised = 0
    for account in accounts:
        latest = silent[account]
        gap = usual_gap_days(history[account])
        quiet_days = (now - latest).total_seconds() / 86400
        if quiet_days < dark_threshold_days(rule["days"], rule["usual_gap_multiple"], gap):
            continue
        arr_cents, renewal = facts.get(account, (None, None))
        priority = account_priority(3, arr_cents, renewal, now.date(), high_arr_cents)
        usually = "" if gap is None else f"; usually an answer every {gap:.0f} days"
        async with write_transaction():
            _, what = await raise_signal(
                Signal(
                    account_id=account,
                    type="going_dark",
                    reason=DARK_REASON,
                    detail=f"No answers and no product activity since {latest.date()}" + usually,
                    priority=priority,
                    due_on=due_for(priority, rules, rule, now),
                    trigger={"kind": "going_dark", "last_activity": latest, "usual_gap": gap},
                    actor="rule:going_dark",
                ),
                now,
            )
        raised += what == "created"
    return raised


async def evaluate_rules(now: datetime | None = None) -> int:
    """Worker job: health-alert, renewal-risk and going-dark CTAs. Idempotent: an open CTA
    for the same account, type and reason is updated, never duplicated; snoozed ones stay
    quiet."""
    now = now or utcnow()
    rules = await cta_rules()
    raised = 0
    if rules["health_alert"]["enabled"]:
        raised += await _health_alerts(now, rules)
    if rules["renewal_risk"]["enabled"]:
        raised += await _renewals_at_risk(now, rules)
    if rules["going_dark"]["enabled"]:
        raised += await _going_dark(now, rules)
    return raised
