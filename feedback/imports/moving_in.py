"""Moving in from Delighted, Pendo and Wootric (docs/moving-in.md).

A tool's module (`delighted`, `pendo`, `wootric`) reads its export files into a `Plan`: the
answers, what the files say about each person, and the addresses never to mail again. This
module turns the plan into end users, accounts, responses and suppressions: every row is
checked before anything is written, and everything is written in one transaction.

Imported answers are history: they go straight into the response table, never through the
rules queue, so no CTA, Slack message, mail or webhook is raised for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import msgspec

from feedback.accounts.models import Account, EndUser
from feedback.accounts.services import promote_to_production, promote_users_to_production
from feedback.auth.services import audit
from feedback.db import json_object, refresh_planner_statistics, write_transaction
from feedback.imports.kinds import MAX_COMMENT_CHARS, identifier
from feedback.imports.parsing import (
    CellError,
    FileError,
    RowError,
    decode,
    normalise_header,
    parse_datetime,
    parse_score,
    read_csv,
)
from feedback.imports.services import ANALYZE_AFTER_ROWS, ImportResult, lookup, upsert
from feedback.kernel.clock import utcnow
from feedback.mail.enqueue import normalize_address
from feedback.mail.models import Suppression, SuppressionReason
from feedback.responses.models import Response

TOOLS = ("delighted", "pendo", "wootric")
# the files a tool's import reads besides its answers, by the name the CLI and API use
PARTS = ("responses", "people", "unsubscribes", "bounces", "declines")
MAIN_PART = "responses"
MAX_TRAIT_CHARS = 2000
# the wrappers the tools' APIs put around a list, looked for in this order
WRAPPERS = (
    "survey_responses",
    "responses",
    "people",
    "end_users",
    "unsubscribes",
    "bounces",
    "declines",
    "results",
    "data",
    "rows",
    "items",
)


@dataclass(frozen=True)
class Options:
    """Which properties name the account and the user (normalised like column names)."""

    account_property: tuple[str, ...]
    account_name_property: tuple[str, ...] = ("account_name", "company_name", "company")
    user_property: tuple[str, ...] = ()
    default_account: str | None = None


def options_for(
    tool: str,
    *,
    account_property: str | None = None,
    account_name_property: str | None = None,
    user_property: str | None = None,
    default_account: str | None = None,
) -> Options:
    """A tool's defaults, with what the admin chose instead."""
    defaults = {
        "delighted": Options(("account_id", "company_id"), user_property=("customer_id",)),
        "pendo": Options(("account_id", "accountid", "account")),
        "wootric": Options(("account_id", "company_id")),
    }[tool]
    chosen = replace(defaults, default_account=(default_account or "").strip() or None)
    if account_property:
        chosen = replace(chosen, account_property=(normalise_header(account_property),))
    if account_name_property:
        chosen = replace(chosen, account_name_property=(normalise_header(account_name_property),))
    if user_property:
        chosen = replace(chosen, user_property=(normalise_header(user_property),))
    return chosen


# -- reading files -------------------------------------------------------------------------


@dataclass(frozen=True)
class Record:
    """One row of a file: its line (CSV, JSON lines) or position (a JSON list, 1 = first),
    and its values with names normalised like CSV headers (nested objects too)."""

    line: int
    values: dict[str, Any]


