"""Signing staff in and out: throttled password checks, audited failures, revocable sessions.

A session cookie (encrypted by the web layer) holds the staff user's id and the
`session_version` it was made under; a request counts as signed in only while that user is
active and still has that version. Signing out, deactivation and a password reset move the
version on, so every cookie made before stops working at once, in every process.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from feedback.auth.models import StaffUser
from feedback.auth.passwords import verify_against_nobody, verify_password
from feedback.auth.services import audit, principal_for_staff_row
from feedback.kernel.clock import utcnow
from feedback.kernel.principal import Principal
from feedback.ratelimit import RateLimiter, client_bucket

log = logging.getLogger("feedback.auth")

SESSION_USER_KEY = "staff_user_id"
SESSION_VERSION_KEY = "session_version"
MAX_EMAIL_LENGTH = 320
MAX_PASSWORD_INPUT = 1000


@dataclass(frozen=True)
class SignInLimits:
    failures_per_account: int
    failures_per_address: int
    window_seconds: int


@dataclass(frozen=True)
class SignInResult:
    principal: Principal | None = None
    session: dict[str, Any] | None = None
    # seconds until a throttled email or address may try again; None when not throttled
    retry_after: int | None = None


def _email_key(email: str) -> str:
    # the bucket name carries no address a person typed: a hash of it
    return hashlib.sha256(email.encode()).hexdigest()[:32]


def _generation(last_login_at: datetime | None) -> str:
    """Failures count since the last successful sign-in: a success starts a new bucket."""
    return last_login_at.isoformat() if last_login_at is not None else "-"


async def _audit_failure(email: str, address: str, reason: str) -> None:
    # never the password: a mistyped one is often the real one, or another site's
    await audit(
        "anonymous",
        "web",
        "staff_user.sign_in_failed",
        email[:300],
        {
            "address": address,
            "reason": reason,
        },
    )


async def sign_in(
    email: str, password: str, client: str, limiter: RateLimiter, limits: SignInLimits
) -> SignInResult:
    """Check a password unless the email has failed too often since its last sign-in, or the
    address has tried too often, within the window.

    Every attempt is counted before the password is checked (so simultaneous attempts cannot
    all slip under a limit); an email's count starts afresh after each successful sign-in by
    naming a new bucket, and a successful sign-in gives its address's count back, so an
    office behind one address is never throttled by its colleagues signing in. A throttled
    attempt is refused before the password is looked at, so the right password does not help
    an attacker who has used up the attempts."""
    email = email.strip().lower()[:MAX_EMAIL_LENGTH]
    password = password[:MAX_PASSWORD_INPUT]
    address = client[:100]
    bucket = client_bucket(address)  # an IPv6 client counts per /64
    row = (
        await StaffUser.select(
            StaffUser.id,
            StaffUser.role,
            StaffUser.csm,
            StaffUser.password_hash,
            StaffUser.email,
            StaffUser.last_login_at,
            StaffUser.session_version,
        )
        .where((StaffUser.email == email) & (StaffUser.active == True))  # noqa: E712
        .first()
    )
    by_address = await limiter.hit(
        f"login:address:{bucket}", limits.failures_per_address, limits.window_seconds
    )
    by_account = await limiter.hit(
        f"login:account:{_email_key(email)}:{_generation(row['last_login_at'] if row else None)}",
        limits.failures_per_account,
        limits.window_seconds,
    )
    if not (by_address.allowed and by_account.allowed):
        retry_after = max(v.retry_after for v in (by_address, by_account) if not v.allowed)
        # audited once per window and bucket: a flood of refused attempts writes no flood
        first = await limiter.hit(
            f"login:throttle-audited:{bucket}:{_email_key(email)}", 1, limits.window_seconds
        )
        if first.allowed:
            reason = (
                "too many failures for this email"
                if not by_account.allowed
                else "too many failed sign-ins from this address"
            )
            await _audit_failure(email, address, reason)
        log.warning("sign-in throttled for an email from %s", address)
        return SignInResult(retry_after=retry_after)
    if row is None:
        await verify_against_nobody(password)
        await _audit_failure(email, address, "unknown or inactive email")
        return SignInResult()
    if not await verify_password(row["password_hash"], password):
        await _audit_failure(email, address, "wrong password")
        return SignInResult()
    await limiter.release(f"login:address:{bucket}", limits.window_seconds)
    await StaffUser.update({StaffUser.last_login_at: utcnow()}).where(StaffUser.id == row["id"])
    principal = principal_for_staff_row(row)
    await audit(principal.actor, "web", "staff_user.sign_in", detail={"address": address})
    return SignInResult(
        principal=principal,
        session={SESSION_USER_KEY: row["id"], SESSION_VERSION_KEY: row["session_version"]},
    )


async def principal_for_session(session: dict[str, Any] | None) -> Principal | None:
    """The staff user a session cookie names, while they are active and it is not ended."""
    if not session:
        return None
    user_id, version = session.get(SESSION_USER_KEY), session.get(SESSION_VERSION_KEY)
    if not isinstance(user_id, int) or not isinstance(version, int):
        return None
    row = (
        await StaffUser.select(StaffUser.id, StaffUser.role, StaffUser.csm, StaffUser.email)
        .where(
            (StaffUser.id == user_id)
            & (StaffUser.active == True)  # noqa: E712
            & (StaffUser.session_version == version)
        )
        .first()
    )
    return None if row is None else principal_for_staff_row(row)


async def end_sessions(user_id: int) -> None:
    """Every session of this staff user ends now (in every browser and process)."""
    await StaffUser.update({StaffUser.session_version: StaffUser.session_version + 1}).where(
        StaffUser.id == user_id
    )


async def sign_out(session: dict[str, Any] | None) -> None:
    principal = await principal_for_session(session)
    if principal is None or principal.staff_user_id is None:
        return
    await end_sessions(principal.staff_user_id)
    await audit(principal.actor, "web", "staff_user.sign_out")
