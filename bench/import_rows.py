"""Benchmark: import 100,000 rows per kind into a fresh database (SQLite by default).

Prints rows/second for each kind and the ratio to a baseline measured in the same run:
plain `sqlite3.executemany` of the same number of rows into a table of the same width
(what the raw storage engine can do, with no parsing, validation or upsert logic).

    .venv/bin/python bench/import_rows.py [--rows 100000] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path


def make_csv(kind: str, rows: int, accounts: int) -> str:
    rng = random.Random(7)
    lines: list[str] = []
    if kind == "accounts":
        lines.append("external_id,name,plan,industry,employee_count,arr,renewal_date,region")
        for n in range(rows):
            lines.append(
                f"acct-{n},Company {n},{rng.choice(['free', 'paid', 'premium'])},Software,"
                f"{rng.randint(1, 5000)},{rng.randint(0, 250000)}.00,2027-0{rng.randint(1, 9)}-15,"
                f"{rng.choice(['EMEA', 'AMER', 'APAC'])}"
            )
    elif kind == "users":
        lines.append("external_id,account_id,role,email,locale")
        for n in range(rows):
            lines.append(f"user-{n},acct-{n % accounts},admin,u{n}@example.com,en")
    else:
        lines.append("response_id,account_id,user_id,score,comment,answered_at")
        for n in range(rows):
            lines.append(
                f"r-{n},acct-{n % accounts},user-{n},{rng.randint(0, 10)},"
                f'"Fine, mostly",2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:00:00Z'
            )
    return "\n".join(lines) + "\n"


def baseline(rows: int, width: int) -> float:
    """Seconds for sqlite3.executemany of `rows` rows of `width` text columns."""
    with tempfile.TemporaryDirectory() as tmp:
        connection = sqlite3.connect(Path(tmp) / "baseline.sqlite3")
        columns = ", ".join(f"c{i} TEXT" for i in range(width))
        connection.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, {columns})")
        data = [tuple(f"value-{n}-{i}" for i in range(width)) for n in range(rows)]
        marks = ", ".join("?" for _ in range(width))
        started = time.perf_counter()
        with connection:
            connection.executemany(f"INSERT INTO t VALUES (NULL, {marks})", data)  # noqa: S608
        elapsed = time.perf_counter() - started
        connection.close()
    return elapsed


async def run(rows: int) -> list[tuple[str, int, float]]:
    from feedback.db import close_database, migrate, open_database
    from feedback.imports.parsing import read_csv
    from feedback.imports.services import Importer

    await migrate()
    await open_database()
    results = []
    try:
        accounts = min(rows, 20_000)
        for kind in ("accounts", "users", "responses"):
            text = make_csv(kind, rows, accounts)
            started = time.perf_counter()
            header, source_rows = read_csv(text)
            result = await Importer().run(kind, header, source_rows)
            elapsed = time.perf_counter() - started
            if not result.ok:
                raise SystemExit(f"{kind}: {result.errors[:3]}")
            results.append((kind, result.created, elapsed))
    finally:
        await close_database()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="feedback-bench-")
    os.environ["FEEDBACK_DATABASE_URL"] = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    results = asyncio.run(run(args.rows))
    base = baseline(args.rows, 8)
    print(f"database: {os.environ['FEEDBACK_DATABASE_URL'].split('@')[-1]}")
    print(
        f"baseline sqlite3.executemany, {args.rows} rows x 8 columns: {base:.2f} s "
        f"({args.rows / base:,.0f} rows/s)"
    )
    for kind, created, elapsed in results:
        print(
            f"import {kind:9s} {created:>7} rows: {elapsed:6.2f} s "
            f"({created / elapsed:>8,.0f} rows/s), {elapsed / base:5.1f}x baseline"
        )


if __name__ == "__main__":
    main()
