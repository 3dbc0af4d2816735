# ruff: noqa: S608 - every SQL string here is built from constants of this file
"""Benchmark: every segment report on a large data set, against the real server, on PostgreSQL.

Generates a realistic data set inside PostgreSQL (generate_series SQL, no rows through
Python): 1,000,000 responses from 200,000 users of 20,000 accounts over eight quarters,
120 CSMs under 12 managers, plans, roles, industries, company sizes, custom traits (the
account's region and the user's team in every answer's snapshot), skewed ARR and churn
events, with scores that depend on a hidden account health that also drives churn. Then
starts `feedback serve` (one process) on that database, calls every report over HTTP with an
analyst token and, for each, runs a hand-written SQL query giving the same counts straight
from the bench process (asyncpg, no HTTP, no ORM, no statistics) in the same run. The
filters' dropdowns too: the API's choices, the pages' (`page_choices`, called in this process
on the same database, cold and again), a filter in another case than the data's beside the
same filter as spelt, and the segments and comments pages over HTTP.

Prints, per report: the median time of the service and of the SQL baseline over `--runs`
runs, their ratio, whether the goal holds (service <= 1 s and <= 2 x baseline), and checks
that the service's counts equal the baseline's. Also prints the generation time and the
service process's peak resident memory (VmHWM from /proc). It asserts nothing about timing;
only a count mismatch exits 1.

    .venv/bin/python bench/reports_scale.py [--responses 1000000] [--users 200000]
        [--accounts 20000] [--runs 5] [--keep] [--database feedback_bench_scale]

A database `feedback_bench_scale` (or `--database`) is created on the local PostgreSQL
(postgresql://postgres@127.0.0.1:5432/postgres) and dropped at the end (`--keep` keeps it
and reuses it on the next run, skipping the generation).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import os
import platform
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
# the service-process helpers of the widget benchmark (this folder is on sys.path when a
# benchmark runs as a script)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from widget_load import free_port, server, with_database  # noqa: E402

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE = "feedback_bench_scale"
HOST = "127.0.0.1"
GOAL_SECONDS = 1.0
GOAL_RATIO = 2.0
REQUEST_TIMEOUT = 300.0

# -- the data set -------------------------------------------------------------------------

MANAGERS = 12
CSMS = 108
FIRST_DAY = "2024-10-01"  # eight quarters: 2024-Q4 .. 2026-Q3
DAYS = 730

NORMAL = "(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))"

GENERATE = [
    # CSMs: 12 managers (no manager themselves) and 108 CSMs, 9 per manager
    f"""
    INSERT INTO csm (id, name, email, manager, active, created_at, updated_at)
    SELECT g, 'Manager ' || g, 'manager' || g || '@bench.example', NULL, true, now(), now()
    FROM generate_series(1, {MANAGERS}) g
    """,
    f"""
    INSERT INTO csm (id, name, email, manager, active, created_at, updated_at)
    SELECT {MANAGERS} + g, 'CSM ' || g, 'csm' || g || '@bench.example',
           1 + (g % {MANAGERS}), true, now(), now()
    FROM generate_series(1, {CSMS}) g
    """,
    # accounts with a hidden health (standard normal) that drives scores and churn
    """
    CREATE TEMP TABLE bench_account AS
    SELECT g AS id, {normal} AS health, {normal} AS arr_noise,
           random() AS u_plan, random() AS u_industry, random() AS u_size,
           random() AS u_csm, random() AS u_created
    FROM generate_series(1, {accounts}) g
    """,
    """
    ALTER TABLE bench_account ADD COLUMN plan text, ADD COLUMN employees int,
        ADD COLUMN csm int
    """,
    # paid plans go with healthier accounts; company size is log-uniform-ish (2..~8,000)
    """
    UPDATE bench_account SET
        plan = CASE WHEN u_plan + 0.08 * health < 0.45 THEN 'free'
                    WHEN u_plan + 0.08 * health < 0.85 THEN 'paid' ELSE 'premium' END,
        employees = greatest(2, floor(exp(0.7 + 8.3 * power(u_size, 1.4))))::int
    """,
    # free accounts are mostly low-touch (no CSM); CSM quality shifts health a little
    f"""
    UPDATE bench_account SET
        csm = CASE WHEN plan = 'free' AND u_csm < 0.7 THEN NULL
                   ELSE {MANAGERS} + 1 + floor({CSMS} * random())::int END
    """,
    """
    UPDATE bench_account SET health = health + ((csm % 7) - 3) * 0.08 WHERE csm IS NOT NULL
    """,
    """
    INSERT INTO account (id, external_id, name, plan, industry, employee_count, company_size,
                         arr_cents, currency, csm, renewal_date, status, traits,
                         created_at, updated_at)
    SELECT id, 'acct-' || id, 'Company ' || id, plan,
           (ARRAY['Software', 'Retail', 'Financial services', 'Healthcare', 'Manufacturing',
                  'Education', 'Staffing', 'Media', 'Logistics', 'Public sector'])
               [1 + floor(10 * power(u_industry, 1.6))::int],
           employees,
           CASE WHEN employees <= 10 THEN '1-10' WHEN employees <= 50 THEN '11-50'
                WHEN employees <= 200 THEN '51-200' WHEN employees <= 1000 THEN '201-1000'
                ELSE '1001+' END,
           CASE plan WHEN 'free' THEN 0
                WHEN 'paid' THEN round(300000 * sqrt(employees) * exp(0.6 * arr_noise))
                ELSE round(1500000 * sqrt(employees) * exp(0.6 * arr_noise)) END,
           'USD', csm,
           (DATE '2026-12-01' + floor(365 * u_created)::int),
           'active',
           jsonb_build_object('region', (ARRAY['emea', 'amer', 'apac'])[1 + id % 3]),
           TIMESTAMPTZ '2022-01-01 00:00:00+00' + u_created * INTERVAL '1000 days',
           now()
    FROM bench_account
    """,
    # users: each account gets users in proportion to employees^0.7 (at least one)
    """
    CREATE TEMP TABLE bench_weight AS
    SELECT id, power(employees, 0.7) AS w FROM bench_account
    """,
    """
    INSERT INTO end_user (external_id, account, role, email, locale, traits, created_at,
                          updated_at)
    SELECT 'user-' || a.id || '-' || k, a.id,
           CASE WHEN r < 0.10 THEN 'admin' WHEN r < 0.30 THEN 'manager'
                WHEN r < 0.70 THEN 'recruiter' WHEN r < 0.90 THEN 'read-only'
                ELSE 'candidate' END,
           'u' || a.id || '-' || k || '@customer.example',
           (ARRAY['en-US', 'en-GB', 'de-DE', 'fr-FR', 'es-ES'])[1 + floor(5 * random())::int],
           '{{}}'::jsonb, now(), now()
    FROM bench_weight a
    CROSS JOIN (SELECT sum(w) AS total FROM bench_weight) t
    CROSS JOIN LATERAL generate_series(
        1, greatest(1, round({users} * a.w / t.total)::int)) k
    CROSS JOIN LATERAL (SELECT random() + 0 * k AS r) roll
    """,
    """
    CREATE TEMP TABLE bench_user AS
    SELECT row_number() OVER (ORDER BY u.id) AS n, u.id, u.account, u.role, u.locale
    FROM end_user u
    """,
    "CREATE UNIQUE INDEX ON bench_user (n)",
    "CREATE UNIQUE INDEX ON bench_account (id)",
    "ANALYZE bench_user",
    "ANALYZE bench_account",
    # responses: a random user, a random moment in the eight quarters; the score depends on
    # the account's health, the user's role and noise; a third carry a comment
    """
    INSERT INTO response (idempotency_key, source, end_user, account, score, comment,
                          answered_at, commented_at, locale, plan, role, industry,
                          company_size, employee_count, csm, arr_cents, traits, created_at)
    WITH picks AS MATERIALIZED (
        SELECT g, 1 + floor(random() * (SELECT count(*) FROM bench_user))::bigint AS n,
               {first_day}::timestamptz + random() * INTERVAL '{days} days' AS answered_at,
               {normal} AS noise, random() AS u_comment
        FROM generate_series(1, {responses}) g
    )
    SELECT 'bench:' || p.g, 'import', u.id, u.account,
           least(10, greatest(0, round(7.6 + 1.5 * b.health + 1.6 * p.noise
               + CASE u.role WHEN 'admin' THEN 0.4 WHEN 'candidate' THEN -0.6
                             WHEN 'read-only' THEN -0.2 ELSE 0 END)))::smallint,
           CASE WHEN p.u_comment < 0.35 THEN
               (ARRAY['Easy to use', 'Too slow on big reports', 'Support was great',
                      'Missing integrations', 'Pricing is too high', 'Love the new search',
                      'Hard to find settings', 'Reliable, does the job'])
                   [1 + floor(p.u_comment / 0.35 * 8)::int]
           END,
           p.answered_at,
           CASE WHEN p.u_comment < 0.35 THEN p.answered_at END,
           u.locale, a.plan, u.role, a.industry, a.company_size, a.employee_count, a.csm,
           a.arr_cents,
           a.traits || jsonb_build_object(
               'team', (ARRAY['blue', 'red', 'green', 'gold'])[1 + u.id % 4]),
           p.answered_at
    FROM picks p
    JOIN bench_user u ON u.n = p.n
    JOIN bench_account b ON b.id = u.account
    JOIN account a ON a.id = u.account
    """,
    # churn: more likely for unhealthy accounts (about one account in nine overall)
    f"""
    INSERT INTO churn_event (dedupe_key, account, kind, noticed_at, effective_at, reason,
                             created_at)
    SELECT 'bench-churn-' || id, id,
           CASE WHEN random() < 0.6 THEN 'termination_notice' ELSE 'non_renewal' END,
           noticed, noticed + INTERVAL '90 days', 'bench', now()
    FROM (SELECT id, health,
                 TIMESTAMPTZ '{FIRST_DAY} 00:00:00+00' + random() * INTERVAL '{DAYS} days'
                     AS noticed
          FROM bench_account) c
    WHERE random() < 1 / (1 + exp(2.4 + 1.3 * health))
    """,
    "SELECT setval('csm_id_seq', (SELECT max(id) FROM csm))",
    "SELECT setval('account_id_seq', (SELECT max(id) FROM account))",
    "ANALYZE",
]


async def generate(dsn: str, responses: int, users: int, accounts: int) -> dict[str, Any]:
    import asyncpg

    connection = await asyncpg.connect(dsn, timeout=30)
    try:
        started = time.perf_counter()
        for statement in GENERATE:
            sql = statement.format(
                normal=NORMAL,
                accounts=accounts,
                users=users,
                responses=responses,
                first_day=f"'{FIRST_DAY} 00:00:00+00'",
                days=DAYS,
            )
            await connection.execute(sql)
        elapsed = time.perf_counter() - started
        counts = {
            table: await connection.fetchval(f"SELECT count(*) FROM {table}")
            for table in ("csm", "account", "end_user", "response", "churn_event")
        }
        return {"seconds": elapsed, **counts}
    finally:
        await connection.close()


# -- the reports and their baselines -------------------------------------------------------

COUNTS = """
    COUNT(*) AS responses, COUNT(DISTINCT r.account) AS accounts,
    SUM(CASE WHEN r.score >= 9 THEN 1 ELSE 0 END) AS promoters,
    SUM(CASE WHEN r.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END) AS passives,
    SUM(CASE WHEN r.score <= 6 THEN 1 ELSE 0 END) AS detractors
