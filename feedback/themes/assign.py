"""The daily job: comments the themes have not seen join the existing themes (the stored
model of their language and the keyword themes); nothing is learned again."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timedelta

from analytics.themes import Language, ThemeModel, detect_language
from feedback.db import write_transaction
from feedback.kernel import app_settings
from feedback.kernel.clock import utcnow
from feedback.themes import queries
from feedback.themes.members import (
    all_themes,
    mark_themed,
    place_comments,
    stored_model,
    write_members,
)

BATCH = 5000
# the worker runs its jobs every minute or so; assigning is for once a day
DAILY_KEY = "themes.daily_assign"
EVERY = timedelta(hours=24)


async def assign_new_comments(now: datetime | None = None, batch: int = BATCH) -> int:
    """Theme every comment not themed yet; the number of comments themed."""
    now = now or utcnow()
    themes = await all_themes()
    models: dict[Language, ThemeModel | None] = {}
    done = 0
    while rows := await queries.UNTHEMED_COMMENTS.fetch(batch):
        grouped: dict[Language, tuple[list[int], list[str]]] = defaultdict(lambda: ([], []))
        for row in rows:
            ids, texts = grouped[detect_language(row["comment"])]
            ids.append(int(row["id"]))
            texts.append(row["comment"])
        for language, (ids, texts) in grouped.items():
            if language not in models:
                models[language] = await stored_model(language)
            model = models[language]
            memberships = await asyncio.to_thread(model.assign, texts) if model else None
            placed = place_comments(ids, texts, language, model, themes, memberships)
            async with write_transaction():
                await write_members(placed)
                await mark_themed(ids, language, now)
        done += len(rows)
        if len(rows) < batch:
            break
    return done


async def daily_theme_job(now: datetime | None = None) -> int:
    """Worker job: once a day, whichever worker runs it first, `assign_new_comments`."""
    now = now or utcnow()
    last = (await app_settings.read(DAILY_KEY)).get("ran_at")
    if last is not None and now - datetime.fromisoformat(last) < EVERY:
        return 0
    await app_settings.write(DAILY_KEY, {"ran_at": now.isoformat()})
    return await assign_new_comments(now)
