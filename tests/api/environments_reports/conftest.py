"""Production and staging answers in the same accounts, as a widget key of each environment
would leave them: the production answers are all promoters, the staging ones all detractors,
so any staging answer counted by a production report shows at once."""

from __future__ import annotations

import pytest

from feedback.reports.choices import page_choices_cache
from feedback.responses.models import Response
from tests.support.factories import book, import_csv

STAGING = "[staging]"

# Acme (a1, premium) and Globex (a2, paid) are Ann's, Initech (b1, free) is Bob's. Acme and
# Globex answer 10 and 9 in production; Acme (another user) and Initech answer 0 and 2 on
# staging, so Initech's only answers are staging ones.
RESPONSES = (
    "response_id,account_id,user_id,score,answered_at,comment\n"
    + "".join(f"pa-{i},a1,u1,10,2025-02-0{i + 1}T10:00:00Z,love it\n" for i in range(6))
    + "".join(f"pg-{i},a2,u3,9,2025-05-0{i + 1}T10:00:00Z,fine\n" for i in range(6))
    + "".join(f"sa-{i},a1,u2,0,2025-02-1{i}T10:00:00Z,{STAGING} broken\n" for i in range(5))
    + "".join(f"sb-{i},b1,u4,2,2025-05-1{i}T10:00:00Z,{STAGING} test\n" for i in range(5))
)
# Initech gave notice: churned in any window, whatever its answers
CHURN = "account_id,noticed_at\nb1,2025-08-01T00:00:00Z\n"


@pytest.fixture
async def answers() -> None:
    await book()
    result = await import_csv("responses", RESPONSES)
    assert result.ok, result.errors
    result = await import_csv("churn", CHURN)
    assert result.ok, result.errors
    await Response.update({Response.environment: "staging"}).where(
        Response.comment.like(f"{STAGING}%")
    )
    # the pages' dropdowns are kept for a minute per process: start from none
    page_choices_cache.clear()
