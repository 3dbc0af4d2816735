"""POST /api/v1/imports/{kind}: the CRM sync path, CSV or JSON rows."""

from __future__ import annotations

import json
from typing import Any

from litestar import Request, Response, post
from litestar.di import Provide
from litestar.params import FromPath, FromQuery

from feedback.auth.guards import CurrentPrincipal, access, provide_principal
from feedback.errors import error_body
from feedback.imports.kinds import KINDS
from feedback.imports.parsing import FileError, decode, read_csv, read_json_rows
from feedback.imports.services import MAX_REPORTED_ERRORS, Importer, ImportResult
from feedback.kernel.errors import InputError, UnsupportedInput
from feedback.kernel.principal import Role
from feedback.settings import get_settings


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
    result = ImportResult(kind=kind, dry_run=dry_run)
    try:
        if media in ("application/json", "application/x-ndjson") or media.endswith("+json"):
            try:
                payload = json.loads(decode(body) or "null")
            except json.JSONDecodeError as exc:
                raise InputError("body", f"invalid JSON: {exc.msg} at line {exc.lineno}") from None
            header, rows = read_json_rows(payload)
        elif media in ("text/csv", "text/plain", "application/csv", ""):
            header, rows = read_csv(decode(body))
        else:
            raise UnsupportedInput("content-type", "send text/csv or application/json")
    except FileError as exc:
        result.errors.append(exc.error)
    else:
        importer = Importer(
            skip_invalid=skip_invalid, dry_run=dry_run, actor=principal.actor, source="api"
        )
        result = await importer.run(kind, header, rows)
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
