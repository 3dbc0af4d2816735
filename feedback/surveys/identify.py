"""Who is asking: the end user and their account, created or refreshed on every check."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, TypedDict

import msgspec

from feedback.accounts.models import Account, EndUser
from feedback.accounts.services import promote_to_production
from feedback.db import Row, as_utc_datetime, json_object
from feedback.kernel.cache import CONFIG_TTL_SECONDS, TTLCache
from feedback.kernel.environments import PRODUCTION
from feedback.kernel.errors import Forbidden
from feedback.surveys import queries
from feedback.surveys.models import IdentityMode

# last_seen_at is for "going dark" reports, not a clock: one write an hour per user is enough
LAST_SEEN_RESOLUTION = timedelta(hours=1)
USER_FIELDS = ("role", "locale", "email")
ACCOUNT_FIELDS = ("plan", "industry")

# account external id -> (primary key, plan, environment): a check for a user of a known
# account is then one statement, whether the user is new or not (`eligibility`). The plan is
# what targeting reads, the environment whether a production key must promote the account
# (`promote_if_production`); like the rest of the configuration, a change reaches other
# processes within 10 s.
KNOWN_ACCOUNTS_MAX = 100_000
known_accounts: TTLCache[tuple[int, str | None, str]] = TTLCache(
    CONFIG_TTL_SECONDS, max_entries=KNOWN_ACCOUNTS_MAX
)


class UserAttributes(TypedDict):
    """What targeting reads about a user (`targeting.targets`): their role and locale, their
    account's plan, and their free-form traits."""

    role: str | None
    locale: str | None
    plan: str | None
    traits: dict[str, Any]


class Visitor(msgspec.Struct, frozen=True, kw_only=True):
    """A user as the widget's rules see them: the attributes targeting reads, and the moments
    of their history the cadence rules read. A user not created yet (the one-statement check
    of a new user, `eligibility`) is one, first seen now. (A frozen msgspec struct: built on
    every check, it costs less than a dict, where a frozen dataclass costs four times more.)"""

    first_seen_at: datetime
    last_display_at: datetime | None  # any survey: the global gap
    last_answered_at: datetime | None
    attributes: UserAttributes
    # when the tool used before this one last asked them (imports set it)
    asked_elsewhere_at: datetime | None = None


class IdentifiedUser(Visitor, frozen=True, kw_only=True):
    """A user as `identify` leaves them: stored, with their account."""

    id: int
    is_new: bool  # created by this check: no displays to read
    account_id: int  # the account's primary key


def forget_accounts() -> None:
    """Accounts were imported in this process: targeting reads their new plans at once."""
    known_accounts.clear()


async def promote_if_production(
    key_environment: str, account_pk: int, account_environment: str | None
) -> str:
    """The account's environment once a key of `key_environment` has named it: an account
    first seen through a staging or development key becomes production when a production
    key names it (one write, only then: a production account costs nothing more), and a test
    key leaves a production account as it is."""
    if key_environment != PRODUCTION or account_environment in (None, PRODUCTION):
        return account_environment or PRODUCTION
    await promote_to_production([account_pk])
    return PRODUCTION


