"""Answer intake from the widget: scores, comments, dismissals, and expiry of displays
nobody answered."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import msgspec

from feedback.ctas.rules import notify_answer_rules
from feedback.db import GroupCommit, Row, is_sqlite, write_transaction
from feedback.db.batches import MAX_ROW_BATCH, batch_length, padded
from feedback.db.errors import database_unavailable
from feedback.kernel.clock import utcnow
from feedback.kernel.errors import InputError
from feedback.kernel.nps import Category, category
from feedback.observability import ANSWER_BATCH_SIZE
from feedback.responses import queries
from feedback.responses.queries import RULES_ACT_ON_SCORE
from feedback.surveys.keys import KeyInfo
from feedback.surveys.schedules import localised, survey_texts


def _unknown_token() -> InputError:
    return InputError("display_token", "unknown display token")


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
    now = now or utcnow()
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
    else:
        answer = await SCORES.submit(Score(idempotency_key, token, key.id, score, now))
    created = answer is not None
    if answer is None:  # a retry, a second answer to the display, or an unknown token
        answer = await queries.DISPLAY.first(token, key.id)
        if answer is None:
            raise _unknown_token()
        earlier = await queries.EARLIER_ANSWER.first(answer["id"], idempotency_key)
        if earlier is None:
            raise _unknown_token()
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


async def record_comment(
    key: KeyInfo, token: str, comment: str, now: datetime | None = None
) -> None:
    now = now or utcnow()
    if is_sqlite():
        async with write_transaction():
            updated = await queries.COMMENT.first(comment.strip() or None, now, token, key.id)
            if updated is not None and category(updated["score"]) != "passive":
                await queries.QUEUE.fetch(updated["id"], now)
    else:
        updated = await queries.COMMENT.first(comment.strip() or None, now, token, key.id, now)
    if updated is None:
        if await queries.DISPLAY.first(token, key.id) is None:
            raise _unknown_token()
        raise InputError("display_token", "send the score before the comment")
    if category(updated["score"]) != "passive":
        notify_answer_rules()


async def dismiss(key: KeyInfo, token: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if await queries.DISMISS.first(now, token, key.id) is not None:
        return True
    if await queries.DISPLAY.first(token, key.id) is None:
        raise _unknown_token()
    return False  # answered, expired or dismissed already


async def expire_displays() -> int:
    """Worker job: displays nobody answered or dismissed become expired."""
    return len(await queries.EXPIRE.fetch(utcnow()))