def _normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {normalise_header(str(k)): _normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    return value


def _unwrap(payload: Any) -> list[Any]:
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for name in WRAPPERS:
            if isinstance(payload.get(name), list):
                return list(payload[name])
        lists = [v for v in payload.values() if isinstance(v, list)]
        if len(lists) == 1:
            return list(lists[0])
        return [payload]
    raise FileError(RowError(1, "", "expected JSON objects, a list of them or a CSV file"))


def _decode_json(text: str, line: int = 1) -> Any:
    try:
        return msgspec.json.decode(text)
    except msgspec.ValidationError as exc:
        raise FileError(RowError(line, "", f"number out of range: {exc}")) from None
    except msgspec.DecodeError as exc:
        raise FileError(RowError(line, "", f"invalid JSON: {exc}")) from None
    except RecursionError:
        raise FileError(RowError(line, "", "nested too deeply")) from None


def read_records(data: bytes) -> list[Record]:
    """A CSV export, a JSON list (bare or in the `{"survey_responses": [...]}`-style wrapper
    the tools' APIs use, several pages concatenated too) or JSON lines."""
    text = decode(data)
    start = text.lstrip()
    if not start.startswith(("[", "{")):
        _, rows = read_csv(text)
        return [Record(row.line, dict(row.values)) for row in rows]
    try:
        items = _unwrap(_decode_json(text))
        numbered = list(enumerate(items, start=1))
    except FileError:
        # JSON lines, or pages of an API saved one after another: one value a line
        numbered = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                for item in _unwrap(_decode_json(line, number)):
                    numbered.append((number if start.startswith("{") else len(numbered) + 1, item))
    records = []
    for number, item in numbered:
        if not isinstance(item, dict):
            raise FileError(RowError(number, "", "each item must be an object"))
        try:
            records.append(Record(number, _normalised(item)))
        except RecursionError:
            raise FileError(RowError(number, "", "nested too deeply")) from None
    return records


# -- what the files say ---------------------------------------------------------------------


@dataclass
class Facts:
    """What one row says about a person; the merge of a person's rows names the user."""

    line: int
    part: str
    tool_id: str | None = None  # the tool's own id for the person (never our user id)
    external_id: str | None = None
    email: str | None = None
    name: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    asked_at: datetime | None = None

    def completed_by(self, other: Facts | None) -> Facts:
        """These facts, with what `other` knows and these do not."""
        if other is None:
            return self
        return Facts(
            line=self.line,
            part=self.part,
            tool_id=self.tool_id or other.tool_id,
            external_id=self.external_id or other.external_id,
            email=self.email or other.email,
            name=self.name or other.name,
            properties={**other.properties, **self.properties},
            asked_at=_latest(self.asked_at, other.asked_at),
        )


@dataclass
class Answer:
    line: int
    part: str
    response_id: str
    score: int
    comment: str | None
    answered_at: datetime
    person: Facts
    tags: list[str] = field(default_factory=list)


@dataclass
class OptOut:
    """An address the tool was told never to mail (an unsubscribe, a bounce)."""

    line: int
    part: str
    address: str
    source: str


@dataclass
class Plan:
    tool: str
    rows: int = 0
    answers: list[Answer] = field(default_factory=list)
    people: list[Facts] = field(default_factory=list)
    opt_outs: list[OptOut] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    invalid: set[tuple[str, int]] = field(default_factory=set)

    def reject(self, part: str, line: int, column: str, reason: str) -> None:
        self.errors.append(RowError(line, column_name(part, column), reason))
        self.invalid.add((part, line))

    def refuse(self, part: str, error: RowError) -> None:
        """A file that cannot be read at all."""
        self.errors.append(
            RowError(
                error.line, column_name(part, error.column) if error.column else part, error.reason
            )
        )
        self.invalid.add((part, -1))


def column_name(part: str, column: str) -> str:
    """Errors in the answers file name the field; in the other files, `people.email`."""
    return column if part == MAIN_PART else f"{part}.{column}"


def _latest(*moments: datetime | None) -> datetime | None:
    known = [m for m in moments if m is not None]
    return max(known) if known else None


_SPACED_OFFSET = re.compile(r"^(.*[0-9]) ([+-][0-9]{2}:?[0-9]{2})$")


def parse_moment(value: Any) -> datetime:
    """Unix seconds (Delighted, Wootric), milliseconds (Pendo), ISO 8601, or the
    '2024-05-01 10:00:00 -0700' form Wootric writes."""
    if isinstance(value, bool):
        raise CellError(f"not a timestamp: {value!r}")
    if isinstance(value, str) and re.fullmatch(r"\s*[0-9]{9,13}(\.[0-9]+)?\s*", value):
        value = float(value)
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > 100_000_000_000 else value
        try:
            moment = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise CellError(f"not a timestamp: {value!r}") from None
        if not 1970 <= moment.year <= 2200:
            raise CellError(f"year out of range: {value!r}")
        return moment
    if not isinstance(value, str):
        raise CellError(f"not a timestamp: {str(value)[:60]!r}")
    text = value.strip()
    spaced = _SPACED_OFFSET.match(text)
    if spaced:
        text = f"{spaced.group(1)}{spaced.group(2)}"
    return parse_datetime(text)


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, dict):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        parts = [t for t in (_text(v) for v in value) if t]
        return ", ".join(parts) or None
    text = str(value).strip()
    return text or None


