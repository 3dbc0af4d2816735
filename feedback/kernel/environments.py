"""The environments of the host product a widget key belongs to.

Every display and answer records the environment of the key it came through. Reports,
churn, health, themes, the CTA rules, programs and webhooks read production data only unless
a caller asks for another environment by name (`environment=` on pages and the API), so a
test on a staging or development key never reaches the real numbers or a real CSM."""

from __future__ import annotations

from enum import StrEnum

from feedback.kernel.errors import InputError


class Environment(StrEnum):
    production = "production"
    staging = "staging"
    development = "development"


PRODUCTION = Environment.production.value
ENVIRONMENTS: tuple[str, ...] = tuple(e.value for e in Environment)


def parse_environment(value: str | None, field: str = "environment") -> str:
    """The environment named by `value`; production when none is given. Anything else is
    refused naming `field`."""
    if value is None or value.strip() == "":
        return PRODUCTION
    cleaned = value.strip().lower()
    if cleaned not in ENVIRONMENTS:
        raise InputError(field, f"expected one of {', '.join(ENVIRONMENTS)}, got {value!r}")
    return cleaned
