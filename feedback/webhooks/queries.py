"""Every SQL statement of webhook delivery: recording events, dispatching them to the
endpoints, claiming deliveries with a lease, the delivered/retry/dead bookkeeping, switching
a failing endpoint off, and sending a delivery again.

Statements use Piccolo's `{}` placeholders. Indexes: `webhook_event_dispatched_at`,
`webhook_delivery_slot` (unique), `webhook_delivery_endpoint`,
`webhook_delivery_next_attempt_at`.
"""

from __future__ import annotations

from feedback.db import Statement

# ------------------------------------------------------------------------------ events

# Nothing; an event, written only while some endpoint is switched on: with no webhooks
# registered a change pays one existence check. Parameters: type, object_id, environment,
# occurred_at.
RECORD_EVENT = Statement("""
INSERT INTO webhook_event (type, object_id, environment, occurred_at)
SELECT {}, {}, {}, {}
WHERE EXISTS (SELECT 1 FROM webhook_endpoint WHERE active)
RETURNING id""")
# whether any endpoint is switched on (a writer of many events asks once)
ANY_ACTIVE_ENDPOINT = Statement("SELECT 1 AS active FROM webhook_endpoint WHERE active LIMIT 1")

# ------------------------------------------------------------------------------ dispatch

# The oldest events not dispatched yet: id, type, object_id, environment, occurred_at, data
# (webhook_event_dispatched_at). Parameter: how many.
UNDISPATCHED = Statement("""
SELECT id, type, object_id, environment, occurred_at, data FROM webhook_event
WHERE dispatched_at IS NULL ORDER BY id LIMIT {}""")

# `id` of an event whose payload is now frozen (rendered by this dispatcher, or by another
# one first: the first rendering wins) and which is marked dispatched, or no row when
# another dispatcher marked it first (primary key). Parameters: data (JSON text), now, id.
FREEZE_EVENT = Statement("""
UPDATE webhook_event SET data = COALESCE(data, {}), dispatched_at = {}
WHERE id = {} AND dispatched_at IS NULL
RETURNING id""")

_FAN_OUT = """
INSERT INTO webhook_delivery (slot, endpoint, event, status, attempts, next_attempt_at,
                              claimed_by, claimed_until, last_status, last_error,
                              failing_since, created_at, delivered_at)
SELECT CAST(e.id AS TEXT) || ':' || CAST({} AS TEXT), e.id, {}, 'pending', 0, {}, NULL, NULL,
       NULL, '', NULL, {}, NULL
FROM webhook_endpoint e
WHERE e.active AND e.environment = {} AND @takes
ON CONFLICT (slot) DO NOTHING"""
# Nothing; one pending delivery of an event to each switched-on endpoint of its environment
# that takes its type, none twice (webhook_delivery_slot). Parameters: the event's id twice,
# next_attempt_at, created_at, the environment, the type.
FAN_OUT = Statement(
    _FAN_OUT.replace("@takes", "EXISTS (SELECT 1 FROM json_each(e.events) WHERE value = {})"),
    postgres=_FAN_OUT.replace("@takes", "e.events @> jsonb_build_array({}::text)"),
)

# ------------------------------------------------------------------------------ delivery

_CLAIM = """
UPDATE webhook_delivery SET status = 'sending', claimed_by = {}, claimed_until = {},
                            attempts = attempts + 1
WHERE id IN (SELECT id FROM webhook_delivery
             WHERE (status = 'pending' AND next_attempt_at <= {})
                OR (status = 'sending' AND claimed_until < {})
             ORDER BY next_attempt_at, id LIMIT {} @lock)
RETURNING id"""
# `id` of each of up to a batch of due deliveries (pending and due, or claimed by a worker
# whose lease ran out), now claimed by this worker with a lease
# (webhook_delivery_next_attempt_at). On PostgreSQL locked with SKIP LOCKED, so two workers
# never claim one row; on SQLite the write transaction holds the database's lock.
# Parameters: the worker, the lease's end, now twice, the batch's size.
CLAIM = Statement(
    _CLAIM.replace("@lock", ""), postgres=_CLAIM.replace("@lock", "FOR UPDATE SKIP LOCKED")
)