class Cells:
    """One record read field by field; a bad field is an error of its row (line, field)."""

    def __init__(self, plan: Plan, part: str, record: Record) -> None:
        self.plan = plan
        self.part = part
        self.record = record
        self.ok = True
        self.used: set[str] = set()

    @property
    def line(self) -> int:
        return self.record.line

    def error(self, column: str, reason: str) -> None:
        self.plan.reject(self.part, self.record.line, column, reason)
        self.ok = False

    def raw(self, *names: str) -> tuple[str, Any]:
        """The first of `names` present with a value (the name and the value)."""
        self.used.update(names)
        for name in names:
            value = self.record.values.get(name)
            if value is not None and value != "":
                return name, value
        return names[0], None

    def text(self, *names: str, limit: int = 300, required: bool = False) -> str | None:
        name, value = self.raw(*names)
        text = _text(value)
        if text is None:
            if required:
                self.error(name, "required value is empty")
            return None
        if "\x00" in text:
            self.error(name, "contains a NUL character (\\x00), which no text value may hold")
            return None
        if len(text) > limit:
            self.error(name, f"longer than {limit} characters")
            return None
        return text

    def ident(self, *names: str, required: bool = False) -> str | None:
        name, _ = self.raw(*names)
        text = self.text(*names, required=required)
        if text is None:
            return None
        try:
            return identifier(text)
        except CellError as exc:
            self.error(name, str(exc))
            return None

    def score(self, *names: str) -> int | None:
        name, value = self.raw(*names)
        if value is None:
            self.error(name, "required value is empty")
            return None
        try:
            return parse_score(str(value))
        except CellError as exc:
            self.error(name, str(exc))
            return None

    def moment(self, *names: str, required: bool = False) -> datetime | None:
        name, value = self.raw(*names)
        if value is None:
            if required:
                self.error(name, "required value is empty")
            return None
        try:
            return parse_moment(value)
        except (CellError, ValueError) as exc:
            self.error(name, str(exc)[:200])
            return None

    def email(self, *names: str) -> str | None:
        name, _ = self.raw(*names)
        text = self.text(*names, limit=320)
        if text is None:
            return None
        address = normalize_address(text)
        if address is None:
            self.error(name, f"not an email address: {text[:80]!r}")
        return address

    def properties(self, value: Any, column: str) -> dict[str, str]:
        """An object of properties (or the leftover columns) as traits: text values."""
        if value is None or value == "":
            return {}
        if not isinstance(value, dict):
            self.error(column, "expected an object of properties")
            return {}
        traits: dict[str, str] = {}
        for key, item in value.items():
            text = _text(item)
            if not key or text is None:
                continue
            if len(text) > MAX_TRAIT_CHARS or "\x00" in text:
                self.error(
                    f"{column}.{key}", f"longer than {MAX_TRAIT_CHARS} characters or holds NUL"
                )
                continue
            traits[key] = text
        return traits

    def leftovers(self) -> dict[str, str]:
        """Columns no field took: a CSV export's property columns."""
        rest = {k: v for k, v in self.record.values.items() if k not in self.used}
        return self.properties(rest, "properties")

    def comment(self, *names: str) -> str | None:
        return self.text(*names, limit=MAX_COMMENT_CHARS)


def read_part(plan: Plan, part: str, data: bytes | None) -> list[Record]:
    """The records of one file, counted in the plan; a file that cannot be read is refused."""
    if data is None:
        return []
    try:
        records = read_records(data)
    except FileError as exc:
        plan.refuse(part, exc.error)
        return []
    plan.rows += len(records)
    return records


