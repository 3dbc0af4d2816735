"""Every SQL statement of the outbox: routing and queueing a CTA's message (one at a time,
and for many CTAs at once on PostgreSQL), claiming with a lease, per-channel pacing, the
sent/retry/dead bookkeeping, the digests' reads, and the summary for admins and /metrics.

Statements use Piccolo's `{}` placeholders. Indexes: `outbox_key` (unique), `outbox_cta`,
`outbox_due` (status, next_attempt_at), `outbox_channel_due` (channel, status, id),
`slack_channel_pace_channel` (unique), `account_csm`, `response_account_answered_at`.
"""

from __future__ import annotations

from feedback.db import Statement
from feedback.kernel.nps import is_detractor_sql

# ------------------------------------------------------------------- routing and queueing

# Where a CTA's message goes and where it is: id, version, slack_channel and slack_ts (its
# current message), owner_channel and owner_slack_user (its owner's channel and Slack user),
# pool_channel (the channel of the pool serving it) (primary keys of cta, csm and pool).
ROUTE = Statement("""
SELECT t.id, t.version, t.slack_channel, t.slack_ts,
       c.slack_channel AS owner_channel, c.slack_user_id AS owner_slack_user,
       p.slack_channel AS pool_channel
FROM cta t LEFT JOIN csm c ON c.id = t.owner LEFT JOIN pool p ON p.id = t.pool
WHERE t.id = {}""")

# `id` of a pending card message of a CTA in a channel, if any (outbox_cta).
PENDING_IN_CHANNEL = Statement("""
SELECT id FROM outbox
WHERE cta = {} AND kind = 'cta' AND status = 'pending' AND channel = {} LIMIT 1""")

# `id` of an unrouted card message of a CTA, if any (outbox_cta).
UNROUTED_OF_CTA = Statement(
    "SELECT id FROM outbox WHERE cta = {} AND kind = 'cta' AND status = 'unrouted' LIMIT 1"
)

# `channel` (as routed) of the card whose message is `ts`, the CTA's main card (outbox_cta).
# Parameters: cta, ts.
CARD_OF_TS = Statement("""
SELECT channel FROM outbox
WHERE cta = {} AND kind = 'cta' AND slack_ts = {} AND channel IS NOT NULL
ORDER BY id DESC LIMIT 1""")

# Nothing; a CTA's message, unless its key is queued already (outbox_key). Parameters: key,
# cta, channel, payload (JSON text), status, next_attempt_at, last_error, created_at.
INSERT_CTA_MESSAGE = Statement("""
INSERT INTO outbox (key, kind, cta, channel, payload, status, attempts, next_attempt_at,
                    claimed_by, claimed_until, last_error, slack_ts, created_at, sent_at)
VALUES ({}, 'cta', {}, {}, {}, {}, 0, {}, NULL, NULL, {}, NULL, {}, NULL)
ON CONFLICT DO NOTHING""")

# PostgreSQL only: nothing; `enqueue_cta_message` for many CTAs: the routed channel (the
# owner's channel, else the owner's direct messages, else the default channel), and every
# channel where the CTA has a card (a sent message) besides; nothing where a pending (or,
# with no channel, an unrouted) message is queued already (outbox_cta). Parameters: the
# default channel, the CTAs' ids (an array), next_attempt_at, the unrouted error,
# created_at.
ENQUEUE_CTA_MESSAGES = Statement(
    "-- PostgreSQL only",
    postgres="""
WITH t AS (
    SELECT t.id, t.version,
           COALESCE(NULLIF(p.slack_channel, ''), NULLIF(c.slack_channel, ''),
                    NULLIF(c.slack_user_id, ''), {}) AS target
    FROM cta t LEFT JOIN csm c ON c.id = t.owner LEFT JOIN pool p ON p.id = t.pool
    WHERE t.id = ANY({}::int[])
),
wanted AS (
    SELECT id, version, target AS channel FROM t
    UNION
    SELECT t.id, t.version, o.channel FROM t JOIN outbox o ON o.cta = t.id
    WHERE o.kind = 'cta' AND o.slack_ts IS NOT NULL AND o.channel IS NOT NULL
      AND o.channel IS DISTINCT FROM t.target
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
    WHERE o.cta = w.id AND o.kind = 'cta' AND CASE WHEN w.channel IS NULL THEN o.status = 'unrouted'
                                ELSE o.status = 'pending' AND o.channel = w.channel END
)
ON CONFLICT DO NOTHING""",
)

# Nothing; a message whose text is stored with it (kind "notice", or "thread": a reply under
# a CTA's card), unless its key is queued already (outbox_key). Parameters: key, kind, cta,
# channel, payload (JSON text), status, next_attempt_at, last_error, created_at.
INSERT_MESSAGE = Statement("""
INSERT INTO outbox (key, kind, cta, channel, payload, status, attempts, next_attempt_at,
                    claimed_by, claimed_until, last_error, slack_ts, created_at, sent_at)
VALUES ({}, {}, {}, {}, {}, {}, 0, {}, NULL, NULL, {}, NULL, {}, NULL)
ON CONFLICT DO NOTHING""")

