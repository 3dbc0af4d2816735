"""The in-process memory of "not now" answers of the eligibility path."""

from __future__ import annotations

from datetime import timedelta

from feedback.kernel.clock import utcnow
from feedback.surveys.eligibility import NotNowMemory, Outcome


def test_remembered_not_now_answers_are_forgotten_once_stale() -> None:
    """The in-process memory of "not now" follows the users seen in the last minutes."""
    memory = NotNowMemory()
    now = utcnow()
    for n in range(999):
        memory.entries[("seen earlier", n)] = (now - timedelta(seconds=1), now)
    memory.entries[("still quiet",)] = (now + timedelta(minutes=1), now + timedelta(hours=1))
    memory.remember(("new",), Outcome(False, now + timedelta(hours=1)), now)
    assert set(memory.entries) == {("still quiet",), ("new",)}
    assert memory.entries[("new",)][0] == now + memory.cap
    assert memory.sweep_at == 1_000
