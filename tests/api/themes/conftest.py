"""The book and a comment set in two languages, imported through the product's importer."""

from __future__ import annotations

import pytest

from tests.api.themes.comments import (
    BILLING,
    JA_BILLING,
    JA_SPEED,
    LOGIN,
    SPEED,
    responses_csv,
)
from tests.support.factories import book, import_csv

# detractors complain about billing, passives about speed, promoters mention login
ENGLISH = [(BILLING, [2, 3, 5, 6]), (SPEED, [7, 8]), (LOGIN, [9, 10, 8])]
JAPANESE = [(JA_BILLING, [3, 4]), (JA_SPEED, [8, 9])]


@pytest.fixture
async def comments() -> None:
    await book()
    result = await import_csv("responses", responses_csv([*ENGLISH, *JAPANESE]))
    assert result.ok, result.errors