def split_traits(traits: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Widget traits -> (user fields, account fields, free-form user traits)."""
    user: dict[str, Any] = {}
    account: dict[str, Any] = {}
    rest: dict[str, str] = {}
    for name, value in traits.items():
        if value is None:
            continue
        text = str(value).strip()[:500]
        if name in USER_FIELDS:
            user[name] = text
        elif name in ACCOUNT_FIELDS or name == "account_name":
            account["name" if name == "account_name" else name] = text
        else:
            rest[name[:100]] = text
    return user, account, rest


async def identify(
    user_id: str,
    account_id: str,
    traits: dict[str, Any],
    now: datetime,
    found: Row | None = None,
    trust: IdentityMode = IdentityMode.browser,
    environment: str = PRODUCTION,
) -> IdentifiedUser:
    """Create or refresh the user and their account, in plain SQL (this runs on every check);
    the widget never overwrites CRM data on an existing account (only fills a new one).
    `found` is this user's `queries.IDENTIFY` row when the caller has just read it.
    `environment` is the widget key's: an account or a user it creates is of that
    environment, and a production key makes an account or a user first seen through a test
    key production (the user in the write that refreshes them: a production user costs
    nothing more).

    With `trust` at `user_hash` only the user id is proven: the user must exist already (from
    an import or an earlier signed call), the account must be theirs, and their traits are
    left as they are (see `verification`)."""
    user_fields, account_fields, free = split_traits(traits)
    if found is None:
        found = await queries.IDENTIFY.first(user_id, account_id)
    if found is None and trust is IdentityMode.user_hash:
        raise Forbidden.for_field(
            "account_id",
            "not a known account: a user_hash proves only the user id, so the widget cannot "
            "create accounts with it (send an identity_token that signs the account)",
        )
    if found is None:
        await Account.insert(
            Account(
                external_id=account_id,
                name=account_fields.get("name") or account_id,
                plan=account_fields.get("plan"),
                industry=account_fields.get("industry"),
                environment=environment,
            )
        ).on_conflict(target=Account.external_id, action="DO NOTHING")
        found = await queries.IDENTIFY.first(user_id, account_id)
        assert found is not None
    account_pk: int = found["account_pk"]
    # (a simultaneous test-key call may have created the account a moment before this one)
    found["account_environment"] = await promote_if_production(
        environment, account_pk, found.get("account_environment")
    )
    plan: str | None = found["account_plan"]
    is_new = found["id"] is None
    if is_new and trust is IdentityMode.user_hash:
        # a user id the host vouches for says nothing of their account: placing them in one
        # the browser names would let a new sign-up answer as another company
        raise Forbidden.for_field(
            "user_id",
            "not a known user: a user_hash cannot add a user to an account (send an "
            "identity_token that signs the account, or import the user first)",
        )
    existing = found
    if is_new:
        values = (user_fields.get("role"), user_fields.get("email"), user_fields.get("locale"))
        inserted = await queries.NEW_USER.fetch(
            user_id, account_pk, *values, json.dumps(free), now, now, now, now, environment
        )
        if inserted:  # everything about this user is known: no need to read it back
            existing = {
                "id": inserted[0]["id"],
                "account": account_pk,
                "traits": free,
                "first_seen_at": now,
                "last_seen_at": now,
                "last_display_at": None,
                "last_answered_at": None,
                "asked_elsewhere_at": None,
                "role": values[0],
                "email": values[1],
                "locale": values[2],
                "environment": environment,
            }
        else:  # a simultaneous request created the user first
            again = await queries.IDENTIFY.first(user_id, account_id)
            assert again is not None  # the account was there a moment ago
            existing = again
            is_new = False
    existing["traits"] = json_object(existing["traits"])
    changes: dict[Any, Any] = {}
    if not is_new and trust is IdentityMode.user_hash:
        if existing["account"] != account_pk:
            raise Forbidden.for_field(
                "account_id",
                "this user belongs to another account: a user_hash proves only the user id, "
                "so it cannot move them (send an identity_token that signs the account)",
            )
        user_fields, free = {}, {}  # unproven traits are not stored
    if not is_new:
        last_seen = as_utc_datetime(existing["last_seen_at"])
        if last_seen is None or now - last_seen > LAST_SEEN_RESOLUTION:
            changes[EndUser.last_seen_at] = now
        for name, value in user_fields.items():
            if existing[name] != value:
                changes[getattr(EndUser, name)] = value
                existing[name] = value
        merged = {**existing["traits"], **free}
        if merged != existing["traits"]:
            changes[EndUser.traits] = json.dumps(merged)
            existing["traits"] = merged
        if existing["account"] != account_pk:
            changes[EndUser.account] = account_pk
        if existing["first_seen_at"] is None:
            changes[EndUser.first_seen_at] = now
            existing["first_seen_at"] = now
        if environment == PRODUCTION and existing.get("environment") not in (None, PRODUCTION):
            # first seen through a test key: new to production now, so a program's
            # `user_added` scan (which reads users by created_at) finds them at its next run
            changes[EndUser.environment] = PRODUCTION
            changes[EndUser.created_at] = now
            existing["environment"] = PRODUCTION
    if changes:
        changes[EndUser.updated_at] = now
        await EndUser.update(changes).where(EndUser.id == existing["id"])
    return IdentifiedUser(
        # set above when it was missing
        first_seen_at=as_utc_datetime(existing["first_seen_at"]) or now,
        last_display_at=as_utc_datetime(existing["last_display_at"]),
        last_answered_at=as_utc_datetime(existing["last_answered_at"]),
        asked_elsewhere_at=as_utc_datetime(existing.get("asked_elsewhere_at")),
        attributes={
            "role": existing.get("role"),
            "locale": existing.get("locale"),
            "plan": plan,
            "traits": existing["traits"],
        },
        id=existing["id"],
        is_new=is_new,
        account_id=account_pk,
    )
