"""Every SQL statement of answer intake: a score (one statement that also marks its display
answered and queues a detractor for the CTA rules), a comment, a dismissal, expiry.

These statements join the display an answer is given to and the account and user it
snapshots: one statement per answer is what keeps intake fast, so they read the surveys and
accounts domains' tables directly (the one place that does)."""

from __future__ import annotations

from feedback.db import Statement
from feedback.db.batches import ROW_BATCHES
from feedback.kernel.nps import DETRACTOR_MAX, is_promoter_sql

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
ANSWER_SQLITE = Statement("""
INSERT INTO response (idempotency_key, source, environment, end_user, account, score,
                      answered_at, locale, role, display, survey, plan, industry, company_size,
                      employee_count, csm, arr_cents, traits, created_at)
SELECT {}, 'widget', d.environment, d.end_user, d.account, {}, {}, d.locale, u.role, d.id,
       d.survey,
       a.plan, a.industry, a.company_size, a.employee_count, a.csm, a.arr_cents,
       json_patch(COALESCE(a.traits, json_object()), COALESCE(u.traits, json_object())),
       {}
FROM display d
JOIN account a ON a.id = d.account
LEFT JOIN end_user u ON u.id = d.end_user
WHERE d.token = {} AND d.widget_key = {}
ON CONFLICT DO NOTHING
RETURNING id, display, survey, locale, environment""")
_ANSWER_INPUT = "i(idempotency_key, token, widget_key, score, answered_at)"
_ANSWER_ROW = "({}::text, {}::text, {}::int, {}::int, {}::timestamptz)"
# an answer the rules act on at once: a detractor; a promoter only once there is a comment
RULES_ACT_ON_SCORE = DETRACTOR_MAX
# The webhooks' `response.created` for each new answer, in the answer's statement (see
# feedback.webhooks.events: written only while some endpoint is switched on, so with no
# webhooks an answer pays one existence check on a table of a few rows, planned once per
# statement). SQLite records it with `record_event` in the answer's transaction.
_TOLD_CREATED = """
    INSERT INTO webhook_event (type, object_id, environment, occurred_at)
    SELECT 'response.created', CAST(id AS text), environment, answered_at FROM answer
    WHERE EXISTS (SELECT 1 FROM webhook_endpoint WHERE active)"""
_ANSWERS = f"""
answer AS (
    INSERT INTO response (idempotency_key, source, environment, end_user, account, score,
                          answered_at, locale, role, display, survey, plan, industry,
                          company_size, employee_count, csm, arr_cents, traits, created_at)
    SELECT i.idempotency_key, 'widget', d.environment, d.end_user, d.account, i.score,
           i.answered_at, d.locale, d.role, d.id, d.survey, d.plan, d.industry, d.company_size,
           d.employee_count, d.csm, d.arr_cents, d.traits, i.answered_at
    FROM input i
    CROSS JOIN LATERAL (
        SELECT d.id, d.end_user, d.account, d.locale, d.survey, d.environment, u.role, a.plan,
               a.industry,
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
    RETURNING id, display, survey, locale, idempotency_key, answered_at, score, environment
),
marked AS (
    UPDATE display SET status = 'answered', answered_at = answer.answered_at
    FROM answer WHERE display.id = answer.display
),
queued AS (
    INSERT INTO rules_queue (response, due)
    SELECT id, answered_at FROM answer WHERE score <= {RULES_ACT_ON_SCORE}
),
told AS ({_TOLD_CREATED})
SELECT id, display, survey, locale, idempotency_key FROM answer"""  # noqa: S608 (constants)


def _answers_from(source: str) -> Statement:
    """The answer statement reading its input rows from `source` (constants only)."""
    return Statement(f"WITH input AS (SELECT * FROM {source} AS {_ANSWER_INPUT}),{_ANSWERS}")  # noqa: S608


