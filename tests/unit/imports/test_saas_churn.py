"""saas_churn.csv's rows as the import sees them: `months_active` is each customer's tenure,
so the account is observed until that many months after the start, and a churned customer's
notice falls exactly there. No database: the importer parses every row as a real import does
and records what it would write."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from typing import Any

from feedback.imports.kinds import KINDS, ParsedRows, parse_rows
from feedback.imports.parsing import read_csv
from feedback.imports.saas_churn import DAYS_PER_MONTH, import_saas_churn
from feedback.imports.services import Importer, ImportResult
from tests.support.paths import SAAS_CHURN

START = datetime(2025, 1, 1, tzinfo=UTC)


class ParseOnly(Importer):
    """Parses each kind's rows for real and keeps them instead of writing them."""

    def __init__(self) -> None:
        super().__init__()
        self.parsed: dict[str, ParsedRows] = {}

    async def write(self, parsed: ParsedRows) -> ImportResult:
        self.parsed[parsed.kind.name] = parsed
        result = ImportResult(kind=parsed.kind.name, rows=len(parsed.rows))
        result.errors.extend(parsed.errors)
        return result


async def test_each_row_is_observed_for_its_months_active() -> None:
    importer = ParseOnly()
    results = await import_saas_churn(importer, SAAS_CHURN.read_bytes(), "2025-01-01")
    assert all(r.ok for r in results)
    with SAAS_CHURN.open(newline="") as handle:
        raw = list(csv.DictReader(handle))
    accounts = [values for _, values in importer.parsed["accounts"].rows]
    churn = {values["account_id"]: values for _, values in importer.parsed["churn"].rows}
    assert len(accounts) == len(raw)
    for row, account in zip(raw, accounts, strict=True):
        ended = START + timedelta(days=round(float(row["months_active"]) * DAYS_PER_MONTH))
        assert account["created_at"] == START
        assert account["observed_until"] == ended
        if float(row["churned"]) == 1.0:
            assert churn[account["external_id"]]["noticed_at"] == ended
        else:
            assert account["external_id"] not in churn
    assert len(churn) == sum(1 for row in raw if float(row["churned"]) == 1.0)


async def test_a_broken_months_active_is_a_row_error() -> None:
    header = "csat_score,company_size,months_active,churned\n"
    for cell in ("-1", "nan", "inf", "abc"):
        importer = ParseOnly()
        (result,) = await import_saas_churn(
            importer, (header + f"9,10-50,{cell},0\n").encode(), "2025-01-01"
        )
        assert not result.ok, cell
        assert result.errors[0].line == 2
        assert "months_active" in result.errors[0].column
        assert importer.parsed == {}


def test_the_accounts_import_takes_an_optional_observed_until() -> None:
    header, rows = read_csv(
        "external_id,name,observed_until\n"
        "a1,Acme,2026-03-31\n"
        "a2,Globex,2026-03-31T12:00:00+09:00\n"
        "a3,Initech,\n"
    )
    parsed = parse_rows(KINDS["accounts"], header, rows, cell_limit=1000)
    assert not parsed.errors
    values: dict[str, Any] = {v["external_id"]: v for _, v in parsed.rows}
    assert values["a1"]["observed_until"] == datetime(2026, 3, 31, tzinfo=UTC)
    assert values["a2"]["observed_until"] == datetime(2026, 3, 31, 3, tzinfo=UTC)
    assert values["a3"]["observed_until"] is None
    assert parsed.trait_columns == []  # a column of its own, not a custom trait
    header, rows = read_csv("external_id,name,observed_until\na1,Acme,last spring\n")
    bad = parse_rows(KINDS["accounts"], header, rows, cell_limit=1000)
    assert [(e.line, e.column) for e in bad.errors] == [(2, "observed_until")]


def test_the_accounts_kind_keeps_its_other_columns() -> None:
    names = [c.name for c in KINDS["accounts"].columns]
    assert names[0] == "external_id" and names[-1] == "observed_until"
    assert KINDS["accounts"].by_name["account_id"].name == "external_id"
