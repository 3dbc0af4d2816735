"""What the widget's decisions read about surveys and schedules, cached in the process: the
active schedules with their texts per locale, a survey's texts, and the global gap between
two surveys."""

from __future__ import annotations

from dataclasses import dataclass, field
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


@dataclass(frozen=True, slots=True)
class SurveyTexts:
    """A survey's texts per locale as stored, its product name and promoter link, and a memo
    of its texts merged per locale (`localised`), kept for as long as the record is cached."""

    texts: dict[str, Any]
    product_name: str
    promoter_link_url: str | None
    talk_to_detractors: bool = False
    localised: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActiveSchedule:
    """An active schedule of an active survey, as the widget's decisions read it."""

    id: int
    survey: int
    cadence_days: int
    first_survey_after_days: int
    dismiss_backoff_days: int
    max_asks_per_cycle: int
    sample_percent: float
    max_users_per_account: int | None
    targeting: dict[str, Any]
    delay_seconds: int
    starts_at: datetime | None
    ends_at: datetime | None
    theme: dict[str, Any]  # the survey's
    texts: SurveyTexts  # the survey's
    # where it may ask: these keys' ids and these environments' keys; both empty: any key
    widget_keys: frozenset[int] = frozenset()
    environments: frozenset[str] = frozenset()
    priority: int = 0

    def takes(self, key_id: int, environment: str) -> bool:
        """Whether the schedule may ask through this key (by its id or its environment)."""
        if not self.widget_keys and not self.environments:
            return True
        return key_id in self.widget_keys or environment in self.environments

    def specificity(self, key_id: int, environment: str) -> int:
        """How closely the schedule is aimed at this key: 2 it names the key, 1 it names the
        key's environment, 0 it takes any key (or does not take this one)."""
        if key_id in self.widget_keys:
            return 2
        return 1 if environment in self.environments else 0


def in_order_for(
    schedules: list[ActiveSchedule], key_id: int, environment: str
) -> list[ActiveSchedule]:
    """The schedules in the order the widget weighs them for one key: higher priority first;
    at equal priority a schedule naming this key, then one naming its environment, then one
    for any key, so a survey made for one product area is not hidden behind a catch-all
    schedule created before it; then the oldest first."""
    if all(not s.widget_keys and not s.environments for s in schedules):
        return schedules  # already by priority, then id
    return sorted(schedules, key=lambda s: (-s.priority, -s.specificity(key_id, environment)))


_schedules: TTLCache[list[ActiveSchedule]] = TTLCache(CONFIG_TTL_SECONDS)
_surveys: TTLCache[SurveyTexts] = TTLCache(CONFIG_TTL_SECONDS)


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


async def active_schedules(now: datetime) -> list[ActiveSchedule]:
    schedules = await _schedules.get("schedules", _read_schedules)
    return [s for s in schedules if s.ends_at is None or s.ends_at > now]


async def _read_schedules() -> list[ActiveSchedule]:
    rows = await (
        Schedule.select(
            Schedule.id,
            Schedule.survey,
            Schedule.cadence_days,
            Schedule.first_survey_after_days,
            Schedule.dismiss_backoff_days,
            Schedule.max_asks_per_cycle,
            Schedule.sample_percent,
            Schedule.max_users_per_account,
            Schedule.targeting,
            Schedule.delay_seconds,
            Schedule.starts_at,
            Schedule.ends_at,
            Schedule.widget_keys,
            Schedule.environments,
            Schedule.priority,
            Schedule.survey.theme.as_alias("theme"),
            Schedule.survey.texts.as_alias("texts"),
            Schedule.survey.product_name.as_alias("product_name"),
            Schedule.survey.promoter_link_url.as_alias("promoter_link_url"),
            Schedule.survey.talk_to_detractors.as_alias("talk_to_detractors"),
        )
        .where((Schedule.active == True) & (Schedule.survey.active == True))  # noqa: E712
        .order_by(Schedule.priority, ascending=False)
        .order_by(Schedule.id)
        .output(load_json=True)
    )
    return [
        ActiveSchedule(
            id=row["id"],
            survey=row["survey"],
            cadence_days=row["cadence_days"],
            first_survey_after_days=row["first_survey_after_days"],
            dismiss_backoff_days=row["dismiss_backoff_days"],
            max_asks_per_cycle=row["max_asks_per_cycle"],
            sample_percent=row["sample_percent"],
            max_users_per_account=row["max_users_per_account"],
            targeting=row["targeting"],
            delay_seconds=row["delay_seconds"],
            starts_at=row["starts_at"],
            ends_at=row["ends_at"],
            theme=row["theme"],
            # each schedule merges its texts per locale as its users are shown the survey
            texts=SurveyTexts(
                row["texts"],
                row["product_name"],
                row["promoter_link_url"],
                bool(row["talk_to_detractors"]),
            ),
            widget_keys=frozenset(int(k) for k in row["widget_keys"] or ()),
            environments=frozenset(str(e) for e in row["environments"] or ()),
            priority=row["priority"],
        )
        for row in rows
    ]


def localised(source: SurveyTexts, requested: str | None) -> tuple[str, dict[str, Any]]:
    """A survey's texts in the best locale for `requested`. Each locale is merged once for as
    long as `source` is cached (a loaded schedule's, a survey's), so an admin change reaches
    the texts with it. The merged texts are shared: never changed after."""
    texts = source.texts or {}
    locale = best_locale(texts, requested)
    merged = source.localised.get(locale)
    if merged is None:
        merged = localised_texts(texts, source.product_name, locale)[1]
        source.localised[locale] = merged
    return locale, merged


def rules_for(schedule: ActiveSchedule, min_gap_days: int) -> CadenceRules:
    return CadenceRules(
        cadence_days=schedule.cadence_days,
        first_survey_after_days=schedule.first_survey_after_days,
        dismiss_backoff_days=schedule.dismiss_backoff_days,
        max_asks_per_cycle=schedule.max_asks_per_cycle,
        sample_percent=schedule.sample_percent,
        min_days_between_surveys=min_gap_days,
        starts_at=schedule.starts_at,
        ends_at=schedule.ends_at,
    )


async def survey_texts(survey_id: int | None) -> SurveyTexts:
    """A survey's texts, product name and promoter link."""

    async def read() -> SurveyTexts:
        row = await queries.SURVEY_TEXTS.first(survey_id)
        if row is None:
            return SurveyTexts({}, "our product", None)
        return SurveyTexts(json_object(row["texts"]), row["product_name"], row["promoter_link_url"])

    return await _surveys.get(survey_id, read)