"""
KEYS = {
    "none": ("'all'", ""),
    "plan": ("r.plan", ""),
    "role": ("r.role", ""),
    "industry": ("r.industry", ""),
    "company_size": ("r.company_size", ""),
    "csm": ("c.email", "LEFT JOIN csm c ON c.id = r.csm"),
    "manager": ("m.email", "LEFT JOIN csm c ON c.id = r.csm LEFT JOIN csm m ON m.id = c.manager"),
    "account": ("a.external_id", "JOIN account a ON a.id = r.account"),
    "user": ("u.external_id", "LEFT JOIN end_user u ON u.id = r.end_user"),
    "trait:region": ("r.traits ->> 'region'", ""),
    "trait:team": ("r.traits ->> 'team'", ""),
    "quarter": ("to_char(r.answered_at AT TIME ZONE 'UTC', 'YYYY\"-Q\"Q')", ""),
    "month": ("to_char(r.answered_at AT TIME ZONE 'UTC', 'YYYY-MM')", ""),
}
QUARTER = KEYS["quarter"][0]


def nps_baseline(group_by: str, period: bool = False, where: str = "") -> str:
    key, join = KEYS[group_by]
    grouping = [k for k in (key if group_by != "none" else None, QUARTER if period else None) if k]
    group = "GROUP BY " + ", ".join(grouping) if grouping else ""
    return (
        f"SELECT {key} AS key, {QUARTER if period else 'NULL'} AS period, {COUNTS} "
        f"FROM response r {join} {'WHERE ' + where if where else ''} {group}"
    )


def nps_two_step(group_by: str, period: bool = False, where: str = "") -> str:
    """The same counts in two steps: per segment and account, then per segment (no
    COUNT(DISTINCT)); periods grouped by date_trunc and formatted on the few result rows.
    `where`: a condition on the answers (response r), e.g. a filter."""
    key, join = KEYS[group_by]
    key_out = "'all'" if group_by == "none" else "k"
    if group_by in ("quarter", "month"):
        fmt = "YYYY-MM" if group_by == "month" else 'YYYY"-Q"Q'
        key, key_out = (
            f"date_trunc('{group_by}', r.answered_at AT TIME ZONE 'UTC')",
            (f"to_char(k, '{fmt}')"),
        )
    if group_by == "account":  # group by the integer reference, name each group once
        key, join, key_out = (
            "r.account",
            "",
            ("(SELECT a.external_id FROM account a WHERE a.id = t.k)"),
        )
    elif group_by == "csm":
        key, join, key_out = "r.csm", "", "(SELECT c.email FROM csm c WHERE c.id = t.k)"
    elif group_by == "manager":
        key, join, key_out = (
            "c.manager",
            "LEFT JOIN csm c ON c.id = r.csm",
            "(SELECT m.email FROM csm m WHERE m.id = t.k)",
        )
    elif group_by == "user":
        key, join, key_out = (
            "r.end_user",
            "",
            "(SELECT u.external_id FROM end_user u WHERE u.id = t.k)",
        )
    inner = [e for e in (key if group_by != "none" else None,) if e]
    period_in = "date_trunc('quarter', r.answered_at AT TIME ZONE 'UTC')" if period else "NULL"
    if period:
        inner.append(period_in)
    outer = [e for e in ("k" if group_by != "none" else None, "pk" if period else None) if e]
    period_out = "to_char(pk, 'YYYY\"-Q\"Q')" if period else "NULL"
    return f"""
        SELECT {key_out} AS key, {period_out} AS period,
               SUM(n) AS responses, COUNT(*) AS accounts, SUM(pro) AS promoters,
               SUM(pas) AS passives, SUM(det) AS detractors
        FROM (SELECT {key} AS k, {period_in} AS pk, r.account, COUNT(*) AS n,
                     SUM(CASE WHEN r.score >= 9 THEN 1 ELSE 0 END) AS pro,
                     SUM(CASE WHEN r.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END) AS pas,
                     SUM(CASE WHEN r.score <= 6 THEN 1 ELSE 0 END) AS det
              FROM response r {join} {"WHERE " + where if where else ""}
              GROUP BY {", ".join([*inner, "r.account"])}) t
        {"GROUP BY " + ", ".join(outer) if outer else ""}
    """


# groupings answered a page at a time: the grouping's reference, and the table and column
# that name it
PAGED = {
    "account": ("r.account", "account", "external_id"),
    "user": ("r.end_user", "end_user", "external_id"),
}
PAGE = 100
PAGE_ORDER = {
    "-responses": "{p}responses DESC, {p}k ASC NULLS LAST",
    "-nps": "CASE WHEN {p}responses >= 5 THEN ({p}promoters - {p}detractors) * 1.0 / "
    "{p}responses END DESC NULLS LAST, {p}responses DESC, {p}k ASC NULLS LAST",
}


def nps_page_baseline(group_by: str, sort: str, two_step: bool) -> str:
    """The service's default page (`PAGE` groups by `sort`, ties to the larger group, then
    to the reference) and the number of groups, by hand: one GROUP BY (with
    COUNT(DISTINCT account)) or two steps (per group and account, then per group), then
    ORDER BY ... LIMIT, the window count of all groups, and the page's groups named."""
    ref, table, column = PAGED[group_by]
    promoters = "SUM(CASE WHEN r.score >= 9 THEN 1 ELSE 0 END)"
    passives = "SUM(CASE WHEN r.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END)"
    detractors = "SUM(CASE WHEN r.score <= 6 THEN 1 ELSE 0 END)"
    if two_step:
        groups = f"""
            SELECT k, SUM(n) AS responses, COUNT(*) AS accounts, SUM(pro) AS promoters,
                   SUM(pas) AS passives, SUM(det) AS detractors
            FROM (SELECT {ref} AS k, r.account, COUNT(*) AS n, {promoters} AS pro,
                         {passives} AS pas, {detractors} AS det
                  FROM response r GROUP BY {ref}, r.account) x
            GROUP BY k
        """
    else:
        groups = f"""
            SELECT {ref} AS k, COUNT(*) AS responses, COUNT(DISTINCT r.account) AS accounts,
                   {promoters} AS promoters, {passives} AS passives, {detractors} AS detractors
            FROM response r GROUP BY {ref}
        """
    return f"""
        SELECT nm.{column} AS key, NULL AS period, p.*
        FROM (SELECT g.*, COUNT(*) OVER () AS total_groups FROM ({groups}) g
              ORDER BY {PAGE_ORDER[sort].format(p="g.")} LIMIT {PAGE}) p
        LEFT JOIN {table} nm ON nm.id = p.k
        ORDER BY {PAGE_ORDER[sort].format(p="p.")}
    """


