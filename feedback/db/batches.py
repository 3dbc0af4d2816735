"""Padded batches: many rows in one statement, with few distinct statement lengths."""

from __future__ import annotations

from itertools import chain
from typing import Any

# Batches of up to 8 rows (answers, new users' checks) reach PostgreSQL as rows of scalar
# parameters, so that it keeps a generic plan per connection for each statement instead of
# planning every run. Each kept plan costs its connection memory (measured: 0.2-0.27 MB for
# an answer statement, 0.6-0.67 MB for a new users' one), so there is one statement for each
# of these lengths only, and a batch is padded with empty rows up to the next: an empty row
# matches no display and no account, so it writes nothing and returns nothing.
ROW_BATCHES = (1, 2, 4, 8)
MAX_ROW_BATCH = ROW_BATCHES[-1]


def batch_length(items: int) -> int:
    """The statement length a batch of `items` rows is padded to."""
    return next(length for length in ROW_BATCHES if length >= items)


def padded(rows: list[Any], length: int) -> list[Any]:
    """The rows' values in order, then empty rows (as wide as the first) up to `length`."""
    return [*chain.from_iterable(rows), *([None] * ((length - len(rows)) * len(rows[0])))]
