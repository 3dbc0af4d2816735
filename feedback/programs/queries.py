"""Every SQL statement of programs: finding who a trigger enrols, enrolling them once, the
worker's due participants, the facts the exit conditions read, and the program page's and the
account page's reads.

Statements use Piccolo's `{}` placeholders. Indexes: `participant_program_trigger` (unique
program, trigger_key), `participant_step_once` (unique participant, step_index),
`participant_due` (next_run_at where active), `program_participant_account`,
`program_participant_end_user`, `end_user_created_at`, `response` by created_at/answered_at,
`health_snapshot_account_day` (unique account, day), `cta_account`, and the primary keys.
"""

from __future__ import annotations

from feedback.db import Statement

# ------------------------------------------------------------------- who a trigger enrols

# the facts each scan returns for the audience filter: account_id, end_user_id, role, plan,
# industry, company_size, account_status, plus what identifies the trigger
_FACTS = """a.id AS account_id, a.plan, a.industry, a.company_size, a.status AS account_status"""

# Production users of production accounts with an email address stored in a window who are
# new: first seen (or, never seen, stored) since a moment, so an import of long-standing users
# enrols nobody while a user added later to an old account is new all the same; a user first
# seen through a staging or development key is stored anew (created_at) when a production
# key or an import makes them production: end_user_id, role, created_at, the facts
# (end_user_created_at: new users are few). Parameters: first seen since, since, until.
USERS_ADDED = Statement(
    """
SELECT u.id AS end_user_id, u.role, u.created_at, @facts
FROM end_user u JOIN account a ON a.id = u.account AND a.environment = 'production'
WHERE COALESCE(u.first_seen_at, u.created_at) > {}
  AND u.created_at > {} AND u.created_at <= {} AND u.email IS NOT NULL AND u.email <> ''
  AND u.environment = 'production'
ORDER BY u.created_at, u.id""".replace("@facts", _FACTS)
)

# Production detractor answers (0-6) of a known person stored in a window and answered
# since a moment (an import of old answers enrols nobody; a staging or development answer
# enrols nobody): response_id, end_user_id, role, the facts (response_answered_at).
# Parameters: answered since, stored since, stored until.
DETRACTOR_ANSWERS = Statement(
    """
SELECT r.id AS response_id, r.end_user AS end_user_id, u.role, @facts
FROM response r JOIN account a ON a.id = r.account JOIN end_user u ON u.id = r.end_user
WHERE r.answered_at > {} AND r.created_at > {} AND r.created_at <= {} AND r.score <= 6
  AND r.environment = 'production'
ORDER BY r.id""".replace("@facts", _FACTS)
)

# Production promoter answers (9-10) of a known person answered since a moment whose
# comment came in a window: response_id, end_user_id, role, the facts
# (response_answered_at). Parameters: answered since, since, until.
PROMOTER_COMMENTS = Statement(
    """
SELECT r.id AS response_id, r.end_user AS end_user_id, u.role, @facts
FROM response r JOIN account a ON a.id = r.account JOIN end_user u ON u.id = r.end_user
WHERE r.answered_at > {} AND r.commented_at > {} AND r.commented_at <= {} AND r.score >= 9
  AND r.comment IS NOT NULL AND r.comment <> '' AND r.environment = 'production'
ORDER BY r.id""".replace("@facts", _FACTS)
)

# Production accounts created (or imported) in a window: the facts. Parameters: since, until.
ACCOUNTS_CREATED = Statement(
    """
SELECT @facts FROM account a
WHERE a.created_at > {} AND a.created_at <= {} AND a.environment = 'production'
ORDER BY a.id""".replace("@facts", _FACTS)
)

# Production accounts not churned renewing from a day to a day: renewal_date and the facts
# (account_renewal_date). Parameters: from, to.
RENEWALS_BETWEEN = Statement(
    """
SELECT a.renewal_date, @facts FROM account a
WHERE a.renewal_date >= {} AND a.renewal_date <= {} AND a.status <> 'churned'
  AND a.environment = 'production'
ORDER BY a.id""".replace("@facts", _FACTS)
)

# Accounts whose health snapshot on a day since a given one is red while the snapshot
# before it was not (or there was none): day and the facts (health_snapshot_account_day).
# Parameters: since (a day).
HEALTH_TURNED_RED = Statement(
    """
SELECT h.day, @facts FROM health_snapshot h JOIN account a ON a.id = h.account
WHERE h.day >= {} AND h.band = 'red'
  AND COALESCE((SELECT p.band FROM health_snapshot p WHERE p.account = h.account
                AND p.day < h.day ORDER BY p.day DESC LIMIT 1), 'none') <> 'red'
ORDER BY h.day, a.id""".replace("@facts", _FACTS)
)

