"""The widget endpoints' OpenAPI description: their bodies, their answers and their errors.

The widget's handlers read their body themselves (it comes as text/plain, so that a browser
sends it without a preflight), so Litestar cannot see a `data` parameter to document: the
request bodies are described here from the same msgspec structs that decode them, with a
sentence per field, and every refusal is documented with the one error shape
(`feedback.errors`) the endpoints really answer with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType as MediaType
from litestar.openapi.spec import Operation, RequestBody

from feedback.auth.guards import ErrorBody

# what a reader needs to know about each field of each body
FIELDS: dict[str, dict[str, str]] = {
    "CheckIn": {
        "user_id": "Your product's id for the signed-in user (1-200 characters). May be left "
        "out when `identity_token` carries it.",
        "account_id": "Your product's id for the user's account (company); 1-200 characters. "
        "May be left out when `identity_token` carries it.",
        "traits": "Attributes the schedule's audience rules match: role, plan, locale, email, "
        "account_name, and any custom ones (strings, numbers, booleans; at most 50).",
        "url": "The page the user is on (at most 2000 characters), for URL rules.",
        "identity_token": "An HS256 JWT your server signs with the key's identity secret, "
        "holding `sub`, `account`, `traits` and `exp`. Required by keys in `signed` mode.",
        "user_hash": "The legacy proof: hex HMAC-SHA256 of user_id with the identity secret.",
        "force": "Show a survey now, ignoring the schedule; honoured only with a "
        "`preview_token`, or with a signed identity on a non-production key.",
        "preview_token": "The token an admin's preview link carries (/admin/widget-keys).",
    },
    "ScoreIn": {
        "display_token": "The token the eligibility answer gave for this display.",
        "client_id": "An id the widget makes once per answer (8-100 characters): a retry "
        "with the same id is answered 200 and records nothing twice.",
        "score": "The answer to 'How likely are you to recommend ...?', 0 to 10.",
    },
    "CommentIn": {
        "display_token": "The token of the display whose score this comment explains.",
        "comment": "The user's words, at most 5000 characters; an empty string clears it.",
    },
    "DismissIn": {
        "display_token": "The token of the display the user closed.",
    },
    "ClickIn": {
        "display_token": "The token of the answered display whose thank-you link was followed.",
        "link": 'Which link: `talk_to` (a detractor\'s "Talk to <owner>").',
    },
}


def _inline(schema: Any, definitions: dict[str, Any]) -> Any:
    """msgspec's schema with its `#/$defs/...` references replaced by what they name (an
    OpenAPI document resolves references from its own root, where there is no $defs)."""
    if isinstance(schema, dict):
        reference = schema.get("$ref", "")
        if reference.startswith("#/$defs/"):
            return _inline(definitions[reference.removeprefix("#/$defs/")], definitions)
        return {key: _inline(value, definitions) for key, value in schema.items()}
    if isinstance(schema, list):
        return [_inline(item, definitions) for item in schema]
    return schema


def body_schema(kind: type[msgspec.Struct]) -> dict[str, Any]:
    """The JSON Schema of a widget body, each field with its description from FIELDS."""
    generated = msgspec.json.schema(kind)
    schema: dict[str, Any] = _inline(generated, generated.get("$defs", {}))
    described = FIELDS[kind.__name__]
    for name, field in schema["properties"].items():
        if name not in described:
            raise ValueError(f"{kind.__name__}.{name} has no description in FIELDS")
        field["description"] = described[name]
    schema.pop("title", None)
    return schema


def with_body(kind: type[msgspec.Struct], description: str) -> type[Operation]:
    """An `operation_class` for a route decorator: the operation with `kind` as its request
    body, in both media types the endpoints accept."""
    schema = body_schema(kind)
    content = {
        media_type: MediaType(schema=schema)  # type: ignore[arg-type]  # a JSON Schema dict
        for media_type in ("text/plain", "application/json")
    }

    @dataclass
    class WidgetOperation(Operation):
        def __post_init__(self) -> None:
            self.request_body = RequestBody(content=content, description=description, required=True)

    WidgetOperation.__name__ = WidgetOperation.__qualname__ = f"{kind.__name__}Operation"
    return WidgetOperation


class EligibilityAnswer(msgspec.Struct):
    """The eligibility answer: a survey to show now, or when to ask again."""

    show: Annotated[bool, msgspec.Meta(description="Whether to show the survey now.")]
    next_check_at: Annotated[
        str, msgspec.Meta(description="ISO 8601 UTC time before which asking again is useless.")
    ]
    display_token: Annotated[
        str | None, msgspec.Meta(description="With `show`: the token the answer calls send.")
    ] = None
    locale: Annotated[
        str | None, msgspec.Meta(description="With `show`: the language of `texts`.")
    ] = None
    texts: Annotated[
        dict[str, str] | None,
        msgspec.Meta(description="With `show`: the question, labels and thanks to display."),
    ] = None
    theme: Annotated[
        dict[str, str] | None, msgspec.Meta(description="With `show`: colours and position.")
    ] = None
    promoter_link_url: Annotated[
        str | None, msgspec.Meta(description="With `show`: where promoters may leave a review.")
    ] = None
    delay_seconds: Annotated[
        int | None, msgspec.Meta(description="With `show`: wait this long before showing.")
    ] = None
    talk_to: Annotated[
        dict[str, str] | None,
        msgspec.Meta(
            description="With `show`, when the survey offers it: `name` and `url` (an http(s) "
            "meeting link) of the account's CSM or pool, for a detractor's thank-you "
            "(`texts.talk_to_label`, with {name})."
        ),
    ] = None


class ClickAnswer(msgspec.Struct):
    counted: Annotated[
        bool, msgspec.Meta(description="False when this display's link was counted already.")
    ]


class CommentAnswer(msgspec.Struct):
    ok: Annotated[bool, msgspec.Meta(description="Always true: the comment is stored.")]


class DismissalAnswer(msgspec.Struct):
    dismissed: Annotated[
        bool, msgspec.Meta(description="False when the display was already answered or closed.")
    ]


# every refusal the widget endpoints give, with the one error shape
WIDGET_ERRORS: dict[int, ResponseSpec] = {
    status: ResponseSpec(ErrorBody, description=text)
    for status, text in (
        (400, "Malformed request"),
        (401, "Unknown or disabled widget key, or an identity the key does not accept"),
        (403, "The page's Origin is not one of the key's allowed origins"),
        (409, "Too late: the display's follow-up window, or the comment's edit window, is over"),
        (413, "Body larger than the widget's limit (64 KiB)"),
        (422, "Invalid body or unknown display_token; `detail` names the field"),
        (429, "Too many calls from this address or for this key; see Retry-After"),
        (503, "The database is unavailable for a moment; retry after Retry-After"),
    )
}


def widget_responses(success: int, answer: type[msgspec.Struct], text: str) -> dict[int, Any]:
    """`responses=` for a widget route: its answer's shape, then every refusal."""
    return {success: ResponseSpec(answer, description=text), **WIDGET_ERRORS}