_CLAIMED = """
SELECT d.id, d.attempts, d.failing_since, d.endpoint, e.url, e.secret_sealed, e.active,
       v.id AS event_id, v.type, v.data
FROM webhook_delivery d
JOIN webhook_endpoint e ON e.id = d.endpoint
JOIN webhook_event v ON v.id = d.event
WHERE @ids AND d.claimed_by = {}
ORDER BY d.id"""
# What a worker needs to send the deliveries it claimed: the delivery (id, attempts,
# failing_since), its endpoint (endpoint, url, secret_sealed, active) and its event
# (event_id, type, data) (primary keys). Parameters: the ids (a JSON array on SQLite, a list
# on PostgreSQL), the worker.
CLAIMED = Statement(
    _CLAIMED.replace("@ids", "d.id IN (SELECT value FROM json_each({}))"),
    postgres=_CLAIMED.replace("@ids", "d.id = ANY({}::int[])"),
)

# Nothing; a delivery this worker claimed was taken by its receiver (primary key).
# Parameters: delivered_at, last_status, id, the worker.
MARK_DELIVERED = Statement("""
UPDATE webhook_delivery SET status = 'delivered', delivered_at = {}, last_status = {},
                            last_error = '', failing_since = NULL, claimed_until = NULL
WHERE id = {} AND claimed_by = {} AND status = 'sending'
RETURNING id""")

# `id` of a delivery this worker claimed, now waiting for its next attempt, failing since
# its first failure; no row when its lease was lost (primary key). Parameters:
# next_attempt_at, last_status, last_error, now, id, the worker.
MARK_RETRY = Statement("""
UPDATE webhook_delivery SET status = 'pending', next_attempt_at = {}, last_status = {},
                            last_error = {}, claimed_until = NULL,
                            failing_since = COALESCE(failing_since, {})
WHERE id = {} AND claimed_by = {} AND status = 'sending'
RETURNING id""")

# `id` of a delivery this worker claimed, now dead; no row when its lease was lost (primary
# key). Parameters: last_status, last_error, now, id, the worker.
MARK_DEAD = Statement("""
UPDATE webhook_delivery SET status = 'dead', last_status = {}, last_error = {},
                            claimed_until = NULL, failing_since = COALESCE(failing_since, {})
WHERE id = {} AND claimed_by = {} AND status = 'sending'
RETURNING id""")

# Nothing; this worker gives a claimed delivery back untried (its lease is nearly over)
# (primary key). Parameters: id, the worker.
RELEASE = Statement("""
UPDATE webhook_delivery SET status = 'pending', claimed_until = NULL, attempts = attempts - 1
WHERE id = {} AND claimed_by = {} AND status = 'sending'""")

# ------------------------------------------------------------------------------ switch-off

# When an endpoint's deliveries began failing with no success since: the oldest
# failing_since of its deliveries newer than its last success, or NULL (no failure since)
# (webhook_delivery_endpoint). Parameters: the endpoint, the endpoint, a moment before any
# delivery (for an endpoint that never succeeded).
FAILING_SINCE = Statement("""
SELECT MIN(failing_since) AS since FROM webhook_delivery
WHERE endpoint = {} AND failing_since IS NOT NULL
  AND failing_since > COALESCE((SELECT MAX(delivered_at) FROM webhook_delivery
                                WHERE endpoint = {} AND delivered_at IS NOT NULL), {})""")

# `id` of an endpoint now switched off, or no row when it was off already (primary key).
# Parameters: disabled_reason, disabled_at, updated_at, id.
SWITCH_OFF = Statement("""
UPDATE webhook_endpoint SET active = FALSE, disabled_reason = {}, disabled_at = {},
                            updated_at = {}
WHERE id = {} AND active
RETURNING id, url""")

# Nothing; an endpoint's deliveries that wait (or are being sent) are dead with a reason
# (webhook_delivery_endpoint). Parameters: last_error, now, the endpoint.
KILL_WAITING = Statement("""
UPDATE webhook_delivery SET status = 'dead', last_error = {}, claimed_until = NULL,
                            failing_since = COALESCE(failing_since, {})
WHERE endpoint = {} AND status IN ('pending', 'sending')""")

# ------------------------------------------------------------------------------ replay

# `id` of a dead or delivered delivery made pending again, due now, its attempts kept (a
# delivery waiting or being sent is left alone) (primary key). Parameters: now, id.
REPLAY = Statement("""
UPDATE webhook_delivery SET status = 'pending', next_attempt_at = {}, failing_since = NULL,
                            claimed_by = NULL, claimed_until = NULL
WHERE id = {} AND status IN ('dead', 'delivered')
RETURNING id""")

# `id` of each dead delivery of an endpoint made pending again, due now (webhook_delivery_
# endpoint). Parameters: now, the endpoint.
REPLAY_DEAD_OF_ENDPOINT = Statement("""
UPDATE webhook_delivery SET status = 'pending', next_attempt_at = {}, failing_since = NULL,
                            claimed_by = NULL, claimed_until = NULL
WHERE endpoint = {} AND status = 'dead'
RETURNING id""")
