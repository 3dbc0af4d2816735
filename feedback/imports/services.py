"""Import CSV files or JSON rows: validate everything first, then upsert in one transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from piccolo.columns import JSONB
from piccolo.columns import Column as DbColumn
from piccolo.table import Table

from feedback.accounts.models import CSM, Account, AccountStatus, ChurnEvent, ChurnKind, EndUser
from feedback.accounts.services import (
    apply_due_churn,
    promote_to_production,
    promote_users_to_production,
)
from feedback.auth.services import audit
from feedback.db import (
    INSERT_CHUNK_ROWS,
    bulk_upsert,
    refresh_planner_statistics,
    write_transaction,
)
from feedback.imports.kinds import KINDS, ParsedRows, parse_rows
from feedback.imports.parsing import FileError, RowError, SourceRow, company_size_band
from feedback.kernel.clock import utcnow
from feedback.kernel.environments import PRODUCTION
from feedback.responses.models import Response
from feedback.surveys.identify import forget_accounts

MAX_REPORTED_ERRORS = 1000
# PostgreSQL plans the next import's lookups from table statistics; right after a bulk load
# they still describe an empty table and a 20,000-key lookup becomes sequential scans
# (measured: 6.2 s instead of 0.3 s), so a large import refreshes them.
ANALYZE_AFTER_ROWS = 1000
TABLES_WRITTEN = {
    "csms": ("csm",),
    "accounts": ("account",),
    "users": ("end_user",),
    "churn": ("churn_event",),
    "responses": ("end_user", "response"),
}


@dataclass
class ImportResult:
    kind: str
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    written: bool = False
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "rows": self.rows,
            "valid": self.valid,
            "invalid": self.invalid,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "written": self.written,
            "dry_run": self.dry_run,
            "error_count": len(self.errors),
            "errors": [e.as_dict() for e in self.errors[:MAX_REPORTED_ERRORS]],
        }


class _Abort(Exception):
    """Raised inside the transaction to roll it back when references do not resolve."""


def chunks(items: Sequence[Any], size: int = INSERT_CHUNK_ROWS) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def lookup(
    key_column: DbColumn, keys: Iterable[Any], *columns: DbColumn
) -> dict[Any, dict[str, Any]]:
    """Rows whose key is in `keys`, by key (chunked so SQLite's parameter limit holds)."""
    table = key_column._meta.table
    wanted = sorted({k for k in keys if k is not None})
    found: dict[Any, dict[str, Any]] = {}
    key_name = key_column._meta.name
    for chunk in chunks(wanted):
        rows = await table.select(key_column, table._meta.primary_key, *columns).where(
            key_column.is_in(list(chunk))
        )
        for row in rows:
            found[row[key_name]] = row
    return found


async def upsert(
    table: type[Table],
    records: list[dict[str, Any]],
    key: DbColumn,
    update: Sequence[str],
) -> None:
    """Insert records; on a key conflict update `update` columns, or do nothing when empty.

    Columns a record leaves out get the table's defaults (timestamps: now).
    """
    if not records:
        return
    now = utcnow()
    names = list(dict.fromkeys(name for record in records for name in record))
    present = {c._meta.name for c in table._meta.columns}
    names += [s for s in ("created_at", "updated_at") if s in present and s not in names]
    json_columns = {c._meta.name for c in table._meta.columns if isinstance(c, JSONB)}
    defaults = {name: table._meta.get_column_by_name(name).get_default_value() for name in names}
    rows = []
    for record in records:
        row = []
        for name in names:
            value = record[name] if name in record else defaults[name]
            if name in ("created_at", "updated_at") and name not in record:
                value = now
            if name in json_columns:
                value = json.dumps(value if value is not None else {})
            elif isinstance(value, Enum):
                value = value.value
            row.append(value)
        rows.append(row)
    await bulk_upsert(table._meta.tablename, names, rows, key._meta.name, list(update))


def _json_object(value: Any) -> dict[str, Any]:
    """A JSON column read without Piccolo's decoding (text on SQLite, str from asyncpg)."""
    if isinstance(value, str):
        value = json.loads(value or "{}")
    return value if isinstance(value, dict) else {}


def _hash_key(*parts: Any) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def row_key(kind: str, values: dict[str, Any]) -> str:
    if kind == "churn":
        if values.get("event_id"):
            return "event:" + values["event_id"]
        noticed = values["noticed_at"].date().isoformat()
        return f"{values['account_id']}:{values.get('kind') or 'termination_notice'}:{noticed}"
    if kind == "responses":
        if values.get("response_id"):
            return "import:" + values["response_id"]
        return "import:" + _hash_key(
            values["account_id"],
            values["user_id"],
            values["answered_at"].isoformat(),
            values["score"],
        )
    return values[KINDS[kind].key]


class Importer:
    """One import run; `actor` and `source` go to the audit log."""

    def __init__(
        self,
        *,
        skip_invalid: bool = False,
        dry_run: bool = False,
        actor: str = "cli",
        source: str = "cli",
    ) -> None:
        self.skip_invalid = skip_invalid
        self.dry_run = dry_run
        self.actor = actor
        self.source = source

    async def run(
        self, kind_name: str, header: list[str], rows: Iterable[SourceRow]
    ) -> ImportResult:
        """Parse the rows here, then write them (`write`)."""
        try:
            parsed = parse_rows(KINDS[kind_name], header, rows)
        except FileError as exc:
            return self.refused(kind_name, exc.error)
        return await self.write(parsed)

    def refused(self, kind_name: str, error: RowError) -> ImportResult:
        """The result of a file that could not be read at all."""
        result = ImportResult(kind=kind_name, dry_run=self.dry_run)
        result.errors.append(error)
        return result

    async def write(self, parsed: ParsedRows) -> ImportResult:
        """Rows parsed already (the API parses in a worker thread): all or nothing, or the
        valid ones with `skip_invalid`."""
        kind_name = parsed.kind.name
        result = ImportResult(kind=kind_name, dry_run=self.dry_run)
        result.errors.extend(parsed.errors)
        result.rows = len(parsed.rows) + len(parsed.invalid_lines)
        if parsed.header_failed:
            return result
        self._drop_duplicates(parsed, result)
        try:
            async with write_transaction():
                await getattr(self, "_write_" + kind_name)(parsed, result)
                if self.dry_run or (result.errors and not self.skip_invalid):
                    raise _Abort
                result.written = True
                if result.created or result.updated:
                    await audit(
                        self.actor,
                        self.source,
                        f"import.{kind_name}",
                        detail={
                            "rows": result.rows,
                            "created": result.created,
                            "updated": result.updated,
                            "invalid": result.invalid,
                        },
                    )
        except _Abort:
            result.written = False
        if result.written and result.created + result.updated >= ANALYZE_AFTER_ROWS:
            await refresh_planner_statistics(TABLES_WRITTEN[kind_name])
        result.errors.sort(key=lambda e: (e.line, e.column))
        result.invalid = len(parsed.invalid_lines)
        result.valid = result.rows - result.invalid
        if not result.written and not self.dry_run:
            result.created = result.updated = result.unchanged = 0
        return result

    def _drop_duplicates(self, parsed: ParsedRows, result: ImportResult) -> None:
        first_line: dict[str, int] = {}
        kept: list[tuple[int, dict[str, Any]]] = []
        for line, values in parsed.rows:
            key = row_key(parsed.kind.name, values)
            values["_key"] = key
            if key in first_line:
                result.errors.append(
                    RowError(
                        line,
                        parsed.kind.key if parsed.kind.key in values else "",
                        f"same {parsed.kind.key} as line {first_line[key]}",
                    )
                )
                parsed.invalid_lines.add(line)
                continue
            first_line[key] = line
            kept.append((line, values))
        parsed.rows = kept

    def _reject(
        self, parsed: ParsedRows, result: ImportResult, line: int, column: str, reason: str
    ) -> None:
        result.errors.append(RowError(line, column, reason))
        parsed.invalid_lines.add(line)

    def _keep_resolved(self, parsed: ParsedRows) -> list[tuple[int, dict[str, Any]]]:
        return [(line, v) for line, v in parsed.rows if line not in parsed.invalid_lines]

    async def _count_existing(
        self, key: DbColumn, rows: list[tuple[int, dict[str, Any]]], result: ImportResult
    ) -> dict[Any, dict[str, Any]]:
        existing = await lookup(key, (v["_key"] for _, v in rows))
        result.updated = sum(1 for _, v in rows if v["_key"] in existing)
        result.created = len(rows) - result.updated
        return existing

    async def _csm_ids(
        self, parsed: ParsedRows, result: ImportResult, column: str
    ) -> dict[str, int]:
        emails = {v.get(column) for _, v in parsed.rows}
        found = {email: row["id"] for email, row in (await lookup(CSM.email, emails)).items()}
        for line, values in parsed.rows:
            email = values.get(column)
            if email and email not in found:
                self._reject(
                    parsed, result, line, column, f"no CSM with email {email!r}: import csms first"
                )
        return found

    async def _account_rows(
        self, parsed: ParsedRows, result: ImportResult, *columns: DbColumn
    ) -> dict[str, dict[str, Any]]:
        found = await lookup(
            Account.external_id, (v["account_id"] for _, v in parsed.rows), *columns
        )
        for line, values in parsed.rows:
            if values["account_id"] not in found:
                self._reject(
                    parsed,
                    result,
                    line,
                    "account_id",
                    f"no account {values['account_id']!r}: import accounts first",
                )
        return found

    # -- one writer per kind ------------------------------------------------------------

    async def _write_csms(self, parsed: ParsedRows, result: ImportResult) -> None:
        in_file = {v["email"] for _, v in parsed.rows}
        managers = await lookup(CSM.email, (v.get("manager_email") for _, v in parsed.rows))
        for line, values in parsed.rows:
            manager = values.get("manager_email")
            if manager and manager == values["email"]:
                self._reject(parsed, result, line, "manager_email", "a CSM cannot manage itself")
            elif manager and manager not in in_file and manager not in managers:
                self._reject(
                    parsed,
                    result,
                    line,
                    "manager_email",
                    f"no CSM with email {manager!r} in the database or this file",
                )
        rows = self._keep_resolved(parsed)
        await self._count_existing(CSM.email, rows, result)
        if self._stop(result):
            return
        present = set(parsed.columns)
        now = utcnow()
        records = [
            {
                "email": v["email"],
                "name": v["name"],
                "slack_user_id": v.get("slack_user_id"),
                "slack_channel": v.get("slack_channel"),
                "active": True if v.get("active") is None else v["active"],
                "kind": v.get("kind") or "dedicated",
                "meeting_url": v.get("meeting_url"),
                "updated_at": now,
            }
            for _, v in rows
        ]
        update = ["name", "updated_at"] + [
            c
            for c in ("slack_user_id", "slack_channel", "active", "kind", "meeting_url")
            if c in present
        ]
        records = await self._drop_unchanged(CSM.email, records, update, result)
        await upsert(CSM, records, CSM.email, update)
        if "manager_email" in present:
            ids = await lookup(CSM.email, in_file | {v.get("manager_email") for _, v in rows})
            by_manager: dict[int | None, list[str]] = {}
            for _, v in rows:
                manager = v.get("manager_email")
                by_manager.setdefault(ids[manager]["id"] if manager else None, []).append(
                    v["email"]
                )
            for manager_id, emails in by_manager.items():
                for chunk in chunks(emails):
                    await CSM.update({CSM.manager: manager_id}).where(CSM.email.is_in(list(chunk)))

    async def _write_accounts(self, parsed: ParsedRows, result: ImportResult) -> None:
        csm_ids = await self._csm_ids(parsed, result, "csm_email")
        rows = self._keep_resolved(parsed)
        existing_traits: dict[str, dict[str, Any]] = {}
        if parsed.trait_columns:
            existing_traits = await lookup(
                Account.external_id, (v["_key"] for _, v in rows), Account.traits.as_alias("traits")
            )
        await self._count_existing(Account.external_id, rows, result)
        if self._stop(result):
            return
        present = set(parsed.columns)
        now = utcnow()
        records = []
        for _, v in rows:
            size = v.get("company_size")
            if size is None and v.get("employee_count") is not None:
                size = company_size_band(v["employee_count"])
            record = {
                "external_id": v["external_id"],
                "name": v["name"],
                "plan": v.get("plan"),
                "industry": v.get("industry"),
                "employee_count": v.get("employee_count"),
                "company_size": size,
                "arr_cents": v.get("arr"),
                "currency": (v.get("currency") or "USD").upper(),
                "csm": csm_ids.get(email) if (email := v.get("csm_email")) else None,
                "renewal_date": v.get("renewal_date"),
                "status": v.get("status") or AccountStatus.active.value,
                "traits": _merge_traits(existing_traits.get(v["_key"]), v.get("traits")),
                # an account first seen through a test key is a real customer once imported
                "environment": PRODUCTION,
                "updated_at": now,
            }
            if v.get("created_at") is not None:
                record["created_at"] = v["created_at"]
            if "observed_until" in present:
                record["observed_until"] = v.get("observed_until")
            records.append(record)
        column_for = {"arr": "arr_cents", "csm_email": "csm"}
        update = ["name", "environment", "updated_at"] + [
            column_for.get(c, c) for c in parsed.columns if c not in ("external_id", "name")
        ]
        if "employee_count" in present and "company_size" not in present:
            update.append("company_size")
        if parsed.trait_columns:
            update.append("traits")
        records = await self._drop_unchanged(Account.external_id, records, update, result)
        await upsert(Account, records, Account.external_id, update)
        await apply_due_churn()
        forget_accounts()  # the widget's targeting in this process reads new plans at once

    async def _write_users(self, parsed: ParsedRows, result: ImportResult) -> None:
        accounts = await self._account_rows(parsed, result)
        rows = self._keep_resolved(parsed)
        existing_traits: dict[str, dict[str, Any]] = {}
        if parsed.trait_columns:
            existing_traits = await lookup(
                EndUser.external_id, (v["_key"] for _, v in rows), EndUser.traits.as_alias("traits")
            )
        await self._count_existing(EndUser.external_id, rows, result)
        if self._stop(result):
            return
        now = utcnow()
        records = [
            {
                "external_id": v["external_id"],
                "account": accounts[v["account_id"]]["id"],
                "role": v.get("role"),
                "email": v.get("email"),
                "locale": v.get("locale"),
                "first_seen_at": v.get("first_seen_at"),
                "last_seen_at": v.get("last_seen_at"),
                "traits": _merge_traits(existing_traits.get(v["_key"]), v.get("traits")),
                "updated_at": now,
            }
            for _, v in rows
        ]
        column_for = {"account_id": "account"}
        update = ["updated_at"] + [
            column_for.get(c, c) for c in parsed.columns if c != "external_id"
        ]
        if parsed.trait_columns:
            update.append("traits")
        records = await self._drop_unchanged(EndUser.external_id, records, update, result)
        await upsert(EndUser, records, EndUser.external_id, update)
        await promote_to_production(accounts[v["account_id"]]["id"] for _, v in rows)
        # a user first seen through a test key is a real person once imported
        await promote_users_to_production((v["external_id"] for _, v in rows), now)

    async def _write_churn(self, parsed: ParsedRows, result: ImportResult) -> None:
        accounts = await self._account_rows(parsed, result)
        rows = self._keep_resolved(parsed)
        for line, v in rows:
            if v.get("effective_at") and v["effective_at"] < v["noticed_at"]:
                self._reject(parsed, result, line, "effective_at", "is before noticed_at")
        rows = self._keep_resolved(parsed)
        await self._count_existing(ChurnEvent.dedupe_key, rows, result)
        if self._stop(result):
            return
        records = [
            {
                "dedupe_key": v["_key"],
                "account": accounts[v["account_id"]]["id"],
                "kind": v.get("kind") or ChurnKind.termination_notice.value,
                "noticed_at": v["noticed_at"],
                "effective_at": v.get("effective_at"),
                "reason": v.get("reason") or "",
            }
            for _, v in rows
        ]
        update = ["account", "kind", "noticed_at", "effective_at", "reason"]
        records = await self._drop_unchanged(ChurnEvent.dedupe_key, records, update, result)
        await upsert(ChurnEvent, records, ChurnEvent.dedupe_key, update)
        await apply_due_churn()

    async def _write_responses(self, parsed: ParsedRows, result: ImportResult) -> None:
        accounts = await self._account_rows(
            parsed,
            result,
            Account.plan,
            Account.industry,
            Account.company_size,
            Account.employee_count,
            Account.csm,
            Account.arr_cents,
            Account.traits,
        )
        csm_ids = await self._csm_ids(parsed, result, "csm_email")
        rows = self._keep_resolved(parsed)
        existing = await self._count_existing(Response.idempotency_key, rows, result)
        result.unchanged, result.updated = result.updated, 0
        if self._stop(result):
            return
        new_rows = [(line, v) for line, v in rows if v["_key"] not in existing]
        # answers from people the service has not seen yet: create them under their account
        now = utcnow()
        first_answer: dict[str, dict[str, Any]] = {}
        for _, v in new_rows:
            known = first_answer.get(v["user_id"])
            if known is None or v["answered_at"] < known["first_seen_at"]:
                first_answer[v["user_id"]] = {
                    "external_id": v["user_id"],
                    "account": accounts[v["account_id"]]["id"],
                    "role": v.get("role"),
                    "locale": v.get("locale"),
                    "first_seen_at": v["answered_at"],
                    "last_seen_at": v["answered_at"],
                    "updated_at": now,
                }
        await upsert(EndUser, list(first_answer.values()), EndUser.external_id, [])
        users = await lookup(
            EndUser.external_id, first_answer, EndUser.role, EndUser.locale, EndUser.traits
        )
        records = []
        for _, v in new_rows:
            account = accounts[v["account_id"]]
            user = users[v["user_id"]]
            records.append(
                {
                    "idempotency_key": v["_key"],
                    "source": "import",
                    "end_user": user["id"],
                    "account": account["id"],
                    "score": v["score"],
                    "comment": v.get("comment"),
                    "answered_at": v["answered_at"],
                    "commented_at": v["answered_at"] if v.get("comment") else None,
                    "locale": v.get("locale") or user["locale"],
                    "role": v.get("role") or user["role"],
                    "plan": v.get("plan") or account["plan"],
                    "industry": v.get("industry") or account["industry"],
                    "company_size": v.get("company_size") or account["company_size"],
                    "employee_count": account["employee_count"],
                    "csm": csm_ids[v["csm_email"]] if v.get("csm_email") else account["csm"],
                    "arr_cents": v["arr"] if v.get("arr") is not None else account["arr_cents"],
                    "traits": {**_json_object(account["traits"]), **_json_object(user["traits"])},
                }
            )
        await upsert(Response, records, Response.idempotency_key, [])
        await promote_to_production(accounts[v["account_id"]]["id"] for _, v in rows)
        await promote_users_to_production((v["user_id"] for _, v in rows), now)

    async def _drop_unchanged(
        self,
        key: DbColumn,
        records: list[dict[str, Any]],
        update: Sequence[str],
        result: ImportResult,
    ) -> list[dict[str, Any]]:
        """Leave out records equal to what is stored, so a repeated import writes nothing."""
        table = key._meta.table
        compared = [c for c in update if c != "updated_at"]
        columns = [table._meta.get_column_by_name(c) for c in compared]
        key_name = key._meta.name
        stored: dict[Any, dict[str, Any]] = {}
        for chunk in chunks([r[key_name] for r in records]):
            rows = (
                await table.select(key, *columns)
                .where(key.is_in(list(chunk)))
                .output(load_json=True)
            )
            stored.update((row[key_name], row) for row in rows)
        changed = []
        for record in records:
            old = stored.get(record[key_name])
            if old is not None and all(old[c] == record.get(c) for c in compared):
                result.updated -= 1
                result.unchanged += 1
            else:
                changed.append(record)
        return changed

    def _stop(self, result: ImportResult) -> bool:
        return bool(result.errors) and not self.skip_invalid


def _merge_traits(existing: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if existing:
        value = existing.get("traits")
        if isinstance(value, str):  # lookup() returns JSON columns as text
            value = json.loads(value or "{}")
        merged.update(value or {})
    merged.update(new or {})
    return merged