def segment_baseline(key: str, join: str) -> str:
    return f"""
        SELECT {key} AS key, r.account,
               SUM(CASE WHEN r.score >= 9 THEN 1 ELSE 0 END) AS promoters,
               SUM(CASE WHEN r.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END) AS passives,
               SUM(CASE WHEN r.score <= 6 THEN 1 ELSE 0 END) AS detractors
        FROM response r {join} WHERE {key} IS NOT NULL GROUP BY {key}, r.account
    """


QUADRANT_BASELINE = """
    SELECT a.external_id, a.arr_cents,
           SUM(CASE WHEN r.score >= 9 THEN 1 ELSE 0 END) AS promoters,
           SUM(CASE WHEN r.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END) AS passives,
           SUM(CASE WHEN r.score <= 6 THEN 1 ELSE 0 END) AS detractors
    FROM response r JOIN account a ON a.id = r.account
    WHERE a.arr_cents IS NOT NULL
    GROUP BY a.external_id, a.arr_cents
"""
CHURN_BASELINE = """
    SELECT r.account, COUNT(*) AS responses, AVG(r.score) AS mean_score,
           MIN(r.answered_at) AS first_answer
    FROM response r GROUP BY r.account
"""
CHURN_EVENTS_BASELINE = "SELECT account, MIN(noticed_at) FROM churn_event GROUP BY account"
QUADRANT_TWO_STEP = """
    SELECT a.external_id, a.arr_cents, t.promoters, t.passives, t.detractors
    FROM (SELECT r.account,
                 SUM(CASE WHEN r.score >= 9 THEN 1 ELSE 0 END) AS promoters,
                 SUM(CASE WHEN r.score BETWEEN 7 AND 8 THEN 1 ELSE 0 END) AS passives,
                 SUM(CASE WHEN r.score <= 6 THEN 1 ELSE 0 END) AS detractors
          FROM response r GROUP BY r.account) t
    JOIN account a ON a.id = t.account
    WHERE a.arr_cents IS NOT NULL
"""
RESPONSES_BASELINE = [
    "SELECT COUNT(*) FROM response r WHERE r.score BETWEEN 9 AND 10",
    """SELECT r.answered_at, r.score, r.comment, a.external_id, a.name, u.external_id,
              u.email, r.role, r.plan, r.industry, r.company_size, c.email
       FROM response r JOIN account a ON a.id = r.account
       LEFT JOIN end_user u ON u.id = r.end_user LEFT JOIN csm c ON c.id = r.csm
       WHERE r.score BETWEEN 9 AND 10
       ORDER BY r.answered_at DESC, r.id DESC LIMIT 100""",
]


