"""A unique index refusing a write is told apart from other errors on both engines (a reopen
that races a new CTA for the same account and reason answers 409, never 500)."""

from __future__ import annotations

import pytest

from feedback.accounts.models import CSM
from feedback.db.errors import unique_violation


async def test_a_duplicate_key_is_a_unique_violation_and_other_errors_are_not() -> None:
    await CSM.insert(CSM(name="Ann", email="ann@example.com"))
    with pytest.raises(Exception) as caught:
        await CSM.insert(CSM(name="Ann again", email="ann@example.com"))
    assert unique_violation(caught.value)
    assert not unique_violation(ValueError("UNIQUE constraint failed: csm.email"))
    assert not unique_violation(RuntimeError("boom"))