# -- from a plan to rows --------------------------------------------------------------------


@dataclass
class UserPlan:
    key: str
    account: str
    account_name: str | None
    email: str | None
    traits: dict[str, str]
    asked_at: datetime | None
    first_answer: datetime | None


@dataclass
class Resolved:
    users: dict[str, UserPlan] = field(default_factory=dict)
    answers: list[tuple[Answer, str, dict[str, str]]] = field(default_factory=list)
    opt_outs: dict[str, OptOut] = field(default_factory=dict)


def _pick(properties: dict[str, str], names: Iterable[str]) -> str | None:
    for name in names:
        if properties.get(name):
            return properties[name]
    return None


def resolve(plan: Plan, options: Options) -> Resolved:
    """Name every answer's and person's user and account; no database. Rows that cannot be
    placed are errors of their line."""
    by_tool_id: dict[str, Facts] = {}
    by_email: dict[str, Facts] = {}
    for facts in plan.people:
        if (facts.part, facts.line) in plan.invalid:
            continue
        if facts.tool_id:
            by_tool_id[facts.tool_id] = facts.completed_by(by_tool_id.get(facts.tool_id))
        if facts.email:
            by_email[facts.email] = facts.completed_by(by_email.get(facts.email))

    def known(facts: Facts) -> Facts:
        found = by_tool_id.get(facts.tool_id or "") or by_email.get(facts.email or "")
        if found is None and facts.tool_id and facts.email:
            found = by_email.get(facts.email)
        return facts.completed_by(found)

    hidden = {*options.account_property, *options.account_name_property, *options.user_property}
    resolved = Resolved()

    def place(facts: Facts) -> tuple[str, str, str | None] | None:
        key = _pick(facts.properties, options.user_property) or facts.external_id
        if key is None and facts.email:
            key = facts.email.lower()
        if key is None:
            what = "customer id, external id or email" if plan.tool != "pendo" else "visitor id"
            plan.reject(facts.part, facts.line, "person", f"no {what} to name the user by")
            return None
        try:
            key = identifier(key)
        except CellError as exc:
            plan.reject(facts.part, facts.line, "person", str(exc))
            return None
        account = _pick(facts.properties, options.account_property) or options.default_account
        if account is None:
            names = " or ".join(options.account_property)
            plan.reject(
                facts.part,
                facts.line,
                options.account_property[0],
                f"the person has no {names} property to name the account "
                "(choose one with --account-property or give --default-account)",
            )
            return None
        try:
            account = identifier(account)
        except CellError as exc:
            plan.reject(facts.part, facts.line, options.account_property[0], str(exc))
            return None
        return key, account, _pick(facts.properties, options.account_name_property)

    def remember(
        key: str, account: str, name: str | None, facts: Facts, when: datetime | None
    ) -> None:
        traits = {k: v for k, v in facts.properties.items() if k not in hidden}
        if facts.name:
            traits.setdefault("name", facts.name)
        user = resolved.users.get(key)
        if user is None:
            resolved.users[key] = UserPlan(
                key, account, name, facts.email, traits, _latest(facts.asked_at, when), when
            )
            return
        user.account, user.account_name = account, name or user.account_name
        user.email = user.email or facts.email
        user.traits.update(traits)
        user.asked_at = _latest(user.asked_at, facts.asked_at, when)
        if when is not None:
            user.first_answer = min(user.first_answer or when, when)

    first_line: dict[str, int] = {}
    for answer in sorted(plan.answers, key=lambda a: a.answered_at):
        if (answer.part, answer.line) in plan.invalid:
            continue
        if answer.response_id in first_line:
            plan.reject(
                answer.part,
                answer.line,
                "id",
                f"same response id as line {first_line[answer.response_id]}",
            )
            continue
        first_line[answer.response_id] = answer.line
        facts = known(answer.person)
        placed = place(facts)
        if placed is None:
            continue
        key, account, name = placed
        remember(key, account, name, facts, answer.answered_at)
        snapshot = {k: v for k, v in answer.person.properties.items() if k not in hidden}
        if answer.tags:
            snapshot["tags"] = ", ".join(answer.tags)
        resolved.answers.append((answer, key, snapshot))
    # the people files last: their properties are the person's latest
    for facts in plan.people:
        if (facts.part, facts.line) in plan.invalid or facts.part == "declines":
            continue  # a decline only adds its time to a person known otherwise
        full = known(facts)
        placed = place(full)
        if placed is not None:
            remember(*placed, full, None)
    for opt_out in plan.opt_outs:
        if (opt_out.part, opt_out.line) not in plan.invalid:
            resolved.opt_outs.setdefault(opt_out.address, opt_out)
    return resolved