# -- filter choices (the dropdowns) ---------------------------------------------------------

# one GROUP BY per dimension, each spelling its own group (the data has one spelling per
# value, so the counts equal the service's case-folded ones)
CHOICE_BASELINES = {
    "plan": "SELECT r.plan AS value, COUNT(*) AS n FROM response r "
    "WHERE r.plan IS NOT NULL AND r.plan <> '' GROUP BY r.plan",
    "csm": """SELECT c.email AS value, c.name AS label, t.n
              FROM (SELECT r.csm, COUNT(*) AS n FROM response r WHERE r.csm IS NOT NULL
                    GROUP BY r.csm) t
              JOIN csm c ON c.id = t.csm""",
    "trait:region": "SELECT r.traits ->> 'region' AS value, COUNT(*) AS n FROM response r "
    "WHERE r.traits ->> 'region' <> '' GROUP BY r.traits ->> 'region'",
}

# every dropdown of a page from one scan: (dimension, value, label, n) rows, by GROUPING SETS
# (one hash table per dimension) or in two steps, per combination of the five columns (the
# service's own first step) then per dimension; CSMs and managers named after grouping
COLUMNS = ("plan", "role", "industry", "company_size")
# GROUPING(plan, role, industry, company_size, csm) of each set: a bit per column not grouped
GROUPING_SET = {"plan": 15, "role": 23, "industry": 27, "company_size": 29, "csm": 30}


