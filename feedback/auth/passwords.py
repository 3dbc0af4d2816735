"""Staff passwords: Argon2id hashing off the event loop, and the rule every new password meets.

`common-passwords.txt.gz` beside this module is Django 5.2's list of 19,640 common passwords
(django/contrib/auth/common-passwords.txt.gz, BSD-3-Clause, itself from Royce Williams'
list of passwords seen in breaches), byte for byte: unzip Django's wheel to reproduce it.
"""

from __future__ import annotations

import gzip
import secrets
from functools import cache
from pathlib import Path

import anyio.to_thread
from anyio import CapacityLimiter
from anyio.lowlevel import RunVar
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from feedback.kernel.errors import InputError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1000
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common-passwords.txt.gz")

_hasher = PasswordHasher()  # Argon2id with the library's current memory-hard defaults
# Each hash takes 64 MiB for tens of milliseconds: a burst of sign-ins queues for a few
# threads of its own instead of taking the thread pool (and its memory) from everything else.
PASSWORD_THREADS = 4
_password_threads: RunVar[CapacityLimiter] = RunVar("password_threads")


def _threads() -> CapacityLimiter:
    try:
        return _password_threads.get()
    except LookupError:
        limiter = CapacityLimiter(PASSWORD_THREADS)
        _password_threads.set(limiter)
        return limiter


def hash_password_now(password: str) -> str:
    """Blocks for tens of milliseconds by design: call `hash_password` from async code."""
    return _hasher.hash(password)


def verify_password_now(password_hash: str, password: str) -> bool:
    """Blocks like `hash_password_now`: call `verify_password` from async code."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def hash_password(password: str) -> str:
    # a worker thread: an Argon2 hash on the event loop stalls every other request
    return await anyio.to_thread.run_sync(hash_password_now, password, limiter=_threads())


async def verify_password(password_hash: str, password: str) -> bool:
    return await anyio.to_thread.run_sync(
        verify_password_now, password_hash, password, limiter=_threads()
    )


@cache
def _dummy_hash() -> str:
    return hash_password_now(secrets.token_urlsafe(16))


def _verify_dummy_now(password: str) -> bool:
    return verify_password_now(_dummy_hash(), password)


async def verify_against_nobody(password: str) -> None:
    """A real check against a throwaway hash when the email is unknown, so the time an
    answer takes does not tell which emails have an account."""
    await anyio.to_thread.run_sync(_verify_dummy_now, password, limiter=_threads())


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def password_problem(password: str, email: str = "") -> str | None:
    """What is wrong with a new password, in words a person can act on; None when it is fine."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"must be at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"must be at most {MAX_PASSWORD_LENGTH} characters"
    if not password.strip():
        return "must not be only spaces"
    if len(set(password)) == 1:
        return "must not be one character repeated"
    lowered = password.strip().lower()
    if lowered in common_passwords():
        return "is one of the most common passwords; choose another"
    if email and lowered == email.strip().lower():
        return "must not be the email address"
    return None


def validate_password(password: str, field: str = "password", email: str = "") -> str:
    problem = password_problem(password, email)
    if problem is not None:
        raise InputError(field, problem)
    return password
