"""Onboarding enrols the people who are new: a user first seen in the last days, whether
their account is new or years old, and never an import of long-standing users (whose first
activity was long ago), however recently the rows were stored."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from feedback.accounts.models import EndUser
from feedback.kernel.clock import utcnow
from feedback.programs.models import Participant, Program
from feedback.programs.shipped import ensure_default_programs
from feedback.programs.triggers import NEW_USER_ALLOWANCE, scan_triggers
from tests.support.factories import import_csv


async def onboarding_on() -> None:
    await ensure_default_programs(enabled=True)
    await Program.update({Program.enabled: False}).where(Program.slug != "onboarding")


async def import_users(lines: list[str], account_created: datetime) -> datetime:
    """Import an account and its users; the moment just after the rows were stored (the
    importer stamps them with the clock, so the scan runs right after it)."""
    result = await import_csv(
        "accounts",
        "external_id,name,plan,csm_email,created_at\n"
        f"old,Old Co,paid,,{account_created.isoformat()}\n",
    )
    assert result.ok, result.errors
    result = await import_csv(
        "users", "external_id,account_id,role,email,first_seen_at\n" + "\n".join(lines) + "\n"
    )
    assert result.ok, result.errors
    stored = await EndUser.select(EndUser.created_at).order_by(EndUser.created_at, ascending=False)
    return stored[0]["created_at"].astimezone(UTC) + timedelta(minutes=1)


async def enrolled() -> set[str]:
    rows = await Participant.select(Participant.end_user.external_id)
    return {row["end_user.external_id"] for row in rows}


async def test_an_import_of_long_standing_users_enrols_nobody() -> None:
    await onboarding_on()
    long_ago = utcnow() - timedelta(days=400)
    lines = [f"v{n},old,admin,v{n}@old.test,{long_ago.isoformat()}" for n in range(20)]
    now = await import_users(lines, account_created=long_ago)
    assert await scan_triggers(now) == 0
    assert await enrolled() == set()


async def test_a_user_first_seen_today_is_enrolled_and_an_old_one_beside_them_is_not() -> None:
    await onboarding_on()
    real_now = utcnow()
    lines = [
        f"new,old,admin,new@old.test,{(real_now - timedelta(hours=3)).isoformat()}",
        f"veteran,old,admin,veteran@old.test,{(real_now - timedelta(days=90)).isoformat()}",
        # first seen just outside the allowance before the first scan's window
        f"edge,old,admin,edge@old.test,{(real_now - timedelta(days=5)).isoformat()}",
    ]
    now = await import_users(lines, account_created=real_now - timedelta(days=10))
    assert await scan_triggers(now) == 1
    assert await enrolled() == {"new"}


async def test_a_user_added_to_a_years_old_account_is_enrolled_too() -> None:
    await onboarding_on()
    real_now = utcnow()
    lines = [f"late,old,recruiter,late@old.test,{(real_now - timedelta(days=1)).isoformat()}"]
    now = await import_users(lines, account_created=real_now - timedelta(days=3 * 365))
    assert await scan_triggers(now) == 1
    assert await enrolled() == {"late"}


async def test_a_user_never_seen_counts_from_when_they_were_added() -> None:
    await onboarding_on()
    real_now = utcnow()
    now = await import_users(
        ["api,old,admin,api@old.test,", f"seen,old,admin,seen@old.test,{real_now.isoformat()}"],
        account_created=real_now - timedelta(days=700),
    )
    assert await scan_triggers(now) == 2
    assert await enrolled() == {"api", "seen"}


async def test_a_later_scan_enrols_a_user_first_seen_within_the_allowance_once() -> None:
    await onboarding_on()
    real_now = utcnow()
    long_ago = real_now - timedelta(days=700)
    now = await import_users(
        [f"first,old,admin,first@old.test,{long_ago.isoformat()}"], account_created=long_ago
    )
    assert await scan_triggers(now) == 0
    # the next sync stores a user the product saw a day before it
    seen = now - NEW_USER_ALLOWANCE + timedelta(hours=1)
    later = await import_users(
        [f"synced,old,admin,synced@old.test,{seen.isoformat()}"],
        account_created=real_now - timedelta(days=700),
    )
    assert await scan_triggers(later) == 1
    assert await scan_triggers(later + timedelta(minutes=5)) == 0
    assert await enrolled() == {"synced"}
