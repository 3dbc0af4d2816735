"""POST /api/v1/imports/{kind}: the CRM sync path, CSV or JSON rows."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.datastructures import UploadFile
from litestar.di import Provide
from litestar.params import FromPath, FromQuery

from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.errors import error_body
from feedback.imports.kinds import KINDS, ParsedRows, parse_rows
from feedback.imports.moving_in import PARTS, TOOLS, Options, move_in, options_for, read_plan
from feedback.imports.parsing import FileError, decode, read_csv, read_json_rows
from feedback.imports.services import MAX_REPORTED_ERRORS, Importer, ImportResult
from feedback.kernel.errors import InputError, UnsupportedInput
from feedback.kernel.principal import Role
from feedback.settings import get_settings


def parse_upload(kind: str, media: str, body: bytes) -> ParsedRows:
    """The body read as CSV or JSON rows and every row checked (no database)."""
    if media in ("application/json", "application/x-ndjson") or media.endswith("+json"):
        text = decode(body)
        try:
            payload = msgspec.json.decode(text or "null")
        except msgspec.ValidationError as exc:  # a number beyond 64 bits
            raise InputError("body", f"number out of range: {exc}") from None
        except msgspec.DecodeError as exc:
            raise InputError("body", f"invalid JSON: {exc}") from None
        except RecursionError:
            raise InputError("body", "nested too deeply") from None
        header, rows = read_json_rows(payload)
    elif media in ("text/csv", "text/plain", "application/csv", ""):
        header, rows = read_csv(decode(body))
    else:
        raise UnsupportedInput("content-type", "send text/csv or application/json")
    return parse_rows(KINDS[kind], header, rows)


@post(
    "/api/v1/imports/{kind:str}",
    summary="Import accounts, users, csms, churn or responses; move in from Delighted, Pendo "
    "or Wootric",
    tags=["imports"],
    dependencies={"principal": Provide(provide_principal)},
    request_max_body_size=get_settings().max_import_bytes,
    status_code=200,
    **access(Role.admin),
)
async def import_rows(
    request: Request[Any, Any, Any],
    principal: CurrentPrincipal,
    kind: FromPath[str],
    skip_invalid: FromQuery[bool] = False,
    dry_run: FromQuery[bool] = False,
    file: FromQuery[str] = "responses",
    account_property: FromQuery[str | None] = None,
    account_name_property: FromQuery[str | None] = None,
    user_property: FromQuery[str | None] = None,
    default_account: FromQuery[str | None] = None,
) -> Response[dict[str, Any]]:
    """Body: CSV (`text/csv`) or JSON (`application/json`: a list of row objects or
    `{"rows": [...]}`). Columns per kind are listed in docs/imports.md. Everything is validated
    first; nothing is written unless every row is valid, or with `skip_invalid=true` the
    valid rows are written. Answers 200 with counts, or 422 listing each error with its
    line and column.

    `delighted`, `pendo` and `wootric` take the tool's own export (docs/moving-in.md): the
    body is the file named by `file` (responses, people, unsubscribes, bounces, declines),
    or `multipart/form-data` with one file per part name, written in one transaction. The
    other query options (`account_property`, ...) are theirs only."""
    if kind in TOOLS:
        return await _move_in(
            request,
            principal,
            kind,
            skip_invalid=skip_invalid,
            dry_run=dry_run,
            file=file,
            options=options_for(
                kind,
                account_property=account_property,
                account_name_property=account_name_property,
                user_property=user_property,
                default_account=default_account,
            ),
        )
    if kind not in KINDS:
        known = ", ".join([*KINDS, *TOOLS])
        raise InputError("kind", f"must be one of {known}, got {kind!r}")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    importer = Importer(
        skip_invalid=skip_invalid, dry_run=dry_run, actor=principal.actor, source="api"
    )
    try:
        # decoding and checking every row is CPU work: a worker thread keeps the event loop
        # (and every other request) going meanwhile
        parsed = await asyncio.to_thread(parse_upload, kind, media, body)
    except FileError as exc:
        result = importer.refused(kind, exc.error)
    else:
        result = await importer.write(parsed)
    return _answer(result, skip_invalid)


def _answer(result: ImportResult, skip_invalid: bool) -> Response[dict[str, Any]]:
    outcome = result.as_dict()
    if result.ok or (skip_invalid and result.written):
        return Response(outcome, status_code=200)
    detail = [
        {"field": e.column or "body", "line": e.line, "message": e.reason}
        for e in result.errors[:MAX_REPORTED_ERRORS]
    ]
    body_out = error_body(f"import rejected: {len(result.errors)} errors, nothing written", detail)
    body_out["result"] = outcome
    return Response(body_out, status_code=422)


# the API's names for a tool's files; Wootric's end users are its people
PART_NAMES = {"end_users": "people", **{part: part for part in PARTS}}


async def _move_in(
    request: Request[Any, Any, Any],
    principal: CurrentPrincipal,
    tool: str,
    *,
    skip_invalid: bool,
    dry_run: bool,
    file: str,
    options: Options,
) -> Response[dict[str, Any]]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    files: dict[str, bytes] = {}
    if media == "multipart/form-data":
        form = await request.form()
        for name, value in form.multi_items():
            part = PART_NAMES.get(name)
            if part is None:
                raise InputError(name, f"unknown file; send {', '.join(PART_NAMES)}")
            files[part] = await value.read() if isinstance(value, UploadFile) else value.encode()
        if not files:
            raise InputError("body", "send at least one file")
    elif media in ("text/csv", "text/plain", "application/csv", "", "application/x-ndjson") or (
        media == "application/json" or media.endswith("+json")
    ):
        part = PART_NAMES.get(file)
        if part is None:
            raise InputError("file", f"must be one of {', '.join(PART_NAMES)}, got {file!r}")
        files[part] = await request.body()
    else:
        raise UnsupportedInput("content-type", "send text/csv, application/json or a form")
    try:
        plan = await asyncio.to_thread(read_plan, tool, files)
    except ValueError as exc:
        raise InputError("file", str(exc)) from None
    result = await move_in(
        plan,
        options,
        skip_invalid=skip_invalid,
        dry_run=dry_run,
        actor=principal.actor,
        source="api",
    )
    return _answer(result, skip_invalid)