# -- writing --------------------------------------------------------------------------------


@dataclass
class MoveResult(ImportResult):
    """Counts of the rows of every file (`created`/`updated`/`unchanged` add up answers,
    people and addresses) and per table in `parts`."""

    parts: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "parts": self.parts}


class _Abort(Exception):
    """Rolls the transaction back (a dry run, or errors without skip_invalid)."""


async def move_in(
    plan: Plan,
    options: Options,
    *,
    skip_invalid: bool = False,
    dry_run: bool = False,
    actor: str = "cli",
    source: str = "cli",
) -> MoveResult:
    """Validate the whole plan, then write it in one transaction (or nothing)."""
    result = MoveResult(kind=plan.tool, dry_run=dry_run)
    resolved = resolve(plan, options)
    result.errors = sorted(plan.errors, key=lambda e: (e.line, e.column))
    result.rows = plan.rows
    result.invalid = len({i for i in plan.invalid if i[1] >= 0})
    result.valid = result.rows - result.invalid
    refused = any(line < 0 for _, line in plan.invalid)
    if refused or (result.errors and not skip_invalid):
        return result
    try:
        async with write_transaction():
            await _write(resolved, plan.tool, result)
            if dry_run:
                raise _Abort
            result.written = True
            if result.created or result.updated:
                await audit(
                    actor,
                    source,
                    f"import.{plan.tool}",
                    detail={"rows": result.rows, "invalid": result.invalid, **result.parts},
                )
    except _Abort:
        result.written = False
    if result.written and result.created + result.updated >= ANALYZE_AFTER_ROWS:
        await refresh_planner_statistics(("account", "end_user", "response", "mail_suppression"))
    return result


def _count(result: MoveResult, part: str, created: int, updated: int, unchanged: int) -> None:
    result.parts[part] = {"created": created, "updated": updated, "unchanged": unchanged}
    result.created += created
    result.updated += updated
    result.unchanged += unchanged


