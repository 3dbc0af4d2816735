"""One rule for every input a request carries, applied after routing and before any view
runs, so no view has to repeat it:

- text (query parameters, JSON strings and keys, page form fields) holds no
  control character; bodies may hold tab, line feed and carriage return (comments keep
  their lines). PostgreSQL cannot store NUL at all, and a control character in an id or a
  filter is never meant: 422 naming the field (`user_id`, `traits.role`, `metrics[1].day`);
- a path id beyond the database's integers, or a path segment holding a control character,
  names nothing that can exist: 404 naming the segment;
- an integer query parameter beyond 32 bits, a non-finite number, a date before 1900 or
  after 2200: 422 naming the parameter;
- a JSON body nested deeper than `MAX_JSON_DEPTH`, or with a number no column can hold:
  422 naming the field.

Bodies are read once, up to the route's own size limit, and replayed to the view. A body
over the limit is passed on untouched: Litestar answers it 413 (feedback/errors.py says what
the limit is). `/slack/` is left alone: Slack's signature is checked on the raw bytes there.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from litestar import Request
from litestar.handlers import BaseRouteHandler, HTTPRouteHandler
from litestar.params import ParameterKwarg
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.typing import FieldDefinition

from feedback.errors import domain_error_handler, page_refusal, wants_html
from feedback.kernel.errors import DomainError, InputError, NotFound
from feedback.web.csrf import content_length, replaying

# every id column is PostgreSQL's `integer` (Piccolo's Serial), which starts at 1
MAX_ID = 2**31 - 1
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
YEARS = (1900, 2200)
MAX_JSON_DEPTH = 64
# above this a body is checked in a worker thread, not on the event loop
THREAD_ABOVE_BYTES = 256 * 1024

# query strings and path segments: no control character at all (C0, DEL, C1)
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# text in a body: tab, line feed and carriage return are allowed
CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

# A control character in valid JSON is an escape (\u0000, \b, \f; raw ones are invalid JSON),
# a raw DEL, or for C1 raw UTF-8 (C2 80 to C2 9F). A widget body without either and with few
# brackets is passed on without being decoded: almost all of them (msgspec, which the
# widget's views decode with, refuses numbers out of range itself). Other JSON bodies are
# decoded and walked whole: some views read them with the standard library's parser.
_CONTROL_ESCAPE = re.compile(rb"\\u00(?:[01][0-9a-fA-F]|7[fF]|[89][0-9a-fA-F])|\\[bf]")
_RAW_C1 = re.compile(rb"\xc2[\x80-\x9f]")
# the same for a form body (percent-encoded, `+` for spaces)
_FORM_SUSPECT = re.compile(rb"%(?:[01][0-9a-fA-F]|7[fF])|%[cC]2%[89][0-9a-fA-F]|[\x00-\x1f\x7f]")

JSON_MEDIA = ("application/json", "application/x-ndjson")
FORM_MEDIA = "application/x-www-form-urlencoded"


def input_guard_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/slack/"):
            await app(scope, receive, send)
            return
        try:
            check_path(scope)
            if scope.get("query_string"):
                check_query(scope)
            body_kind = _body_kind(scope)
            if body_kind is not None:
                receive = await check_body(scope, receive, body_kind)
        except DomainError as refusal:
            await answer(scope, receive, send, refusal)
            return
        await app(scope, receive, send)

    return middleware


# --- path and query --------------------------------------------------------------------------


def control_problem(text: str) -> str | None:
    found = CONTROL.search(text)
    return None if found is None else _control_message(found.group())


def _control_message(character: str) -> str:
    return f"contains a control character (U+{ord(character):04X}), which this value may not hold"


def check_path(scope: Scope) -> None:
    """A path names one thing: an id no row can have, or a name holding a control
    character (which no import or API stores), names nothing: 404 naming the segment."""
    for name, value in (scope.get("path_params") or {}).items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int):
            if not 1 <= value <= MAX_ID:
                raise NotFound.for_field(name, f"no such id: ids go from 1 to {MAX_ID}")
        elif isinstance(value, str) and (problem := control_problem(value)):
            raise NotFound.for_field(name, f"no such {name}: it {problem}")


def check_query(scope: Scope) -> None:
    kinds = query_kinds(scope.get("route_handler"))
    query = scope["query_string"].decode("utf-8", "replace")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if problem := control_problem(name):
            raise InputError("query", f"a parameter's name {problem}")
        if problem := control_problem(value):
            raise InputError(name, problem)
        kind = kinds.get(name)
        if kind is not None and value:
            check_typed(name, value, kind)


def check_typed(name: str, value: str, kind: type) -> None:
    """Values Litestar would convert without complaint but no statement can use."""
    if kind is int:
        text = value.strip()
        if re.fullmatch(r"[+-]?[0-9]+", text):
            low, high = INT32
            if len(text) > 12 or not low <= int(text) <= high:
                raise InputError(name, f"must be a whole number from {low} to {high}")
    elif kind is float:
        try:
            number = float(value)
        except ValueError:
            return
        if not math.isfinite(number):
            raise InputError(name, "must be a finite number")
    elif kind is date or kind is datetime:
        year = _year_of(value)
        if year is not None and not YEARS[0] <= year <= YEARS[1]:
            raise InputError(name, f"must be a date from {YEARS[0]} to {YEARS[1]}")


def _year_of(value: str) -> int | None:
    found = re.match(r"\s*([+-]?[0-9]{1,6})-[0-9]{1,2}-[0-9]{1,2}", value)
    return int(found.group(1)) if found else None


_KINDS: dict[int, tuple[BaseRouteHandler, dict[str, type]]] = {}


def query_kinds(handler: BaseRouteHandler | None) -> dict[str, type]:
    """The query parameters a route handler (and its dependencies) declares as integers,
    floats, dates or datetimes, by the name the query string uses; computed once per
    handler."""
    if handler is None:
        return {}
    cached = _KINDS.get(id(handler))
    if cached is not None and cached[0] is handler:
        return cached[1]
    kinds: dict[str, type] = {}
    signatures = [handler.parsed_fn_signature]
    for provider in handler.resolve_dependencies().values():
        signature = getattr(provider, "parsed_fn_signature", None)
        if signature is not None:
            signatures.append(signature)
    for signature in signatures:
        for name, field in signature.parameters.items():
            kind = _kind_of(field)
            if kind is not None:
                kinds[_query_name(name, field)] = kind
    _KINDS[id(handler)] = (handler, kinds)
    return kinds


def _kind_of(field: FieldDefinition) -> type | None:
    candidates = [field, *field.inner_types] if field.is_optional else [field]
    for candidate in candidates:
        if candidate.is_subclass_of(bool):
            return None
        for kind in (datetime, date, int, float):
            if candidate.is_subclass_of(kind):
                return kind
    return None


def _query_name(name: str, field: FieldDefinition) -> str:
    kwarg = field.kwarg_definition
    if isinstance(kwarg, ParameterKwarg):
        return kwarg.query or kwarg.name or name
    return name


# --- bodies ----------------------------------------------------------------------------------


def _body_kind(scope: Scope) -> str | None:
    """ "json", "form" or None (not checked), from the path and the content type."""
    if scope.get("method") not in ("POST", "PUT", "PATCH", "DELETE"):
        return None
    media = ""
    for header, value in scope["headers"]:
        if header == b"content-type":
            media = value.decode("latin-1").split(";", 1)[0].strip().lower()
            break
    path: str = scope["path"]
    if path.startswith("/widget/"):
        # the widget sends its JSON as text/plain (a request without a preflight)
        return "json" if media in ("text/plain", "", *JSON_MEDIA) else None
    if media in JSON_MEDIA or media.endswith("+json"):
        return "json" if path.startswith("/api/") else None
    if media == FORM_MEDIA:
        return "form"
    return None


async def check_body(scope: Scope, receive: Receive, kind: str) -> Receive:
    """Reads the body (up to the route's limit), checks it, and returns a `receive` that
    gives the view the same messages again."""
    handler = scope.get("route_handler")
    if not isinstance(handler, HTTPRouteHandler):
        return receive
    limit = handler.resolve_request_max_body_size()
    if limit is None or (content_length(scope) or 0) > limit:
        return receive
    messages: list[Any] = []
    chunks: list[bytes] = []
    size = 0
    complete = False
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            break  # Litestar answers 413 when the view reads it
        chunks.append(chunk)
        if not message.get("more_body", False):
            complete = True
            break
    replay = replaying(messages, receive)
    if not complete:
        return replay
    body = b"".join(chunks)
    if kind == "form":
        check_form(body)
    elif len(body) > THREAD_ABOVE_BYTES:
        await asyncio.to_thread(check_json, body)
    elif not scope["path"].startswith("/widget/") or _may_break_the_rule(body):
        check_json(body)
    return replay


def _may_break_the_rule(body: bytes) -> bool:
    """Whether a widget's JSON body could hold a control character or deep nesting (a false
    alarm only costs the full check)."""
    return (
        body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
        or (b"\\" in body and _CONTROL_ESCAPE.search(body) is not None)
        or (b"\xc2" in body and _RAW_C1.search(body) is not None)
        or b"\x7f" in body  # DEL needs no escape in JSON
    )


def check_json(body: bytes) -> None:
    """Raises InputError naming the first field that breaks the rule; a body that is not
    JSON at all is left to the view, which says so in its own words."""
    try:
        try:
            document = msgspec.json.decode(body)
        except msgspec.ValidationError:
            # a number msgspec cannot hold (it names no object key): the standard library's
            # parser keeps such numbers as text, so the walk below names the field
            document = json.loads(body, parse_int=_whole, parse_float=_fraction)
    except RecursionError:
        raise InputError("body", f"nested more than {MAX_JSON_DEPTH} levels deep") from None
    except ValueError:  # not JSON (msgspec.DecodeError is one): the view says so
        return
    for path, problem in _json_problems(document):
        raise InputError(_field_name(path), problem)


class _OutOfRange:
    """A number in a JSON body that no column holds."""


OUT_OF_RANGE = _OutOfRange()


def _whole(text: str) -> int | _OutOfRange:
    return int(text) if len(text) <= 20 else OUT_OF_RANGE


def _fraction(text: str) -> float | _OutOfRange:
    number = float(text)
    return number if math.isfinite(number) else OUT_OF_RANGE


def _field_name(path: str) -> str:
    return path.removeprefix(".") or "body"


def _json_problems(document: Any) -> Iterator[tuple[str, str]]:
    """(path, problem) for each value that breaks the rule, without recursion."""
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if not value.isprintable() and (found := CONTROL_IN_TEXT.search(value)):
                yield path, _control_message(found.group())
        elif isinstance(value, dict):
            if depth >= MAX_JSON_DEPTH:
                yield "", f"nested more than {MAX_JSON_DEPTH} levels deep"
                continue
            for key, item in reversed(value.items()):
                if not key.isprintable() and (found := CONTROL_IN_TEXT.search(key)):
                    yield path, "a key " + _control_message(found.group())
                    continue
                stack.append((item, f"{path}.{key}", depth + 1))
        elif isinstance(value, list):
            if depth >= MAX_JSON_DEPTH:
                yield "", f"nested more than {MAX_JSON_DEPTH} levels deep"
                continue
            for index in range(len(value) - 1, -1, -1):
                stack.append((value[index], f"{path}[{index}]", depth + 1))
        elif _out_of_range(value):
            yield path, "number out of range"


def _out_of_range(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, int):
        return not INT64[0] <= value <= INT64[1]
    return value is OUT_OF_RANGE


def check_form(body: bytes) -> None:
    if _FORM_SUSPECT.search(body) is None:
        return
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        if problem := control_problem(name):
            raise InputError("form", f"a field's name {problem}")
        if found := CONTROL_IN_TEXT.search(value):
            raise InputError(name, _control_message(found.group()))


# --- the answer ------------------------------------------------------------------------------


async def answer(scope: Scope, receive: Receive, send: Send, refusal: DomainError) -> None:
    """The refusal as the route answers any domain error (its own error page for report
    pages, a plain page for other staff pages, the error body for the API and the widget),
    sent through the outer middleware (request id, headers)."""
    handler = scope.get("route_handler")
    handlers = handler.resolve_exception_handlers() if handler is not None else {}
    respond = next(
        (handlers[kind] for kind in type(refusal).__mro__ if kind in handlers),
        None,
    )
    request: Request[Any, Any, Any] = Request(scope, receive, send)
    if respond is None or respond is domain_error_handler:
        response = (
            page_refusal(refusal, request)
            if wants_html(request)
            else domain_error_handler(request, refusal)
        )
    else:
        response = respond(request, refusal)
    await response.to_asgi_response(app=None, request=request)(scope, receive, send)
