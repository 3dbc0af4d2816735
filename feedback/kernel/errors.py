"""What a domain says when it refuses a request, without knowing about HTTP.

Services raise these; the web layer (`feedback.errors`) answers each kind with its status
and the one error shape every API uses, and the Slack bot turns them into a polite reply.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypedDict


class FieldProblem(TypedDict):
    field: str
    message: str


class DomainError(Exception):
    """A refusal: `error` says what went wrong, `detail` names the fields at fault; a
    refusal about one field also has that `field` and its own `message`."""

    def __init__(
        self,
        error: str,
        detail: Sequence[FieldProblem] = (),
        *,
        field: str | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.detail = list(detail)
        self.field = field
        self.message = error if message is None else message

    @classmethod
    def for_field(cls, field: str, message: str) -> DomainError:
        """A refusal about one named field, worded as "field: message"."""
        return cls(
            f"{field}: {message}",
            [{"field": field, "message": message}],
            field=field,
            message=message,
        )


class InputError(DomainError):
    """Bad input in one named field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            f"{field}: {message}",
            [{"field": field, "message": message}],
            field=field,
            message=message,
        )
        self.field: str = field


class UnsupportedInput(InputError):
    """Input of a kind this call does not take (a content type, a file format)."""


class NotFound(DomainError):
    """The thing named does not exist (or is not this caller's to know about)."""


class Conflict(DomainError):
    """The request contradicts the current state (a name taken, a stale version)."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class Unauthenticated(DomainError):
    """The caller could not be identified (an unknown key, a bad signature)."""