# `id` of the new participant, or no row when this trigger enrolled them already
# (participant_program_trigger) or they are in the program still (an active participation
# of the same person, or of the account for account-level triggers). Parameters: program,
# account, end_user, trigger_key, response, cta, next_run_at, enrolled_by, enrolled_at, then
# program, end_user, end_user, end_user, account (for the NOT EXISTS).
_ENROL = """
INSERT INTO program_participant (program, account, end_user, trigger_key, response, cta,
                                 state, exit_reason, step_index, next_run_at, skipped_reason,
                                 enrolled_by, enrolled_at, finished_at)
SELECT @int, @int, @int, @text, @int, @int, 'active', NULL, 0, @time, NULL, @text, @time, NULL
WHERE NOT EXISTS (
    SELECT 1 FROM program_participant o
    WHERE o.program = {} AND o.state = 'active'
      AND ((CAST({} AS INTEGER) IS NOT NULL AND o.end_user = {})
           OR (CAST({} AS INTEGER) IS NULL AND o.end_user IS NULL AND o.account = {})))
ON CONFLICT (program, trigger_key) DO NOTHING
RETURNING id"""
# (PostgreSQL types a SELECT's parameters from nothing: they are cast; SQLite needs no casts
# and would turn a timestamp CAST into a number)
ENROL = Statement(
    _ENROL.replace("@int", "{}").replace("@text", "{}").replace("@time", "{}"),
    postgres=_ENROL.replace("@int", "CAST({} AS INTEGER)")
    .replace("@text", "CAST({} AS TEXT)")
    .replace("@time", "CAST({} AS TIMESTAMPTZ)"),
)

# Nothing; the moment a program's triggers were scanned up to, never moved back by a slower
# worker (primary key). Parameters: the moment, id, the moment.
SET_SCANNED = Statement("""
UPDATE program SET scanned_until = {}
WHERE id = {} AND (scanned_until IS NULL OR scanned_until < {})""")

# ---------------------------------------------------------------------- running the steps

# `id` of active participants of enabled programs whose next step is due, the earliest
# first (participant_due). Parameters: now, limit.
DUE_PARTICIPANTS = Statement("""
SELECT pp.id FROM program_participant pp JOIN program p ON p.id = pp.program
WHERE pp.state = 'active' AND pp.next_run_at <= {} AND p.enabled
ORDER BY pp.next_run_at LIMIT {}""")

# A participant with what its steps need, locked for this transaction on PostgreSQL (two
# workers never run one participant's step at once; on SQLite the write transaction holds
# the database's lock): the participant's columns, the person's and the account's
# (primary keys).
_PARTICIPANT = """
SELECT pp.id, pp.program AS program_id, pp.account AS account_id, pp.end_user AS end_user_id,
       pp.trigger_key, pp.response AS response_id, pp.cta AS cta_id, pp.state,
       pp.exit_reason, pp.step_index, pp.next_run_at, pp.skipped_reason, pp.enrolled_at,
       pp.finished_at,
       u.email, u.role, u.locale, u.traits AS user_traits,
       a.name AS account_name, a.plan, a.external_id AS account_external_id,
       a.status AS account_status, a.csm AS csm_id,
       r.score, r.comment
FROM program_participant pp
JOIN account a ON a.id = pp.account
LEFT JOIN end_user u ON u.id = pp.end_user
LEFT JOIN response r ON r.id = pp.response
WHERE pp.id = {}"""
PARTICIPANT_FOR_UPDATE = Statement(_PARTICIPANT, postgres=_PARTICIPANT + " FOR UPDATE OF pp")

# Nothing; a participant's progress (primary key). Parameters: state, step_index,
# next_run_at, exit_reason, skipped_reason, finished_at, id.
SET_PROGRESS = Statement("""
UPDATE program_participant SET state = {}, step_index = {}, next_run_at = {}, exit_reason = {},
       skipped_reason = {}, finished_at = {}
WHERE id = {}""")

# `id` of the step's record, or no row when the step was done already
# (participant_step_once). Parameters: participant, step_index, kind, result, mail_id,
# cta_id, done_at.
RECORD_STEP = Statement("""
INSERT INTO program_participant_step (participant, step_index, kind, result, mail_id, cta_id,
                                      done_at)
VALUES ({}, {}, {}, {}, {}, {}, {})
ON CONFLICT (participant, step_index) DO NOTHING
RETURNING id""")

# The CSM who owns an account's mail: name, email, meeting_url, active, kind (primary key).
CSM_OF = Statement("SELECT name, email, meeting_url, active, kind FROM csm WHERE id = {}")

# ------------------------------------------------------------- facts for exit conditions

