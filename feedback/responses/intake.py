"""Answer intake from the widget: scores, comments, dismissals, and expiry of displays
nobody answered.

A display token is good for follow-ups (a comment, a dismissal, the same client changing its
score) for `widget_followup_hours` after the display; a comment is taken once and may be
replaced for `widget_comment_edit_minutes` after it was first sent. Later, the widget is told
no (a 409 naming the field), which it takes as the end of that call.

A new answer records the webhooks' `response.created` and a comment (or its edit)
`response.commented`, with the environment of the answer's key, in the statement (PostgreSQL)
or transaction (SQLite) that writes it (feedback.webhooks.events)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

import msgspec

from feedback.ctas.rules import notify_answer_rules
from feedback.db import GroupCommit, Row, as_utc_datetime, is_sqlite, write_transaction
from feedback.db.batches import MAX_ROW_BATCH, batch_length, padded
from feedback.db.errors import database_unavailable
from feedback.kernel.clock import Clock, utcnow
from feedback.kernel.errors import Conflict, DomainError, InputError
from feedback.kernel.nps import Category, category
from feedback.observability import ANSWER_BATCH_SIZE
from feedback.responses import queries
from feedback.responses.queries import RULES_ACT_ON_SCORE
from feedback.settings import get_settings
from feedback.surveys.keys import KeyInfo
from feedback.surveys.schedules import localised, survey_texts
from feedback.webhooks.events import record_event
from feedback.webhooks.models import EventType

# what "now" is for intake when a caller gives none (tests move it)
clock: Clock = utcnow


def _unknown_token() -> InputError:
    return InputError("display_token", "unknown display token")


def _counted(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _followup_since(now: datetime) -> datetime:
    """The earliest display a follow-up is still taken for."""
    return now - timedelta(hours=get_settings().widget_followup_hours)


def _comment_edits_since(now: datetime) -> datetime:
    """The earliest first comment that may still be replaced."""
    return now - timedelta(minutes=get_settings().widget_comment_edit_minutes)


def _too_late(what: str) -> DomainError:
    hours = _counted(get_settings().widget_followup_hours, "hour")
    return Conflict.for_field(
        "display_token",
        f"this survey was shown more than {hours} ago; {what} for {hours} after it is shown",
    )


async def _open_display(key: KeyInfo, token: str, now: datetime, what: str) -> Row:
    """The display's follow-up state, refused when the token is unknown or too old."""
    state = await queries.FOLLOW_UP_STATE.first(token, key.id)
    if state is None:
        raise _unknown_token()
    shown_at = as_utc_datetime(state["shown_at"])
    if shown_at is None or shown_at < _followup_since(now):
        raise _too_late(what)
    return state


class Score(NamedTuple):
    """One answer for the batch statement, its fields in the order of the statement's input."""

    idempotency_key: str
    token: str
    widget_key: int
    score: int
    now: datetime


async def insert_scores(scores: list[Score]) -> list[Row | Exception | None]:
    """One statement for the batch; the answer row of each score it created (None: not
    created, a retry or an unknown token). Should the batch fail for a reason other than
    the database being away (a deadlock between two batches answering the same two displays
    in opposite orders, say), each score is written by itself, so no score fails another."""
    ANSWER_BATCH_SIZE.observe(len(scores))
    try:
        if len(scores) <= MAX_ROW_BATCH:
            length = batch_length(len(scores))
            rows = await queries.ANSWERS_AS_ROWS[length].fetch(*padded(scores, length))
        else:
            rows = await queries.ANSWERS_AS_ARRAYS.fetch(*map(list, zip(*scores, strict=True)))
    except Exception as exc:
        if database_unavailable(exc) or len(scores) == 1:
            raise
        return [await _insert_alone(s) for s in scores]
    created = {row["idempotency_key"]: row for row in rows}
    # a retry in the same batch as its first try: only the first one is "created"
    return [created.pop(s.idempotency_key, None) for s in scores]


async def _insert_alone(score: Score) -> Row | Exception | None:
    try:
        return (await insert_scores([score]))[0]
    except Exception as exc:
        return exc


# after a batch of several, wait up to half a millisecond for its callers' next answers (the
# event loop's timers round it up to a millisecond): a lone answer never waits
SCORES: GroupCommit[Score, Row | None] = GroupCommit(insert_scores, linger=0.0005)


class FollowUp(msgspec.Struct, frozen=True):
    """What the widget shows after a score (the answer's JSON body, in this order)."""

    category: Category
    follow_up: str
    thanks: str
    promoter_link_url: str | None  # for a promoter: where to leave a review