# The channels (as routed: a channel, or a user for a direct message) where a CTA has a
# card, i.e. a message it sent: channel (outbox_cta).
CARD_CHANNELS = Statement("""
SELECT DISTINCT channel FROM outbox
WHERE cta = {} AND kind = 'cta' AND slack_ts IS NOT NULL AND channel IS NOT NULL""")

# ------------------------------------------------------------------------------ delivery

# A message is ready when it is pending and due, or claimed by a worker whose lease ran out,
# and no other message of its CTA is being sent to its channel under a live lease: the CTA's
# next version waits for the first post, whose `ts` it must update (two workers sending both
# versions at once would post it twice). One parameter: now.
_NOT_SENDING_ITS_CTA = """
  AND NOT EXISTS (SELECT 1 FROM outbox s
                  WHERE s.cta = o.cta AND s.channel = o.channel AND s.id <> o.id
                    AND s.status = 'sending' AND s.claimed_until >= {})"""
# ... and a reply under a CTA's card (kind "thread") waits until no card message of its CTA
# waits in its channel: the card is posted (or shows the change) first, then the reply.
_CARD_SENT = """
  AND (o.kind <> 'thread' OR NOT EXISTS (SELECT 1 FROM outbox c
       WHERE c.cta = o.cta AND c.channel = o.channel AND c.kind = 'cta'
         AND c.status IN ('pending', 'sending')))"""

# The channels with a message ready, oldest first: channel, first_id (outbox_due).
# Parameters: now three times, the limit.
READY_CHANNELS = Statement(
    f"""
SELECT o.channel, MIN(o.id) AS first_id FROM outbox o
WHERE o.channel IS NOT NULL
  AND ((o.status = 'pending' AND o.next_attempt_at <= {{}})
       OR (o.status = 'sending' AND o.claimed_until < {{}})){_NOT_SENDING_ITS_CTA}{_CARD_SENT}
GROUP BY o.channel ORDER BY first_id LIMIT {{}}"""  # noqa: S608 (constants)
)

# `channel` when this worker took the channel's slot (free since `now`), moving it to the
# next one; no row when another worker sent there less than an interval ago
# (slack_channel_pace_channel). Parameters: channel, the next slot, now.
TAKE_SLOT = Statement("""
INSERT INTO slack_channel_pace (channel, next_send_at) VALUES ({}, {})
ON CONFLICT (channel) DO UPDATE SET next_send_at = excluded.next_send_at
WHERE slack_channel_pace.next_send_at <= {}
RETURNING channel""")

_CLAIM = f"""
UPDATE outbox SET status = 'sending', claimed_by = {{}}, claimed_until = {{}},
                  attempts = attempts + 1
WHERE id = (SELECT o.id FROM outbox o WHERE o.channel = {{}}
              AND ((o.status = 'pending' AND o.next_attempt_at <= {{}})
                   OR (o.status = 'sending' AND o.claimed_until < {{}})){_NOT_SENDING_ITS_CTA}
              {_CARD_SENT}
            ORDER BY o.id LIMIT 1 @lock)
RETURNING id, kind, cta, channel, payload, attempts, failing_since"""  # noqa: S608 (constants)
# The oldest ready message of a channel, claimed with a lease: id, kind, cta, channel,
# payload, attempts, failing_since (outbox_channel_due). On PostgreSQL locked with SKIP
# LOCKED, so two workers never claim the same row. Parameters: the worker, the lease's end,
# channel, now three times.
CLAIM = Statement(
    _CLAIM.replace("@lock", ""), postgres=_CLAIM.replace("@lock", "FOR UPDATE SKIP LOCKED")
)

# Nothing; a channel's next slot an interval after a send began, unless it is later already
# (slack_channel_pace_channel). Parameters: the slot, channel, the slot.
PACE_AFTER_SEND = Statement(
    "UPDATE slack_channel_pace SET next_send_at = {} WHERE channel = {} AND next_send_at < {}"
)

# Nothing; a channel held until a moment (a rate limit, for every worker)
# (slack_channel_pace_channel). Parameters: the moment, channel.
HOLD_CHANNEL = Statement("UPDATE slack_channel_pace SET next_send_at = {} WHERE channel = {}")

# Nothing; a message this worker claimed is sent (primary key). Parameters: sent_at,
# slack_ts, slack_channel (the conversation it is in), id, the worker.
MARK_SENT = Statement("""
UPDATE outbox SET status = 'sent', sent_at = {}, slack_ts = {}, slack_channel = {},
                  claimed_until = NULL, last_error = '', failing_since = NULL
WHERE id = {} AND claimed_by = {}""")

