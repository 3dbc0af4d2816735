"""Every SQL statement the surveys domain runs: identifying users, reading their displays,
reserving a display, and the PostgreSQL statement that checks new users in one round trip."""

from __future__ import annotations

from feedback.db import Statement
from feedback.db.batches import ROW_BATCHES

# the account and the user in one round trip (the user columns are NULL for a new user);
# last_answered_at counts imported answers too (response rows of any source); the account's
# environment and the user's say whether a production key must promote them (`identify`)
IDENTIFY = Statement("""
SELECT a.id AS account_pk, a.plan AS account_plan, a.environment AS account_environment,
       u.id, u.account, u.traits, u.first_seen_at, u.last_seen_at, u.last_display_at,
       u.role, u.locale, u.email, u.asked_elsewhere_at, u.environment,
       (SELECT max(r.answered_at) FROM response r WHERE r.end_user = u.id) AS last_answered_at
FROM account a
LEFT JOIN end_user u ON u.external_id = {}
WHERE a.external_id = {}""")
# a user by their external id, whatever their account, for explaining a decision (unique)
USER_BY_EXTERNAL_ID = Statement("""
SELECT u.id, u.account, u.traits, u.first_seen_at, u.last_display_at, u.role, u.locale,
       u.asked_elsewhere_at,
       (SELECT max(r.answered_at) FROM response r WHERE r.end_user = u.id) AS last_answered_at
FROM end_user u WHERE u.external_id = {}""")
# a user the widget sees first, of the key's environment: the new row's id (unique
# external_id)
NEW_USER = Statement("""
INSERT INTO end_user (external_id, account, role, email, locale, traits, first_seen_at,
                      last_seen_at, created_at, updated_at, environment)
VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})
ON CONFLICT (external_id) DO NOTHING
RETURNING id""")


# the user's displays, for the cadence rules (index display(end_user))
DISPLAYS_OF_USER = Statement("""
SELECT schedule, cycle, status, shown_at, dismissed_at, expires_at
FROM display WHERE end_user = {}""")
# the users of an account shown a schedule since a moment, for `max_users_per_account`
USERS_SHOWN_IN_ACCOUNT = Statement("""
SELECT DISTINCT end_user FROM display
WHERE account = {} AND schedule = {} AND shown_at > {}""")

# the compare-and-set on the global gap between two surveys: the claim of the user's next
# display (refused when another display came within the gap)
CLAIM = Statement("""
UPDATE end_user SET last_display_at = {}
WHERE id = {} AND (last_display_at IS NULL OR last_display_at <= {})
RETURNING id""")
RESERVE = Statement("""
INSERT INTO display (token, slot, survey, schedule, end_user, account, widget_key,
                     environment, cycle, status, locale, url, shown_at, expires_at)
VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})
ON CONFLICT (slot) DO NOTHING
RETURNING id""")


# a survey's texts, for an answer's follow-up (primary key)
SURVEY_TEXTS = Statement("SELECT texts, product_name, promoter_link_url FROM survey WHERE id = {}")


