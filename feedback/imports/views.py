"""POST /api/v1/imports/{kind}: the CRM sync path, CSV or JSON rows."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Request, Response, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery

from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.errors import error_body
from feedback.imports.kinds import KINDS, ParsedRows, parse_rows
from feedback.imports.parsing import FileError, decode, read_csv, read_json_rows
from feedback.imports.services import MAX_REPORTED_ERRORS, Importer
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
    summary="Import accounts, users, csms, churn or responses",
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
) -> Response[dict[str, Any]]:
    """Body: CSV (`text/csv`) or JSON (`application/json`: a list of row objects or
    `{"rows": [...]}`). Columns per kind are listed in docs/imports.md. Everything is validated
    first; nothing is written unless every row is valid, or with `skip_invalid=true` the
    valid rows are written. Answers 200 with counts, or 422 listing each error with its
    line and column."""
    if kind not in KINDS:
        raise InputError("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
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