# Nothing; a message this worker claimed waits for its next attempt, failing since its
# first failure (primary key). Parameters: next_attempt_at, last_error, now, id, the worker.
RETRY_LATER = Statement("""
UPDATE outbox SET status = 'pending', next_attempt_at = {}, claimed_until = NULL,
                  last_error = {}, failing_since = COALESCE(failing_since, {})
WHERE id = {} AND claimed_by = {}""")

# Nothing; as RETRY_LATER, and the attempt does not count (a rate limit is not a failure).
RETRY_LATER_UNCOUNTED = Statement("""
UPDATE outbox SET status = 'pending', next_attempt_at = {}, claimed_until = NULL,
                  last_error = {}, failing_since = COALESCE(failing_since, {}),
                  attempts = attempts - 1
WHERE id = {} AND claimed_by = {}""")

# Nothing; a message this worker claimed is dead, with its error for admins (primary key).
# Parameters: last_error, id, the worker.
MARK_DEAD = Statement("""
UPDATE outbox SET status = 'dead', claimed_until = NULL, last_error = {}
WHERE id = {} AND claimed_by = {}""")

# The CTA's card in a channel (as routed), if any: slack_ts and slack_channel, the
# conversation it is in (rows sent before that was recorded: the routed channel), and
# payload, what its last message showed (`shown`) (outbox_cta). Parameters: cta, channel.
CARD = Statement("""
SELECT slack_ts, COALESCE(slack_channel, channel) AS slack_channel, payload FROM outbox
WHERE cta = {} AND channel = {} AND kind = 'cta' AND slack_ts IS NOT NULL
ORDER BY id DESC LIMIT 1""")

# `id` of a card message of a CTA waiting in a channel (pending or being sent), if any
# (outbox_cta). Parameters: cta, channel.
CARD_WAITING = Statement("""
SELECT id FROM outbox
WHERE cta = {} AND channel = {} AND kind = 'cta' AND status IN ('pending', 'sending')
LIMIT 1""")

# Nothing; what a card message showed when it was sent (its payload, JSON text), for the
# next one to compare (primary key). Parameters: payload, id.
SET_SHOWN = Statement("UPDATE outbox SET payload = {} WHERE id = {}")

# `due`: when the next message (or its channel's slot, or a lease) is due; NULL when
# nothing waits (outbox_due).
NEXT_DUE = Statement(
    f"""
SELECT MIN(CASE WHEN o.status = 'sending' THEN o.claimed_until
                WHEN p.next_send_at IS NOT NULL AND p.next_send_at > o.next_attempt_at
                THEN p.next_send_at ELSE o.next_attempt_at END) AS due
FROM outbox o LEFT JOIN slack_channel_pace p ON p.channel = o.channel
WHERE o.status IN ('pending', 'sending') AND o.channel IS NOT NULL{_CARD_SENT}"""  # noqa: S608
)

# ------------------------------------------------------------------------ what messages show

# The person who answered, by their id in the product: email, traits (a name, when the
# product sends one) (end_user external_id, unique).
RESPONDENT = Statement("SELECT email, traits FROM end_user WHERE external_id = {}")


# CSMs named in a reply: id, name, email, slack_user_id (primary key); the ids are appended.
def csms_sql(count: int) -> str:
    marks = ", ".join("{}" for _ in range(count))
    return f"SELECT id, name, email, slack_user_id FROM csm WHERE id IN ({marks})"  # noqa: S608


# A CSM by email (an actor as recorded): name, slack_user_id (csm_email, unique).
CSM_BY_EMAIL = Statement("SELECT name, slack_user_id FROM csm WHERE email = {}")

# ------------------------------------------------------------------------------- digests

# A CSM's accounts: id, name (account_csm).
ACCOUNTS_OF_CSM = Statement("SELECT id, name FROM account WHERE csm = {} ORDER BY id")

# A CSM's detractors' production answers in a period, newest first, at most 15:
# account_name, score, comment (account_csm, response_account_answered_at). Parameters: the
# CSM, the period's start, its end.
RECENT_DETRACTORS = Statement(
    f"""
SELECT a.name AS account_name, r.score, r.comment
FROM response r JOIN account a ON a.id = r.account
WHERE a.csm = {{}} AND {is_detractor_sql("r.score")} AND r.environment = 'production'
  AND r.answered_at >= {{}} AND r.answered_at < {{}}
ORDER BY r.answered_at DESC LIMIT 15"""  # noqa: S608 - feedback.kernel.nps's fragment
)

# ---------------------------------------------------------------------------------- admin

# The backlog: waiting (pending or being sent), oldest (the first one's created_at),
# retrying (those whose sends are failing) (outbox_due).
BACKLOG = Statement("""
SELECT COUNT(*) AS waiting, MIN(created_at) AS oldest, COUNT(failing_since) AS retrying
FROM outbox WHERE status IN ('pending', 'sending')""")

# Per status: status, n (messages), oldest (the first one's created_at); a scan of the
# outbox.
SUMMARY = Statement(
    "SELECT status, COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox GROUP BY status"
)
