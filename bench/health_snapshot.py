"""Benchmark: the daily health snapshot for 20,000 accounts on PostgreSQL.

Generates a book in a fresh PostgreSQL database (accounts, 5 end users and 10 answers in
the last 180 days per account, 3 usage metrics per account per day for 30 days, 2% churned)
with server-side generate_series, then times `compute_snapshot` for one day (median of
--repeat runs; each run replaces the day). The baseline, measured in the same run, is the
plain SQL the snapshot is built on: the same two aggregate queries over the same tables,
fetched and discarded, with no scoring and no writes.

    .venv/bin/python bench/health_snapshot.py [--accounts 20000] [--admin-url URL] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from urllib.parse import urlsplit

GENERATE = [
    "INSERT INTO csm (name, email, active, created_at, updated_at) "
    "SELECT 'CSM ' || n, 'csm' || n || '@example.com', true, now(), now() "
    "FROM generate_series(1, 50) n",
    "INSERT INTO account (external_id, name, plan, arr_cents, currency, csm, status, traits, "
    "created_at, updated_at) "
    "SELECT 'acct-' || n, 'Company ' || n, (ARRAY['free','paid','premium'])[1 + n % 3], "
    "(random() * 25000000)::bigint, 'USD', 1 + n % 50, 'active', '{}', "
    "now() - interval '400 days', now() FROM generate_series(1, {accounts}) n",
    "INSERT INTO end_user (external_id, account, role, traits, created_at, updated_at) "
    "SELECT 'user-' || a.id || '-' || k, a.id, 'admin', '{}', now() - interval '300 days', now() "
    "FROM account a, generate_series(1, 5) k",
    "INSERT INTO response (idempotency_key, source, end_user, account, score, answered_at, "
    "created_at) "
    "SELECT 'r-' || u.id || '-' || k, 'import', u.id, u.account, (random() * 10)::int, "
    "now() - random() * interval '180 days', now() "
    "FROM end_user u, generate_series(1, 2) k",
    "INSERT INTO usage_metric (account, name, day, value, updated_at) "
    "SELECT a.id, m, (current_date - d), random() * 100, now() "
    "FROM account a, unnest(ARRAY['logins','reports_run','seats_active']) m, "
    "generate_series(0, 29) d",
    "INSERT INTO churn_event (dedupe_key, account, kind, noticed_at, effective_at, reason, "
    "created_at) "
    "SELECT 'churn-' || a.id, a.id, 'non_renewal', now() - interval '60 days', "
    "now() - interval '30 days', '', now() FROM account a WHERE a.id % 50 = 0",
]


async def admin_sql(admin_url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def run(accounts: int, repeat: int) -> dict[str, object]:
    from feedback.db import close_database, current_engine, migrate, open_database
    from feedback.health import snapshot

    await migrate()
    await open_database(pool_size=2)
    engine = current_engine()
    try:
        started = time.perf_counter()
        for statement in GENERATE:
            await engine.run_ddl(statement.replace("{accounts}", str(accounts)))
        for table in ("account", "end_user", "response", "usage_metric", "churn_event"):
            await engine.run_ddl(f"ANALYZE {table}")
        generated = time.perf_counter() - started
        counts = {
            t: (await engine.run_ddl(f"SELECT COUNT(*) AS n FROM {t}"))[0]["n"]  # noqa: S608
            for t in ("account", "end_user", "response", "usage_metric")
        }
        day = datetime.now(UTC).date() - timedelta(days=1)
        end = datetime.combine(day + timedelta(days=1), dtime(0), tzinfo=UTC)
        start = end - timedelta(days=snapshot.WINDOW_DAYS)
        middle = end - timedelta(days=snapshot.WINDOW_DAYS // 2)
        account_args = (middle, middle, middle, start, end, end, end, end)
        metric_args = (day, day - timedelta(days=snapshot.METRIC_STALE_DAYS))

        async def baseline_once() -> float:
            from feedback.health.models import HealthSnapshot

            t0 = time.perf_counter()
            await HealthSnapshot.raw(snapshot._ACCOUNTS_SQL, *account_args)
            await HealthSnapshot.raw(snapshot._METRICS_SQL, *metric_args)
            return time.perf_counter() - t0

        async def snapshot_once() -> tuple[float, int]:
            t0 = time.perf_counter()
            result = await snapshot.compute_snapshot(day, replace=True)
            return time.perf_counter() - t0, result.accounts

        await baseline_once()  # warm the cache for both
        baselines, runs, written = [], [], 0
        for _ in range(repeat):
            baselines.append(await baseline_once())
            elapsed, written = await snapshot_once()
            runs.append(elapsed)
        return {
            "generated_seconds": generated,
            "counts": counts,
            "day": day,
            "snapshot_accounts": written,
            "snapshot_runs": runs,
            "baseline_runs": baselines,
        }
    finally:
        await close_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get(
            "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server where a scratch database may be created",
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args()
    name = f"feedback_bench_health_{secrets.token_hex(3)}"
    asyncio.run(admin_sql(args.admin_url, f'CREATE DATABASE "{name}"'))
    url = urlsplit(args.admin_url)._replace(path="/" + name).geturl()
    os.environ["FEEDBACK_DATABASE_URL"] = url
    os.environ.setdefault("PICCOLO_CONF", "feedback.piccolo_conf")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    try:
        result = asyncio.run(run(args.accounts, args.repeat))
    finally:
        if not args.keep:
            asyncio.run(admin_sql(args.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    snap = statistics.median(result["snapshot_runs"])  # type: ignore[arg-type]
    base = statistics.median(result["baseline_runs"])  # type: ignore[arg-type]
    print(f"database: PostgreSQL {url.split('@')[-1]}")
    print(f"generated in {result['generated_seconds']:.1f} s: {result['counts']}")
    print(
        f"baseline (the snapshot's two aggregate queries, fetched only): median {base:.2f} s "
        f"of {[round(x, 2) for x in result['baseline_runs']]}"  # type: ignore[union-attr]
    )
    print(
        f"health snapshot {result['day']} for {result['snapshot_accounts']} accounts: "
        f"median {snap:.2f} s of {[round(x, 2) for x in result['snapshot_runs']]}, "  # type: ignore[union-attr]
        f"{snap / base:.2f}x baseline"
    )


if __name__ == "__main__":
    main()