def per_dimension(grouping_sets: bool) -> str:
    """The dropdowns' rows from `k` (per grouping set, or per combination of the columns)."""
    parts = []
    for column in COLUMNS:
        if grouping_sets:
            parts.append(
                f"SELECT '{column}' AS dimension, {column} AS value, {column} AS label, n "
                f"FROM k WHERE gs = {GROUPING_SET[column]} AND {column} <> ''"
            )
        else:
            parts.append(
                f"SELECT '{column}' AS dimension, {column} AS value, {column} AS label, "
                f"SUM(n) AS n FROM k "
                f"WHERE {column} <> '' GROUP BY {column}"
            )
    csm = f"gs = {GROUPING_SET['csm']}" if grouping_sets else "k.csm IS NOT NULL"
    parts.append(
        "SELECT 'csm', c.email, MIN(c.name), SUM(k.n) FROM k JOIN csm c ON c.id = k.csm "
        f"WHERE {csm} GROUP BY c.email"
    )
    parts.append(
        "SELECT 'manager', m.email, MIN(m.name), SUM(k.n) FROM k JOIN csm c ON c.id = k.csm "
        f"JOIN csm m ON m.id = c.manager WHERE {csm} GROUP BY m.email"
    )
    return "\nUNION ALL ".join(parts)


PAGE_CHOICES_GROUPING_SETS = f"""
    WITH k AS MATERIALIZED (
        SELECT r.plan, r.role, r.industry, r.company_size, r.csm, COUNT(*) AS n,
               GROUPING(r.plan, r.role, r.industry, r.company_size, r.csm) AS gs
        FROM response r
        GROUP BY GROUPING SETS ((r.plan), (r.role), (r.industry), (r.company_size), (r.csm))
    )
    {per_dimension(grouping_sets=True)}
"""
PAGE_CHOICES_TWO_STEP = f"""
    WITH k AS MATERIALIZED (
        SELECT r.plan, r.role, r.industry, r.company_size, r.csm, COUNT(*) AS n
        FROM response r GROUP BY r.plan, r.role, r.industry, r.company_size, r.csm
    )
    {per_dimension(grouping_sets=False)}
"""


def check_choices(body: dict[str, Any], rows: list[Any]) -> str:
    """The API's choices: the same values (and labels) with the same answers, none cut."""
    got = {(c["value"], c["label"], c["responses"]) for c in body["choices"]}
    want = {(r["value"], r.get("label") or r["value"], int(r["n"])) for r in rows}
    if body["truncated"]:
        return "truncated"
    return "" if got == want else f"{len(got)} choices vs {len(want)}"


def check_page_choices(body: dict[str, Any], rows: list[Any]) -> str:
    """page_choices' dropdowns ({dimension: [(value, 'label (answers)')]}) against the
    (dimension, value, label, n) rows."""
    got = {(d, v, text) for d, pairs in body.items() for v, text in pairs}
    want = {(r["dimension"], r["value"], f"{r['label']} ({int(r['n']):,})") for r in rows}
    return "" if got == want else f"{len(got)} choices vs {len(want)}"


@dataclass
class Report:
    name: str
    path: str
    params: dict[str, str]
    baseline: list[str]
    # (service JSON, baseline rows of the first query) -> mismatch description or ""
    check: Callable[[dict[str, Any], list[Any]], str]
    # the same counts written another way (two steps, no COUNT(DISTINCT)); its rows are
    # checked too; the faster of the two is the baseline
    two_step: list[str] | None = None
    # an export, not a report a person waits for: measured, not held to the goal
    goal: bool = True
    # measured in the bench process instead of over HTTP: "page_choices" (the pages'
    # dropdowns, their cache forgotten before each call) or "page_choices_repeat" (called
    # again within the cache's lifetime)
    local: str = ""


def _nps_counts(body: dict[str, Any]) -> dict[tuple[Any, Any], tuple[int, ...]]:
    return {
        (g["key"], g.get("period")): (
            g["responses"],
            g["accounts"],
            g["promoters"],
            g["passives"],
            g["detractors"],
        )
        for g in body["groups"]
    }


def check_nps(body: dict[str, Any], rows: list[Any]) -> str:
    got = _nps_counts(body)
    want = {
        (r["key"], r["period"]): tuple(
            int(r[c]) for c in ("responses", "accounts", "promoters", "passives", "detractors")
        )
        for r in rows
    }
    return "" if got == want else f"{len(got)} groups vs {len(want)}; first differences differ"


def check_nps_page(body: dict[str, Any], rows: list[Any]) -> str:
    """The same groups in the same order, with the same counts and the same total."""
    mismatch = check_nps(body, rows)
    got_order = [g["key"] for g in body["groups"]]
    want_order = [r["key"] for r in rows]
    if not mismatch and got_order != want_order:
        mismatch = "the same groups in another order"
    total = int(rows[0]["total_groups"]) if rows else 0
    if not mismatch and body["total_groups"] != total:
        mismatch = f"total_groups {body['total_groups']} vs {total}"
    return mismatch


def csv_body(raw: bytes) -> dict[str, Any]:
    """An exported CSV as the JSON report's groups (counts as numbers, no key as null)."""
    import csv
    import io

    numbers = ("responses", "accounts", "promoters", "passives", "detractors")
    groups = [
        {**row, "key": row["key"] or None, **{c: int(row[c]) for c in numbers}}
        for row in csv.DictReader(io.StringIO(raw.decode()))
    ]
    return {"groups": groups}


def check_segments(body: dict[str, Any], rows: list[Any]) -> str:
    per_key: dict[str, list[int]] = {}
    for r in rows:
        total = per_key.setdefault(str(r["key"]), [0, 0])
        total[0] += int(r["promoters"]) + int(r["passives"]) + int(r["detractors"])
        total[1] += 1
    got = {s["key"]: [s["responses"], s["accounts"]] for s in body["segments"]}
    want = {k: v for k, v in per_key.items() if k in got}
    if got != want or len(got) < len(per_key) - 2:
        return f"segments {sorted(got)} vs {sorted(per_key)}"
    return ""


def check_quadrant(body: dict[str, Any], rows: list[Any]) -> str:
    got = {a["account_id"]: a["responses"] for a in body["accounts"]}
    want = {
        r["external_id"]: int(r["promoters"]) + int(r["passives"]) + int(r["detractors"])
        for r in rows
    }
    return "" if got == want else f"{len(got)} accounts vs {len(want)}"