# PostgreSQL only: one statement reads the user and their account, as `IDENTIFY` does, and
# when there is no such user creates them (of the key's environment), with their display if
# one was decided for a new user (a data-modifying CTE is atomic on its own: no transaction,
# one round trip for a new user's check). The user row is inserted with last_display_at
# already set, so a simultaneous check for the same new user (another tab) either loses the
# insert and goes the general way, where the compare-and-set on last_display_at refuses it,
# or finds no user and races here.
#
# Checks that arrive together share the statement (group commit, as answers do): each input
# row is one check, numbered so its result comes back to its caller. The same new user twice
# in one batch is created once, for the first of their checks; the others find neither a user
# nor a creation and go the general way, as when another statement created the user first.
# Users are inserted in the order of their ids, so two batches never wait on each other's
# rows in opposite orders.
VISIT_COLUMNS = (
    *("user_id", "account_pk", "account_id", "role", "email", "locale", "traits", "now"),
    *("last_display_at", "token", "slot_prefix", "slot_suffix", "survey", "schedule"),
    *("widget_key", "environment", "cycle", "display_locale", "url", "expires_at", "show"),
)
VISIT_TYPES = (
    *("text", "int", "text", "text", "text", "text", "jsonb", "timestamptz", "timestamptz"),
    *("text", "text", "text", "int", "int", "int", "text", "int", "text", "text"),
    *("timestamptz", "boolean"),
)
_VISIT_INPUT = "i(n, " + ", ".join(VISIT_COLUMNS) + ")"
_VISITS_BODY = """
found AS (
    SELECT i.n, u.id, u.account, u.traits, u.first_seen_at, u.last_seen_at, u.last_display_at,
           u.role, u.locale, u.email, u.asked_elsewhere_at, u.environment,
           (SELECT max(r.answered_at) FROM response r WHERE r.end_user = u.id) AS last_answered_at
    FROM input i JOIN end_user u ON u.external_id = i.user_id
),
account AS (
    SELECT i.n, a.id AS account_pk, a.plan AS account_plan,
           a.environment AS account_environment
    FROM input i JOIN account a ON a.id = i.account_pk AND a.external_id = i.account_id
),
new_user AS (
    INSERT INTO end_user (external_id, account, role, email, locale, traits, first_seen_at,
                          last_seen_at, last_display_at, created_at, updated_at, environment)
    SELECT DISTINCT ON (i.user_id) i.user_id, account.account_pk, i.role, i.email, i.locale,
           i.traits, i.now, i.now, i.last_display_at, i.now, i.now, i.environment
    FROM input i JOIN account ON account.n = i.n
    WHERE NOT EXISTS (SELECT 1 FROM found WHERE found.n = i.n)
    ORDER BY i.user_id, i.n
    ON CONFLICT (external_id) DO NOTHING
    RETURNING id, external_id
),
created AS (
    SELECT DISTINCT ON (i.user_id) i.n, new_user.id
    FROM input i JOIN new_user ON new_user.external_id = i.user_id
    ORDER BY i.user_id, i.n
),
shown AS (
    INSERT INTO display (token, slot, survey, schedule, end_user, account, widget_key,
                         environment, cycle, status, locale, url, shown_at, expires_at)
    SELECT i.token, i.slot_prefix || CAST(created.id AS TEXT) || i.slot_suffix, i.survey,
           i.schedule, created.id, i.account_pk, i.widget_key, i.environment, i.cycle, 'shown',
           i.display_locale, i.url, i.now, i.expires_at
    FROM input i JOIN created ON created.n = i.n
    WHERE i.show
    RETURNING id
)
SELECT i.n, account.account_pk, account.account_plan, account.account_environment,
       created.id AS created, found.id,
       found.account, found.traits, found.first_seen_at, found.last_seen_at,
       found.last_display_at, found.role, found.locale, found.email, found.last_answered_at,
       found.asked_elsewhere_at, found.environment
FROM input i
JOIN account ON account.n = i.n
LEFT JOIN found ON found.n = i.n
LEFT JOIN created ON created.n = i.n"""


def _visits_of(rows: int) -> Statement:
    """The check statement for a batch of `rows` checks (constants only)."""
    values = ", ".join(
        "(" + ", ".join([str(n), *(f"{{}}::{kind}" for kind in VISIT_TYPES)]) + ")"
        for n in range(rows)
    )
    source = f"(VALUES {values}) AS {_VISIT_INPUT}"
    return Statement(
        "-- PostgreSQL only",
        postgres=f"WITH input AS (SELECT * FROM {source}),{_VISITS_BODY}",  # noqa: S608
    )


# as for answers: a prepared statement per batch length in ROW_BATCHES, with a plan kept
VISITS = {rows: _visits_of(rows) for rows in ROW_BATCHES}

# -- "Talk to ..." and other thank-you links (feedback/surveys/talk_to.py)

# The display of a token for a widget key, with the category of its answer: display, survey,
# category (None before an answer). Primary keys and display.token (unique).
DISPLAY_ANSWER = Statement("""
SELECT d.id AS display, d.survey,
       CASE WHEN r.score IS NULL THEN NULL
            WHEN r.score >= 9 THEN 'promoter'
            WHEN r.score >= 7 THEN 'passive'
            ELSE 'detractor' END AS category
FROM display d
LEFT JOIN response r ON r.display = d.id
WHERE d.token = {} AND d.widget_key = {}""")

# A followed link, once per display and link: the new row's id, none when counted already
# (survey_link_click.slot, unique).
COUNT_LINK_CLICK = Statement("""
INSERT INTO survey_link_click (slot, display, survey, link, category, clicked_at)
VALUES ({}, {}, {}, {}, {}, {})
ON CONFLICT (slot) DO NOTHING
RETURNING id""")

# A survey's followed links: link, category, clicks (survey_link_click_survey).
LINK_CLICKS = Statement("""
SELECT link, category, COUNT(*) AS clicks FROM survey_link_click
WHERE survey = {} GROUP BY link, category ORDER BY link, category""")

# The owner a detractor may talk to: the account's active CSM with a meeting link, else
# nothing (then the pool serving the account is asked): name, meeting_url (primary keys).
ACCOUNT_CSM_MEETING = Statement("""
SELECT c.name, c.meeting_url FROM account a JOIN csm c ON c.id = a.csm
WHERE a.id = {} AND c.active""")
