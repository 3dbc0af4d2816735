"""Every SQL statement of mail: queueing (suppression, throttle, the row), claiming with a
lease, the sent/retry/dead bookkeeping, and the outbox page's reads.

Statements use Piccolo's `{}` placeholders. Indexes: `mail_outbox_key` (unique),
`mail_outbox_to_address`, `mail_outbox_due` (status, next_attempt_at),
`mail_suppression_address` (unique).
"""

from __future__ import annotations

from feedback.db import Statement

# ------------------------------------------------------------------------------ queueing

# `reason` of an address's suppression, if any (mail_suppression_address).
SUPPRESSION_OF = Statement("SELECT reason FROM mail_suppression WHERE address = {}")

# The suppressed addresses among some: address, reason (mail_suppression_address). Parameter:
# the addresses, lower-case (a JSON array on SQLite, a list on PostgreSQL).
SUPPRESSED_AMONG = Statement(
    "SELECT address, reason FROM mail_suppression"
    " WHERE address IN (SELECT value FROM json_each({}))",
    postgres="SELECT address, reason FROM mail_suppression WHERE address = ANY({}::text[])",
)

# Nothing; the address suppressed unless it is already (mail_suppression_address).
# Parameters: address, reason, source, created_at.
SUPPRESS = Statement("""
INSERT INTO mail_suppression (address, reason, source, created_at) VALUES ({}, {}, {}, {})
ON CONFLICT (address) DO NOTHING
RETURNING id""")

# Nothing; an address no longer suppressed (mail_suppression_address).
UNSUPPRESS = Statement("DELETE FROM mail_suppression WHERE address = {} RETURNING id")

# PostgreSQL only: nothing; this transaction holds the address's lock until it ends, so two
# transactions queueing mail to one address check the throttle one after the other.
LOCK_ADDRESS = Statement(
    "-- PostgreSQL only", postgres="SELECT pg_advisory_xact_lock(hashtext({}))"
)

# The program mails to an address queued or sent since a moment: created_at, sent_at
# (mail_outbox_to_address). Parameters: address, the moment twice.
RECENT_PROGRAM_MAILS = Statement("""
SELECT created_at, sent_at FROM mail_outbox
WHERE to_address = {} AND kind = 'program' AND status IN ('pending', 'sending', 'sent')
  AND (created_at > {} OR sent_at > {})""")

# `id` of the mail queued with a key, if any (mail_outbox_key).
MAIL_WITH_KEY = Statement("SELECT id FROM mail_outbox WHERE key = {}")

# `id` of the mail queued, or no row when its key was queued already (mail_outbox_key).
# Parameters: key, kind, to_address, to_name, from_name, reply_to, subject, text, html,
# locale, end_user, program_id, participant_id, message_id, next_attempt_at, created_at.
INSERT_MAIL = Statement("""
INSERT INTO mail_outbox (key, kind, to_address, to_name, from_name, reply_to, subject, text,
                         html, locale, end_user, program_id, participant_id, message_id,
                         status, attempts, next_attempt_at, claimed_by, claimed_until,
                         last_error, failing_since, created_at, sent_at)
VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, 'pending', 0, {}, NULL, NULL,
        '', NULL, {}, NULL)
ON CONFLICT (key) DO NOTHING
RETURNING id""")

# ------------------------------------------------------------------------------ delivery

_CLAIM = """
UPDATE mail_outbox SET status = 'sending', claimed_by = {}, claimed_until = {},
                       attempts = attempts + 1
WHERE id IN (SELECT id FROM mail_outbox
             WHERE (status = 'pending' AND next_attempt_at <= {})
                OR (status = 'sending' AND claimed_until < {})
             ORDER BY next_attempt_at, id LIMIT {} @lock)
RETURNING id, key, kind, to_address, to_name, from_name, reply_to, subject, text, html,
          locale, message_id, attempts, failing_since"""
# Up to a batch of due mails (pending and due, or claimed by a worker whose lease ran out),
# claimed by this worker with a lease: the mails' fields (mail_outbox_due). On PostgreSQL
# locked with SKIP LOCKED, so two workers never claim the same row; on SQLite the write
# transaction holds the database's lock. Parameters: the worker, the lease's end, now twice,
# the batch's size.
CLAIM = Statement(
    _CLAIM.replace("@lock", ""), postgres=_CLAIM.replace("@lock", "FOR UPDATE SKIP LOCKED")
)

# Nothing; a mail this worker claimed is sent (primary key). Parameters: sent_at, id, worker.
# Run for a group of sends at once (run_many in one write transaction).
MARK_SENT = Statement("""
UPDATE mail_outbox SET status = 'sent', sent_at = {}, claimed_until = NULL, last_error = '',
                       failing_since = NULL
WHERE id = {} AND claimed_by = {} AND status = 'sending'""")

# Nothing; a mail this worker claimed waits for its next attempt, failing since its first
# failure (primary key). Parameters: next_attempt_at, last_error, now, id, the worker.
MARK_RETRY = Statement("""
UPDATE mail_outbox SET status = 'pending', next_attempt_at = {}, last_error = {},
                       claimed_until = NULL, failing_since = COALESCE(failing_since, {})
WHERE id = {} AND claimed_by = {} AND status = 'sending'""")

# Nothing; a mail this worker claimed is dead (primary key). Parameters: last_error, id,
# the worker.
MARK_DEAD = Statement("""
UPDATE mail_outbox SET status = 'dead', last_error = {}, claimed_until = NULL
WHERE id = {} AND claimed_by = {} AND status = 'sending'""")

# Nothing; this worker gives its claimed mails back untried (it is stopping, or SMTP is not
# configured in this process) (primary key). Parameters: id, the worker.
RELEASE = Statement("""
UPDATE mail_outbox SET status = 'pending', claimed_until = NULL, attempts = attempts - 1
WHERE id = {} AND claimed_by = {} AND status = 'sending'""")

# `id` of a dead mail made pending again, due now (primary key). Parameters: now, id.
RETRY_DEAD = Statement("""
UPDATE mail_outbox SET status = 'pending', next_attempt_at = {}, failing_since = NULL,
                       last_error = '', attempts = 0
WHERE id = {} AND status = 'dead'
RETURNING id""")

# ------------------------------------------------------------------------------ outbox page

# The count of mails in each status: status, n (mail_outbox_due).
COUNTS = Statement("SELECT status, COUNT(*) AS n FROM mail_outbox GROUP BY status")

_LIST_COLUMNS = """id, key, kind, to_address, to_name, from_name, subject, program_id,
                   status, attempts, next_attempt_at, last_error, created_at, sent_at"""

# The mails of some statuses, newest first: the list's columns (mail_outbox_due).
# Parameters: the statuses (two, repeat one for a single status), limit, offset.
MAILS_IN = Statement(
    f"""
SELECT {_LIST_COLUMNS} FROM mail_outbox WHERE status IN ({{}}, {{}})
ORDER BY id DESC LIMIT {{}} OFFSET {{}}"""  # noqa: S608 (constants)
)

# One mail with everything (primary key).
MAIL = Statement("SELECT * FROM mail_outbox WHERE id = {}")

# The suppression list, newest first: address, reason, source, created_at.
SUPPRESSIONS = Statement("""
SELECT address, reason, source, created_at FROM mail_suppression
ORDER BY created_at DESC, id DESC LIMIT {} OFFSET {}""")

# The number of suppressed addresses: n.
SUPPRESSION_COUNT = Statement("SELECT COUNT(*) AS n FROM mail_suppression")