def check_churn(body: dict[str, Any], rows: list[Any]) -> str:
    # accounts with responses, and all accounts, are both in the service's figures
    total = body["accounts"] + body["excluded"]
    return "" if total >= len(rows) else f"{total} accounts vs {len(rows)} with responses"


def check_responses(body: dict[str, Any], rows: list[Any]) -> str:
    return "" if body["total"] == int(rows[0][0]) else f"total {body['total']} vs {rows[0][0]}"


def reports() -> list[Report]:
    out = [
        Report(
            f"nps by {g}",
            "/api/v1/reports/nps",
            {"group_by": g},
            [nps_baseline(g)],
            check_nps,
            [nps_two_step(g)],
        )
        for g in KEYS
        if g not in PAGED
    ]
    # by account and by user: the service's default page (100 groups, the largest first) and
    # a page by NPS, against the same page by hand
    for g in PAGED:
        for sort in ("-responses", "-nps"):
            params = {"group_by": g} | ({"sort": sort} if sort != "-responses" else {})
            out.append(
                Report(
                    f"nps by {g}" + (f", {sort}" if sort != "-responses" else ""),
                    "/api/v1/reports/nps",
                    params,
                    [nps_page_baseline(g, sort, two_step=False)],
                    check_nps_page,
                    [nps_page_baseline(g, sort, two_step=True)],
                )
            )
    # the full export of every user's group, against the full GROUP BY
    out.append(
        Report(
            "csv: nps by user, all",
            "/api/v1/reports/nps",
            {"group_by": "user", "format": "csv"},
            [nps_baseline("user")],
            check_nps,
            [nps_two_step("user")],
            goal=False,
        )
    )
    out.append(
        Report(
            "trend: nps by quarter",
            "/api/v1/reports/nps",
            {"group_by": "none", "period": "quarter"},
            [nps_baseline("none", period=True)],
            check_nps,
            [nps_two_step("none", period=True)],
        )
    )
    out.append(
        Report(
            "trend: plan x quarter",
            "/api/v1/reports/nps",
            {"group_by": "plan", "period": "quarter"},
            [nps_baseline("plan", period=True)],
            check_nps,
            [nps_two_step("plan", period=True)],
        )
    )
    for dimension in ("plan", "industry", "company_size", "csm", "manager", "role", "trait:team"):
        key, join = KEYS[dimension]
        out.append(
            Report(
                f"segments: {dimension}",
                "/api/v1/reports/segments",
                {"dimension": dimension},
                [segment_baseline(key, join)],
                check_segments,
            )
        )
    out.append(
        Report(
            "quadrant",
            "/api/v1/reports/quadrant",
            {},
            [QUADRANT_BASELINE],
            check_quadrant,
            [QUADRANT_TWO_STEP],
        )
    )
    out.append(
        Report(
            "churn",
            "/api/v1/reports/churn",
            {},
            [CHURN_BASELINE, CHURN_EVENTS_BASELINE],
            check_churn,
        )
    )
    out.append(
        Report(
            "responses: promoters",
            "/api/v1/reports/responses",
            {"category": "promoter"},
            RESPONSES_BASELINE,
            check_responses,
        )
    )
    # the filters' dropdowns: the API's, one dimension a call; the pages' (segments,
    # comments), every dimension from one pass, called in the bench process
    for dimension, baseline in CHOICE_BASELINES.items():
        out.append(
            Report(
                f"choices: {dimension}",
                "/api/v1/reports/choices",
                {"dimension": dimension},
                [baseline],
                check_choices,
            )
        )
    for local, name in (
        ("page_choices", "page choices"),
        ("page_choices_repeat", "page choices again"),
    ):
        out.append(
            Report(
                f"{name} (in-process)",
                "",
                {},
                [PAGE_CHOICES_GROUPING_SETS],
                check_page_choices,
                [PAGE_CHOICES_TWO_STEP],
                local=local,
            )
        )
    # a filter in another case than the data's, the same filter as spelt in the data, and
    # the hand-written SQL with a plain equality
    for value in ("FREE", "free"):
        out.append(
            Report(
                f"nps by csm, plan={value}",
                "/api/v1/reports/nps",
                {"group_by": "csm", "plan": value},
                [nps_baseline("csm", where="r.plan = 'free'")],
                check_nps,
                [nps_two_step("csm", where="r.plan = 'free'")],
            )
        )
    return out


# the pages with the dropdowns, over HTTP: `from` a day before every answer, another day
# for each view of each page, so every view is a new period (no dropdowns cached by an
# earlier view) over the same answers; then the same address again (the dropdowns of the
# view before, if kept)
PAGES = ("/reports/segments", "/reports/comments")


def before_answers(days: int) -> str:
    """A `from` day `days` days before the first answer."""
    from datetime import date, timedelta

    return (date.fromisoformat(FIRST_DAY) - timedelta(days=days)).isoformat()


# -- server, HTTP ---------------------------------------------------------------------------


async def pg_admin(sql: str) -> Any:
    import asyncpg

    connection = await asyncpg.connect(ADMIN_URL, timeout=10)
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