async def _write(resolved: Resolved, tool: str, result: MoveResult) -> None:
    now = utcnow()
    # accounts: an unknown one is created, named by its name property or its id
    wanted: dict[str, str | None] = {}
    for planned in resolved.users.values():
        wanted[planned.account] = planned.account_name or wanted.get(planned.account)
    existing_accounts = await lookup(Account.external_id, wanted)
    new_accounts = [
        {"external_id": ident, "name": (name or ident)[:300], "updated_at": now}
        for ident, name in wanted.items()
        if ident not in existing_accounts
    ]
    await upsert(Account, new_accounts, Account.external_id, [])
    # an account first seen through a test key is a real customer once its people move in
    await promote_to_production(row["id"] for row in existing_accounts.values())
    result.parts["accounts"] = {"created": len(new_accounts)}
    accounts = await lookup(
        Account.external_id,
        wanted,
        Account.plan,
        Account.industry,
        Account.company_size,
        Account.employee_count,
        Account.csm,
        Account.arr_cents,
        Account.traits,
    )

    # users: traits the product already knows win over the old tool's; the ask is the latest
    stored = await lookup(
        EndUser.external_id,
        resolved.users,
        EndUser.email,
        EndUser.traits,
        EndUser.asked_elsewhere_at,
    )
    records = []
    created = updated = 0
    for key, wanted_user in resolved.users.items():
        old = stored.get(key)
        if old is None:
            created += 1
            records.append(
                {
                    "external_id": key,
                    "account": accounts[wanted_user.account]["id"],
                    "email": wanted_user.email,
                    "traits": wanted_user.traits,
                    "first_seen_at": wanted_user.first_answer,
                    "asked_elsewhere_at": wanted_user.asked_at,
                    "updated_at": now,
                }
            )
            continue
        old_traits = json_object(old["traits"])
        traits = {**wanted_user.traits, **old_traits}
        asked = _latest(_aware(old["asked_elsewhere_at"]), wanted_user.asked_at)
        email = old["email"] or wanted_user.email
        if (
            traits == old_traits
            and asked == _aware(old["asked_elsewhere_at"])
            and email == old["email"]
        ):
            continue
        updated += 1
        records.append(
            {
                "external_id": key,
                "account": accounts[wanted_user.account]["id"],
                "email": email,
                "traits": traits,
                "asked_elsewhere_at": asked,
                "updated_at": now,
            }
        )
    await upsert(
        EndUser,
        records,
        EndUser.external_id,
        ["email", "traits", "asked_elsewhere_at", "updated_at"],
    )
    _count(result, "users", created, updated, len(resolved.users) - created - updated)
    # as their accounts: people first seen through a test key are real once they move in
    await promote_users_to_production(stored, now)
    users = await lookup(EndUser.external_id, resolved.users, EndUser.role, EndUser.locale)

    # answers: new ones inserted with the snapshot of today; a changed score or comment updates
    keys = {
        f"{tool}:{answer.response_id}": (answer, user, snapshot)
        for answer, user, snapshot in resolved.answers
    }
    known = await lookup(Response.idempotency_key, keys, Response.score, Response.comment)
    records = []
    created = updated = 0
    for key, (answer, user_key, snapshot) in keys.items():
        old = known.get(key)
        if old is not None and (old["score"], old["comment"]) == (answer.score, answer.comment):
            continue
        if old is None:
            created += 1
        else:
            updated += 1
        account = accounts[resolved.users[user_key].account]
        user = users[user_key]
        records.append(
            {
                "idempotency_key": key,
                "source": tool,
                "environment": "production",
                "end_user": user["id"],
                "account": account["id"],
                "score": answer.score,
                "comment": answer.comment,
                "answered_at": answer.answered_at,
                "commented_at": answer.answered_at if answer.comment else None,
                "locale": user["locale"],
                "role": _cut(snapshot.get("role") or user["role"], 100),
                "plan": _cut(snapshot.get("plan") or account["plan"], 100),
                "industry": account["industry"],
                "company_size": account["company_size"],
                "employee_count": account["employee_count"],
                "csm": account["csm"],
                "arr_cents": account["arr_cents"],
                "traits": {**json_object(account["traits"]), **snapshot},
            }
        )
    await upsert(Response, records, Response.idempotency_key, ["score", "comment", "commented_at"])
    _count(result, "responses", created, updated, len(keys) - created - updated)

    # addresses never to mail: added to the suppression list directly, so nothing is announced
    suppressed = await lookup(Suppression.address, resolved.opt_outs)
    fresh = [
        {
            "address": address,
            "reason": SuppressionReason.imported.value,
            "source": opt_out.source[:200],
            "created_at": now,
        }
        for address, opt_out in resolved.opt_outs.items()
        if address not in suppressed
    ]
    await upsert(Suppression, fresh, Suppression.address, [])
    _count(result, "suppressions", len(fresh), 0, len(resolved.opt_outs) - len(fresh))


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value else None


def read_plan(tool: str, files: dict[str, bytes]) -> Plan:
    """The files of one tool (by part: responses, people, ...) read and checked."""
    from feedback.imports.delighted import read_delighted
    from feedback.imports.pendo import read_pendo
    from feedback.imports.wootric import read_wootric

    accepted = {
        "delighted": ("responses", "people", "unsubscribes", "bounces"),
        "pendo": ("responses",),
        "wootric": ("responses", "people", "declines"),
    }[tool]
    for part in files:
        if part not in accepted:
            raise ValueError(f"{tool} takes {', '.join(accepted)} files, not {part}")
    readers = {"delighted": read_delighted, "pendo": read_pendo, "wootric": read_wootric}
    return readers[tool](files)
