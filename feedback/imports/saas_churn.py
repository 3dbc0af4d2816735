"""Turn shared/data/saas_churn.csv into accounts, one scored response each, and churn events.

Each row is one customer observed for `months_active` months from `observed_from`; its
`csat_score` (0-10) is taken as the NPS answer given at the start of the observation.
`months_active` is the customer's tenure in the study: the account's `observed_until` is that
many months after the start, and `churned == 1` becomes a termination notice noticed and
effective then. A customer that did not churn is so censored at the end of its months, not
at the time a report is asked for (docs/churn.md).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from feedback.imports.parsing import (
    CellError,
    FileError,
    RowError,
    SourceRow,
    decode,
    read_csv,
)
from feedback.imports.services import Importer, ImportResult

DAYS_PER_MONTH = 30.4375
MAX_MONTHS = 1200  # a hundred years: anything longer is a broken cell
REQUIRED = ("csat_score", "company_size", "months_active", "churned")
TRAIT_COLUMNS = (
    "product_data_storage",
    "product_travel_expense",
    "product_payroll",
    "product_accounting",
    "articles_viewed",
    "smartphone_notifications_viewed",
    "marketing_emails_clicked",
    "social_media_ads_viewed",
    "minutes_customer_support",
    "us_region",
)


def account_id(number: int) -> str:
    return f"saas-churn-{number:04d}"


def _number(row: SourceRow, column: str) -> float:
    try:
        return float(row.values[column])
    except ValueError:
        raise CellError(f"not a number: {row.values[column]!r}") from None


async def import_saas_churn(
    importer: Importer, data: bytes, observed_from: str
) -> list[ImportResult]:
    try:
        start_date = date.fromisoformat(observed_from)
    except ValueError:
        result = ImportResult(kind="saas-churn")
        result.errors.append(RowError(0, "observed_from", "expected YYYY-MM-DD"))
        return [result]
    start = datetime.combine(start_date, time(0), tzinfo=UTC)
    result = ImportResult(kind="saas-churn")
    try:
        header, source_rows = read_csv(decode(data))
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise FileError(RowError(1, missing[0], "required column is missing"))
        rows = list(source_rows)
    except FileError as exc:
        result.errors.append(exc.error)
        return [result]

    accounts: list[SourceRow] = []
    responses: list[SourceRow] = []
    churn: list[SourceRow] = []
    for number, row in enumerate(rows, start=1):
        try:
            months = _number(row, "months_active")
            churned = _number(row, "churned")
        except CellError as exc:
            result.errors.append(RowError(row.line, "months_active/churned", str(exc)))
            continue
        if not 0 <= months <= MAX_MONTHS:
            result.errors.append(
                RowError(row.line, "months_active", f"must be between 0 and {MAX_MONTHS}")
            )
            continue
        ident = account_id(number)
        ended = start + timedelta(days=round(months * DAYS_PER_MONTH))
        traits = {c: row.values[c] for c in TRAIT_COLUMNS if c in row.values}
        accounts.append(
            SourceRow(
                row.line,
                {
                    "external_id": ident,
                    "name": f"Customer {number:04d}",
                    "company_size": row.values["company_size"],
                    "created_at": start.isoformat(),
                    "observed_until": ended.isoformat(),
                    **traits,
                },
            )
        )
        responses.append(
            SourceRow(
                row.line,
                {
                    "account_id": ident,
                    "user_id": f"{ident}-user",
                    "score": row.values["csat_score"],
                    "answered_at": start.isoformat(),
                    "response_id": ident,
                },
            )
        )
        if churned >= 1:
            churn.append(
                SourceRow(
                    row.line,
                    {
                        "account_id": ident,
                        "noticed_at": ended.isoformat(),
                        "effective_at": ended.isoformat(),
                        "kind": "termination_notice",
                        "reason": f"churned after {months:g} months (saas_churn.csv)",
                        "event_id": ident,
                    },
                )
            )
    if result.errors:
        return [result]
    results = []
    account_header = [
        "external_id",
        "name",
        "company_size",
        "created_at",
        "observed_until",
        *(c for c in TRAIT_COLUMNS if c in header),
    ]
    for kind, kind_header, kind_rows in (
        ("accounts", account_header, accounts),
        ("responses", ["account_id", "user_id", "score", "answered_at", "response_id"], responses),
        (
            "churn",
            ["account_id", "noticed_at", "effective_at", "kind", "reason", "event_id"],
            churn,
        ),
    ):
        outcome = await importer.run(kind, kind_header, kind_rows)
        results.append(outcome)
        if not outcome.ok and not importer.skip_invalid:
            break
    return results
