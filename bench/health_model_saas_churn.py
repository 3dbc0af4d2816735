"""Fit and validate the health model on shared/data/saas_churn.csv and print the figures.

    python bench/health_model_saas_churn.py [--csv PATH] [--with-usage]

Imports the file into a fresh SQLite database (like `feedback import saas-churn`), with
--with-usage also pushes its product-usage columns as usage metrics on the survey day, and
prints the model's validation. Every account in that file starts on the same day, so the
"out-of-time" split falls back to the file's order (train on the first 70%).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
USAGE = (
    "articles_viewed",
    "smartphone_notifications_viewed",
    "marketing_emails_clicked",
    "social_media_ads_viewed",
    "minutes_customer_support",
)


async def main(data: bytes, with_usage: bool, feature_days: int, horizon: int) -> None:
    from feedback.db import migrate
    from feedback.health.churn_model import health_model
    from feedback.health.usage_metrics import push_metrics
    from feedback.imports.saas_churn import account_id, import_saas_churn
    from feedback.imports.services import Importer
    from feedback.kernel.principal import Principal, Role

    await migrate()
    results = await import_saas_churn(Importer(), data, "2025-01-01")
    assert all(r.ok for r in results), [r.errors[:3] for r in results]
    if with_usage:
        rows = list(csv.DictReader(io.StringIO(data.decode())))
        items = [
            {
                "account_id": account_id(i),
                "metric": name,
                "day": "2025-01-01",
                "value": float(row[name]),
            }
            for i, row in enumerate(rows, start=1)
            for name in USAGE
        ]
        for start in range(0, len(items), 10_000):
            await push_metrics(items[start : start + 10_000])
    report = await health_model(
        Principal(role=Role.analyst, actor="bench", source="cli"),
        horizon_days=horizon,
        feature_days=feature_days,
    )
    print(json.dumps(report, default=str, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--csv", type=Path, default=ROOT.parent / "shared/data/saas_churn.csv")
    parser.add_argument("--with-usage", action="store_true")
    parser.add_argument("--feature-days", type=int, default=0)
    parser.add_argument("--horizon-days", type=int, default=365)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="health-model-")
    os.environ["FEEDBACK_DATABASE_URL"] = f"sqlite:///{folder}/model.sqlite3"
    os.environ.setdefault("PICCOLO_CONF", "feedback.piccolo_conf")
    sys.path.insert(0, str(ROOT))
    asyncio.run(main(args.csv.read_bytes(), args.with_usage, args.feature_days, args.horizon_days))
