"""Where things are: the repository, and the shared case-study data beside it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
SAAS_CHURN = SHARED_DATA / "saas_churn.csv"
