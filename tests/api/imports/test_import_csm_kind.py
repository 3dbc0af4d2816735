"""The CSM import takes a CSM's kind (dedicated or pooled) and meeting link (issue 18)."""

from __future__ import annotations

from feedback.accounts.models import CSM
from tests.support.factories import import_csv


async def test_kind_and_meeting_link_are_imported_and_updated() -> None:
    result = await import_csv(
        "csms",
        "email,name,kind,meeting_url\n"
        "pia@example.com,Pia,pooled,https://cal.example.com/pia\n"
        "ann@example.com,Ann,,\n",
    )
    assert result.ok and result.created == 2, result.errors
    rows = {r["email"]: r for r in await CSM.select(CSM.email, CSM.kind, CSM.meeting_url)}
    assert rows["pia@example.com"]["kind"] == "pooled"
    assert rows["pia@example.com"]["meeting_url"] == "https://cal.example.com/pia"
    assert rows["ann@example.com"]["kind"] == "dedicated"
    assert rows["ann@example.com"]["meeting_url"] is None

    again = await import_csv("csms", "email,name,kind\nann@example.com,Ann,Pooled\n")
    assert again.ok and again.updated == 1
    assert await CSM.select(CSM.kind).where(CSM.email == "ann@example.com").first() == {
        "kind": "pooled"
    }


async def test_a_bad_kind_or_link_is_a_line_error_and_nothing_is_written() -> None:
    result = await import_csv(
        "csms",
        "email,name,kind,meeting_url\n"
        "a@example.com,A,specialist,\n"
        "b@example.com,B,,javascript:alert(1)\n",
    )
    assert not result.written
    assert [(e.line, e.column) for e in result.errors] == [(2, "kind"), (3, "meeting_url")]
    assert await CSM.count() == 0