# A row when the person answered in production after a moment (response_end_user): a test
# answer on a staging key ends no program. Parameters: end_user, the moment.
ANSWERED_SINCE = Statement("""
SELECT 1 AS answered FROM response
WHERE end_user = {} AND answered_at > {} AND environment = 'production' LIMIT 1""")

# A row when a CTA the participant depends on is closed: the one that enrolled them, one
# their steps raised, or one raised by the answer that enrolled them (cta_account).
# Parameters: account, cta, participant, response.
CTA_CLOSED = Statement(
    """
SELECT 1 AS closed FROM cta t
WHERE t.account = {} AND t.status = 'closed'
  AND (t.id = {}
       OR t.id IN (SELECT s.cta_id FROM program_participant_step s
                   WHERE s.participant = {} AND s.cta_id IS NOT NULL)
       OR json_extract(t.trigger, '$.response_id') = {})
LIMIT 1""",
    postgres="""
SELECT 1 AS closed FROM cta t
WHERE t.account = {} AND t.status = 'closed'
  AND (t.id = {}
       OR t.id IN (SELECT s.cta_id FROM program_participant_step s
                   WHERE s.participant = {} AND s.cta_id IS NOT NULL)
       OR t.trigger->'response_id' = to_jsonb(CAST({} AS INTEGER)))
LIMIT 1""",
)

# ------------------------------------------------------------------------------- reading

# Participants per program by state and exit reason: program, state, exit_reason, count
# (a scan of the participants; programs are few).
PARTICIPANT_COUNTS = Statement("""
SELECT program, state, exit_reason, COUNT(*) AS count FROM program_participant
GROUP BY program, state, exit_reason""")

# A program's steps done by index, kind, result and mail status: step_index, kind, result,
# mail_status, count (participant_program_trigger, participant_step_once). Parameters:
# program.
STEP_COUNTS = Statement("""
SELECT s.step_index, s.kind, s.result, m.status AS mail_status, COUNT(*) AS count
FROM program_participant_step s
JOIN program_participant pp ON pp.id = s.participant
LEFT JOIN mail_outbox m ON m.id = s.mail_id
WHERE pp.program = {}
GROUP BY s.step_index, s.kind, s.result, m.status
ORDER BY s.step_index""")

# A program's participants, the latest first: the participant's columns, the person's email
# and the account's name and external id (participant_program_trigger). Parameters:
# program, state (or NULL for all), limit, offset.
PARTICIPANTS_OF_PROGRAM = Statement("""
SELECT pp.id, pp.state, pp.exit_reason, pp.step_index, pp.next_run_at, pp.skipped_reason,
       pp.enrolled_at, pp.enrolled_by, pp.finished_at, pp.trigger_key,
       u.email, u.external_id AS user_external_id,
       a.name AS account_name, a.external_id AS account_external_id
FROM program_participant pp
JOIN account a ON a.id = pp.account
LEFT JOIN end_user u ON u.id = pp.end_user
WHERE pp.program = {} AND (CAST({} AS TEXT) IS NULL OR pp.state = {})
ORDER BY pp.enrolled_at DESC, pp.id DESC
LIMIT {} OFFSET {}""")

# An account's participations with their programs and people, the latest first
# (program_participant_account). Parameters: account.
PARTICIPANTS_OF_ACCOUNT = Statement("""
SELECT pp.id, pp.program AS program_id, p.name AS program_name, pp.state, pp.exit_reason,
       pp.skipped_reason, pp.enrolled_at, pp.finished_at, pp.step_index,
       u.email, u.external_id AS user_external_id, u.traits AS user_traits
FROM program_participant pp
JOIN program p ON p.id = pp.program
LEFT JOIN end_user u ON u.id = pp.end_user
WHERE pp.account = {}
ORDER BY pp.enrolled_at DESC, pp.id DESC""")

# The steps done for an account's participants with their mails: participant, step_index,
# kind, result, done_at, cta_id, mail_status, subject, sent_at
# (program_participant_account, participant_step_once, primary keys). Parameters: account.
STEPS_OF_ACCOUNT = Statement("""
SELECT s.participant, s.step_index, s.kind, s.result, s.done_at, s.cta_id,
       m.status AS mail_status, m.subject, m.sent_at
FROM program_participant_step s
JOIN program_participant pp ON pp.id = s.participant
LEFT JOIN mail_outbox m ON m.id = s.mail_id
WHERE pp.account = {}
ORDER BY s.participant, s.step_index""")

# Nothing; a participant whose step failed is tried again later (primary key). Parameters:
# next_run_at, id.
POSTPONE = Statement("UPDATE program_participant SET next_run_at = {} WHERE id = {}")
