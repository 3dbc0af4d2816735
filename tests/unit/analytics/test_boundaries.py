"""analytics/ is pure computation: importing it loads no web or database code (nor scipy)."""

from __future__ import annotations

import subprocess
import sys


def test_analytics_imports_no_web_or_database_code() -> None:
    probe = (
        "import sys, analytics.nps, analytics.compare, analytics.churn, analytics.health, "
        "analytics.logistic, analytics.retention; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('litestar', 'piccolo', 'asyncpg', 'aiosqlite', 'feedback', 'scipy')]; "
        "print(','.join(sorted(bad)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""