def child_env(database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDBACK_")}
    env.update(
        FEEDBACK_DATABASE_URL=database_url,
        FEEDBACK_SECRET_KEY=secrets.token_urlsafe(32),
        FEEDBACK_ENV="production",
        FEEDBACK_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    return env


def get(port: int, path: str, token: str | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak resident set) of a process, in KiB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def create_token(env: dict[str, str]) -> str:
    made = subprocess.run(
        [sys.executable, "-m", "feedback", "tokens", "create", "--role", "analyst"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        raise SystemExit(f"token create failed:\n{made.stdout}{made.stderr}")
    return made.stdout.strip().splitlines()[-1]


# -- measuring --------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    service: float
    naive: float
    two_step: float | None
    groups: str
    mismatch: str
    goal: bool = True

    @property
    def baseline(self) -> float:
        return min(self.naive, self.two_step) if self.two_step is not None else self.naive


async def time_baseline(connection: Any, queries: list[str]) -> tuple[float, list[Any]]:
    started = time.perf_counter()
    first: list[Any] = []
    for index, sql in enumerate(queries):
        rows = await connection.fetch(sql)
        if index == 0:
            first = rows
    return time.perf_counter() - started, first


def size_of(body: dict[str, Any]) -> str:
    """How many rows the answer has (a page: 'rows of all')."""
    if body and all(isinstance(v, list) for v in body.values()):  # the pages' dropdowns
        return f"{sum(len(v) for v in body.values())} in {len(body)}"
    for key in ("groups", "segments", "accounts", "responses", "choices"):
        if isinstance(body.get(key), list):
            total = body.get("total_groups")
            if total is not None and total > len(body[key]):
                return f"{len(body[key])} of {total}"
            return str(len(body[key]))
    return str(len(body.get("survival_days", [])))


async def call_local(local: str) -> tuple[float, dict[str, Any]]:
    """A service function called in the bench process (its database opened by `measure`):
    the pages' dropdowns for an analyst, every dimension, no period."""
    from feedback.kernel.cache import forget_configuration
    from feedback.kernel.principal import Principal, Role
    from feedback.reports.choices import DIMENSIONS, page_choices

    if local == "page_choices":
        forget_configuration()  # a cold call: whatever the process remembered is gone
    started = time.perf_counter()
    body = await page_choices(Principal(Role.analyst, "bench", "api"), DIMENSIONS)
    return time.perf_counter() - started, body


async def measure(dsn: str, port: int, token: str, runs: int, only: str | None) -> list[Row]:
    import asyncpg

    from feedback.db import close_database, open_database

    # the baselines get the memory the service gives its report queries (REPORT_WORK_MEM)
    from feedback.reports.services import REPORT_WORK_MEM

    connection = await asyncpg.connect(
        dsn, timeout=30, server_settings={"work_mem": REPORT_WORK_MEM}
    )
    selected = [r for r in reports() if not only or only in r.name]
    local = any(r.local for r in selected)
    if local:  # the environment is the server's (main)
        await open_database(pool_size=2)
    rows = []
    try:
        for report in selected:
            path = report.path + ("?" + urlencode(report.params) if report.params else "")
            service_times, naive_times, two_step_times = [], [], []
            body: dict[str, Any] = {}
            baseline_rows: list[Any] = []
            two_step_rows: list[Any] = []
            raw: Any  # the answer's bytes, or what a local call returned
            # one warm-up of each (caches, lazy imports), then alternate them
            for run in range(runs + 1):
                if report.local:
                    elapsed, raw = await call_local(report.local)
                else:
                    started = time.perf_counter()
                    status, raw = await asyncio.to_thread(get, port, path, token)
                    elapsed = time.perf_counter() - started
                    if status != 200:
                        raise SystemExit(f"{path}: HTTP {status}: {raw[:500]!r}")
                naive, baseline_rows = await time_baseline(connection, report.baseline)
                if report.two_step:
                    two_step, two_step_rows = await time_baseline(connection, report.two_step)
                if run:
                    service_times.append(elapsed)
                    naive_times.append(naive)
                    if report.two_step:
                        two_step_times.append(two_step)
                elif report.local:
                    body = raw
                else:
                    body = (
                        csv_body(raw) if report.params.get("format") == "csv" else json.loads(raw)
                    )
            mismatch = report.check(body, baseline_rows)
            if report.two_step and not mismatch:
                mismatch = report.check(body, two_step_rows)
            rows.append(
                Row(
                    report.name,
                    statistics.median(service_times),
                    statistics.median(naive_times),
                    statistics.median(two_step_times) if two_step_times else None,
                    size_of(body),
                    mismatch,
                    report.goal,
                )
            )
            print(f"  measured {report.name}", file=sys.stderr, flush=True)
    finally:
        await connection.close()
        if local:
            await close_database()
    return rows


@dataclass
class PageRow:
    path: str
    new_period: float  # median of views with a period not seen before
    repeat: float  # median of views of the same address again


def measure_pages(port: int, token: str, runs: int, only: str | None) -> list[PageRow]:
    """The pages that show the dropdowns, over HTTP (a bearer token works on pages too)."""
    out = []
    for index, path in enumerate(PAGES):
        if only and only not in f"page: {path}":
            continue
        fresh: list[float] = []
        again: list[float] = []
        days = 1 + index * (runs + 1)
        get(port, f"{path}?from={before_answers(days)}", token)  # warm-up
        for run in range(1, runs + 1):
            address = f"{path}?from={before_answers(days + run)}"
            for times in (fresh, again):
                started = time.perf_counter()
                status, raw = get(port, address, token)
                times.append(time.perf_counter() - started)
                if status != 200:
                    raise SystemExit(f"{address}: HTTP {status}: {raw[:300]!r}")
        out.append(PageRow(path, statistics.median(fresh), statistics.median(again)))
        print(f"  measured page {path}", file=sys.stderr, flush=True)
    return out


def table(rows: list[Row]) -> str:
    lines = [
        f"{'report':<32} {'rows':>16} {'service s':>9} {'SQL 1-step':>10} {'SQL 2-step':>10}"
        f" {'ratio':>6}  goal  counts",
        "-" * 104,
    ]
    for r in rows:
        ratio = r.service / r.baseline if r.baseline else float("inf")
        goal = "ok" if r.service <= GOAL_SECONDS and ratio <= GOAL_RATIO else "MISS"
        goal = goal if r.goal else "-"
        two = f"{r.two_step:>10.3f}" if r.two_step is not None else f"{'-':>10}"
        lines.append(
            f"{r.name:<32} {r.groups:>16} {r.service:>9.3f} {r.naive:>10.3f} {two}"
            f" {ratio:>6.2f}  {goal:<4}  {'same' if not r.mismatch else 'DIFFER: ' + r.mismatch}"
        )
    lines.append(
        "ratio = service / the faster SQL baseline; SQL 1-step = one GROUP BY with "
        "COUNT(DISTINCT account), 2-step = per segment and account, then per segment; "
        "both with the service's work_mem; by account and user a page of 100 groups and the "
        "total, by hand with ORDER BY ... LIMIT and COUNT(*) OVER (); goal '-': an export, "
        "not held to the goal; the pages' dropdowns (page choices): 1-step = GROUPING SETS, "
        "2-step = per combination of plan, role, industry, size and CSM, then per dimension"
    )
    return "\n".join(lines)


def extras(rows: list[Row], pages: list[PageRow]) -> str:
    """What the rows mean together: the cost of matching a filter whatever its case, and
    what a page's dropdowns cost of the page."""
    by_name = {r.name: r for r in rows}
    lines = []
    folded, exact = by_name.get("nps by csm, plan=FREE"), by_name.get("nps by csm, plan=free")
    if folded and exact:
        lines.append(
            f"case-insensitive filter: plan=FREE {folded.service:.3f} s, plan=free "
            f"{exact.service:.3f} s (x{folded.service / exact.service:.2f}), hand-written "
            f"SQL with plan = 'free' {exact.baseline:.3f} s"
        )
    cold = by_name.get("page choices (in-process)")
    for page in pages:
        share = ""
        if cold:
            share = (
                f"; the dropdowns alone (page choices, cold, in-process) {cold.service:.3f} s"
                f" = {cold.service / page.new_period:.0%} of it"
            )
        lines.append(
            f"page {page.path}: a new period {page.new_period:.3f} s{share}; "
            f"the same address again {page.repeat:.3f} s"
        )
    return "\n".join(lines)


def database_name(text: str) -> str:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", text):
        raise argparse.ArgumentTypeError("lower-case letters, digits and _, e.g. bench_mine")
    return text


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5, help="timed runs per report (median)")
    parser.add_argument("--only", default=None, help="only reports whose name contains this")
    parser.add_argument(
        "--keep", action="store_true", help="keep the database (and reuse a kept one)"
    )
    parser.add_argument(
        "--database",
        default=DATABASE,
        type=database_name,
        help=f"the database to create (and drop) on the local server, default {DATABASE}",
    )
    args = parser.parse_args()
    database = args.database

    dsn = with_database(ADMIN_URL, database)
    exists = asyncio.run(pg_admin(f"SELECT 1 FROM pg_database WHERE datname = '{database}'"))
    if exists and not args.keep:
        asyncio.run(pg_admin(f'DROP DATABASE "{database}" WITH (FORCE)'))
        exists = None

    def stop(signum: int, _: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, stop)
    code = 1
    try:
        env = child_env(dsn)
        generated: dict[str, Any] | None = None
        if not exists:
            asyncio.run(pg_admin(f'CREATE DATABASE "{database}"'))
            migrated = subprocess.run(
                [sys.executable, "-m", "feedback", "migrate"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if migrated.returncode != 0:
                raise SystemExit(f"migrate failed:\n{migrated.stdout}{migrated.stderr}")
            print("generating ...", file=sys.stderr, flush=True)
            generated = asyncio.run(generate(dsn, args.responses, args.users, args.accounts))
        else:
            # a kept database: bring its schema up to date (new indexes) before measuring
            subprocess.run(
                [sys.executable, "-m", "feedback", "migrate"], cwd=ROOT, env=env, check=True
            )
        token = create_token(env)
        port = free_port()
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "server.log"
            # the dropdowns measured in this process open the same database as the server
            os.environ.update({k: v for k, v in env.items() if k.startswith("FEEDBACK_")})
            with server(env, port, 1, log) as pid:
                started = memory_kib(pid)
                rows = asyncio.run(measure(dsn, port, token, args.runs, args.only))
                pages = measure_pages(port, token, args.runs, args.only)
                memory = memory_kib(pid)
        print(f"machine: {machine()}")
        print(f"database: PostgreSQL {database} on {HOST}; server: feedback serve, 1 process")
        if generated:
            print(
                f"data: {generated['response']:,} responses, {generated['end_user']:,} users, "
                f"{generated['account']:,} accounts, {generated['csm']} CSMs, "
                f"{generated['churn_event']:,} churn events; generated in "
                f"{generated['seconds']:.1f} s"
            )
        else:
            print("data: reused a kept database (generation not timed in this run)")
        print(f"timing: median of {args.runs} runs per report, service over HTTP vs SQL baseline")
        print(table(rows))
        print(extras(rows, pages))
        print(
            f"service memory: {started['VmRSS'] / 1024:.0f} MiB resident after start-up, "
            f"peak {memory['VmHWM'] / 1024:.0f} MiB (VmHWM)"
        )
        missed = [
            r.name
            for r in rows
            if r.goal and (r.service > GOAL_SECONDS or r.service > GOAL_RATIO * r.baseline)
        ]
        print(
            "goal (<= 1 s and <= 2 x SQL): "
            + ("met by every report" if not missed else "missed by " + ", ".join(missed))
        )
        code = 1 if any(r.mismatch for r in rows) else 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        code = 130
    finally:
        if not args.keep:
            asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            print(f"dropped database {database}")
    sys.exit(code)


if __name__ == "__main__":
    main()