async def record_score(
    key: KeyInfo, token: str, client_id: str, score: int, now: datetime | None = None
) -> tuple[bool, FollowUp]:
    """Store the score (idempotent by client id and by display); (created, follow-up).

    An answer after a dismissal (another tab) or after expiry is still an answer."""
    now = now or clock()
    idempotency_key = f"widget:{client_id}"
    rules_due = score <= RULES_ACT_ON_SCORE
    if is_sqlite():
        async with write_transaction():
            answer = await queries.ANSWER_SQLITE.first(
                idempotency_key, score, now, now, token, key.id
            )
            if answer is not None:
                await queries.MARK_ANSWERED.fetch(now, answer["display"])
                if rules_due:
                    await queries.QUEUE.fetch(answer["id"], now)
                await record_event(
                    EventType.response_created, answer["id"], answer["environment"], now
                )
    else:
        answer = await SCORES.submit(Score(idempotency_key, token, key.id, score, now))
    created = answer is not None
    if answer is None:  # a retry, a changed score, a second answer, or an unknown token
        answer = await queries.DISPLAY.first(token, key.id)
        if answer is None:
            raise _unknown_token()
        earlier = await queries.EARLIER_ANSWER.first(answer["id"], idempotency_key, answer["id"])
        if earlier is None:
            raise _unknown_token()
        if (
            earlier["display"] == answer["id"]
            and earlier["idempotency_key"] == idempotency_key
            and earlier["score"] != score
        ):
            await _change_score(key, token, earlier["id"], score, now)
        else:  # the answer that stands: a retry's, or another client's
            score = earlier["score"]
    elif rules_due:
        notify_answer_rules()
    survey = await survey_texts(answer["survey"])
    _, texts = localised(survey, answer["locale"])
    kind = category(score)
    return created, FollowUp(
        kind,
        texts["follow_up"][kind],
        texts["thanks"][kind],
        survey.promoter_link_url if kind == "promoter" else None,
    )


async def _change_score(key: KeyInfo, token: str, answer: int, score: int, now: datetime) -> None:
    """The client that answered changes its score while the follow-up is open: the last
    score stands and the CTA rules read it (the answer waits for them again, whatever its
    score: a CTA raised for the earlier one follows the change)."""
    await _open_display(key, token, now, "the score can be changed")
    if is_sqlite():
        async with write_transaction():
            changed = await queries.CHANGE_SCORE.first(score, answer, score)
            if changed is not None:
                await queries.QUEUE.fetch(changed["id"], now)
    else:
        changed = await queries.CHANGE_SCORE.first(score, answer, score, now)
    if changed is not None:
        notify_answer_rules()


async def record_comment(
    key: KeyInfo, token: str, comment: str, now: datetime | None = None
) -> None:
    """The comment on the display's answer: the first one within the follow-up window, a
    replacement within minutes of the first; otherwise refused and the stored one kept."""
    now = now or clock()
    text = comment.strip() or None
    shown_since, edits_since = _followup_since(now), _comment_edits_since(now)
    if is_sqlite():
        async with write_transaction():
            updated = await queries.COMMENT.first(
                text, now, token, key.id, shown_since, edits_since
            )
            if updated is not None and category(updated["score"]) != "passive":
                await queries.QUEUE.fetch(updated["id"], now)
            if updated is not None and updated["has_comment"]:
                await record_event(
                    EventType.response_commented, updated["id"], updated["environment"], now
                )
    else:
        updated = await queries.COMMENT.first(
            text, now, token, key.id, shown_since, edits_since, now, now
        )
    if updated is None:
        state = await _open_display(key, token, now, "comments are taken")
        if state["response"] is None or state["commented_at"] is None:
            raise InputError("display_token", "send the score before the comment")
        minutes = _counted(get_settings().widget_comment_edit_minutes, "minute")
        raise Conflict.for_field(
            "comment",
            f"a comment was already sent for this answer; it can be changed for {minutes} "
            "after it is first sent",
        )
    if category(updated["score"]) != "passive":
        notify_answer_rules()


async def dismiss(key: KeyInfo, token: str, now: datetime | None = None) -> bool:
    """True when the display was shown and is now dismissed; False when it was answered,
    expired or dismissed already; refused once the follow-up window is over."""
    now = now or clock()
    if await queries.DISMISS.first(now, token, key.id, _followup_since(now)) is not None:
        return True
    await _open_display(key, token, now, "dismissals are taken")
    return False


async def expire_displays() -> int:
    """Worker job: displays nobody answered or dismissed become expired."""
    return len(await queries.EXPIRE.fetch(clock()))