ANSWERS_AS_ARRAYS = _answers_from(
    "unnest({}::text[], {}::text[], {}::int[], {}::int[], {}::timestamptz[])"
)
ANSWERS_AS_ROWS = {
    rows: _answers_from(f"(VALUES {', '.join([_ANSWER_ROW] * rows)})") for rows in ROW_BATCHES
}
MARK_ANSWERED = Statement("UPDATE display SET status = 'answered', answered_at = {} WHERE id = {}")
# the display of a token (unique index display(token))
DISPLAY = Statement("SELECT id, survey, locale FROM display WHERE token = {} AND widget_key = {}")
# the answer a score that created nothing collides with: the display's own (unique index
# response_display_unique) before another display's with the same client id
EARLIER_ANSWER = Statement("""
SELECT id, score, display, idempotency_key FROM response
WHERE display = {} OR idempotency_key = {}
ORDER BY CASE WHEN display = {} THEN 0 ELSE 1 END
LIMIT 1""")
# what a follow-up (a comment, a dismissal, a changed score) is refused for: when the display
# was shown, its answer and when that answer was first commented (unique index display(token))
FOLLOW_UP_STATE = Statement("""
SELECT d.id, d.shown_at, r.id AS response, r.commented_at
FROM display d
LEFT JOIN response r ON r.display = d.id
WHERE d.token = {} AND d.widget_key = {}""")
# SQLite: an answer (or its comment) waits for the rules; a comment moves a waiting one up
QUEUE = Statement("""
INSERT INTO rules_queue (response, due) VALUES ({}, {})
ON CONFLICT (response) DO UPDATE SET due = excluded.due""")
# A comment, taken while the display is recent (shown at or after the first time given) and
# the answer has no comment yet or got its first one at or after the second time given:
# `commented_at` keeps the first comment's time, so an edit never extends its own window.
# A comment of a detractor or a promoter (again) waits for the rules; a passive's does not.
_COMMENT_SQL = """
UPDATE response SET comment = {}, commented_at = COALESCE(commented_at, {})
WHERE display = (SELECT id FROM display WHERE token = {} AND widget_key = {} AND shown_at >= {})
  AND (commented_at IS NULL OR commented_at >= {})
RETURNING id, score, environment, comment IS NOT NULL AS has_comment"""
_COMMENT_QUEUED = f"""
INSERT INTO rules_queue (response, due)
SELECT id, {{}} FROM commented WHERE score <= {RULES_ACT_ON_SCORE} OR {is_promoter_sql()}
ON CONFLICT (response) DO UPDATE SET due = excluded.due"""  # noqa: S608 (constants)
# the webhooks' `response.commented` (a first comment or an edit, not one emptied), at the
# time given
_COMMENT_TOLD = """
INSERT INTO webhook_event (type, object_id, environment, occurred_at)
SELECT 'response.commented', CAST(id AS text), environment, {} FROM commented
WHERE has_comment AND EXISTS (SELECT 1 FROM webhook_endpoint WHERE active)"""
COMMENT = Statement(
    _COMMENT_SQL,
    # PostgreSQL: the comment, its place in the queue and its webhook event in one statement
    postgres=f"WITH commented AS ({_COMMENT_SQL}), queued AS ({_COMMENT_QUEUED}), "  # noqa: S608
    f"told AS ({_COMMENT_TOLD}) SELECT id, score FROM commented",
)
# The same client changing its score (a mis-tap corrected while the follow-up is open): the
# last score stands, and the answer waits for the rules again whatever its new score, so
# they read the final one and bring a CTA raised for the earlier score into line (close it
# for a 0 changed to 10). Returns id, score, comment of the changed answer (none: the score
# was the same).
_CHANGE_SQL = """
UPDATE response SET score = {}
WHERE id = {} AND score <> {}
RETURNING id, score, comment"""
_CHANGE_QUEUED = """
INSERT INTO rules_queue (response, due)
SELECT id, {} FROM changed
ON CONFLICT (response) DO UPDATE SET due = excluded.due"""
CHANGE_SCORE = Statement(
    _CHANGE_SQL,
    postgres=f"WITH changed AS ({_CHANGE_SQL}), queued AS ({_CHANGE_QUEUED}) "  # noqa: S608
    "SELECT id, score, comment FROM changed",
)
# a dismissal while the display is shown and recent (shown at or after the time given)
DISMISS = Statement("""
UPDATE display SET status = 'dismissed', dismissed_at = {}
WHERE token = {} AND widget_key = {} AND status = 'shown' AND shown_at >= {}
RETURNING id""")


# displays nobody answered or dismissed, once their time is up
EXPIRE = Statement("""
UPDATE display SET status = 'expired'
WHERE status = 'shown' AND expires_at < {}
RETURNING id""")
