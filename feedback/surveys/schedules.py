"""What the widget's decisions read about surveys and schedules, cached in the process: the
active schedules with their texts per locale, a survey's texts, and the global gap between
two surveys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from feedback.db import json_object
from feedback.kernel import app_settings
from feedback.kernel.cache import CONFIG_TTL_SECONDS, TTLCache, forget_configuration
from feedback.surveys import queries
from feedback.surveys.cadence import CadenceRules
from feedback.surveys.models import Schedule
from feedback.surveys.texts import best_locale, localised_texts

DEFAULT_MIN_DAYS_BETWEEN_SURVEYS = 7

_config: TTLCache[Any] = TTLCache(CONFIG_TTL_SECONDS)


class SurveyGap(msgspec.Struct):
    """The global gap between any two surveys for one user. Stored as a JSON object, not a
    bare number: SQLite's NUMERIC affinity would turn "7" into 7."""

    days: int = DEFAULT_MIN_DAYS_BETWEEN_SURVEYS


GAP_KEY = "min_days_between_surveys"


async def min_days_between_surveys() -> int:
    return (await app_settings.load(GAP_KEY, SurveyGap)).days


async def set_min_days_between_surveys(days: int) -> None:
    await app_settings.save(GAP_KEY, SurveyGap(days))
    forget_configuration()


async def active_schedules(now: datetime) -> list[dict[str, Any]]:
    rows = await _config.get("schedules", _read_schedules)
    return [r for r in rows if r["ends_at"] is None or r["ends_at"] > now]


async def _read_schedules() -> list[dict[str, Any]]:
    rows = await (
        Schedule.select(
            Schedule.all_columns(),
            Schedule.survey.name.as_alias("survey_name"),
            Schedule.survey.product_name.as_alias("product_name"),
            Schedule.survey.texts.as_alias("texts"),
            Schedule.survey.theme.as_alias("theme"),
            Schedule.survey.promoter_link_url.as_alias("promoter_link_url"),
        )
        .where((Schedule.active == True) & (Schedule.survey.active == True))  # noqa: E712
        .order_by(Schedule.priority, ascending=False)
        .order_by(Schedule.id)
        .output(load_json=True)
    )
    for row in rows:
        row["localised"] = {}  # locale -> merged texts, filled as users are shown the survey
    return rows


def localised(source: dict[str, Any], requested: str | None) -> tuple[str, dict[str, Any]]:
    """A survey's texts in the best locale for `requested`. `source` is a cached row with the
    survey's `texts` and `product_name` (a loaded schedule, a survey) and a `localised` memo:
    each locale is merged once for as long as that row is cached, so an admin change reaches
    the texts with the row. The merged texts are shared: never changed after."""
    texts = source["texts"] or {}
    locale = best_locale(texts, requested)
    merged = source["localised"].get(locale)
    if merged is None:
        merged = localised_texts(texts, source["product_name"], locale)[1]
        source["localised"][locale] = merged
    return locale, merged


def rules_for(schedule: dict[str, Any], min_gap_days: int) -> CadenceRules:
    return CadenceRules(
        cadence_days=schedule["cadence_days"],
        first_survey_after_days=schedule["first_survey_after_days"],
        dismiss_backoff_days=schedule["dismiss_backoff_days"],
        max_asks_per_cycle=schedule["max_asks_per_cycle"],
        sample_percent=schedule["sample_percent"],
        min_days_between_surveys=min_gap_days,
        starts_at=schedule["starts_at"],
        ends_at=schedule["ends_at"],
    )


async def survey_texts(survey_id: int | None) -> dict[str, Any]:
    """A survey's texts, product name and promoter link, with a `localised` memo."""

    async def read() -> dict[str, Any]:
        row = await queries.SURVEY_TEXTS.first(survey_id)
        if row is None:
            row = {"texts": {}, "product_name": "our product", "promoter_link_url": None}
        return {**row, "texts": json_object(row["texts"]), "localised": {}}

    return await _config.get(("survey", survey_id), read)
