"""Health-score settings (component weights, band thresholds), a document of the settings
store (`feedback.kernel.app_settings`)."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from analytics.health import (
    BASE_COMPONENTS,
    DEFAULT_GREEN_MIN,
    DEFAULT_METRIC_WEIGHT,
    DEFAULT_RED_BELOW,
    DEFAULT_WEIGHTS,
    Bands,
)
from feedback.kernel import app_settings
from feedback.kernel.errors import InputError

SETTING_KEY = "health_score"
COMPONENT_NAME = re.compile(r"^metric\.[a-z][a-z0-9_]{0,63}$")
MAX_WEIGHT = 1000.0


@dataclass(frozen=True)
class HealthSettings:
    weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    metric_weight: float = DEFAULT_METRIC_WEIGHT
    green_min: float = DEFAULT_GREEN_MIN
    red_below: float = DEFAULT_RED_BELOW

    @property
    def bands(self) -> Bands:
        return Bands(self.green_min, self.red_below)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(value: Any, name: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InputError(name, "must be a number")
    try:
        number = float(value)
    except ValueError:
        raise InputError(name, f"must be a number, got {value!r}") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise InputError(name, f"must be between {low:g} and {high:g}")
    return number


def validate_settings(payload: Any, current: HealthSettings | None = None) -> HealthSettings:
    """A full or partial update over `current`; InputError names the bad field."""
    if not isinstance(payload, dict):
        raise InputError("body", "expected an object")
    base = current or HealthSettings()
    unknown = set(payload) - {"weights", "metric_weight", "green_min", "red_below"}
    if unknown:
        raise InputError(sorted(unknown)[0], "unknown field")
    weights = dict(base.weights)
    if "weights" in payload:
        given = payload["weights"]
        if not isinstance(given, dict):
            raise InputError("weights", "expected an object of component: weight")
        for name, value in given.items():
            if name not in BASE_COMPONENTS and not COMPONENT_NAME.match(str(name)):
                raise InputError(
                    f"weights.{name}",
                    f"unknown component; use {', '.join(BASE_COMPONENTS)} or metric.<name>",
                )
            weights[name] = _number(value, f"weights.{name}", 0, MAX_WEIGHT)
    metric_weight = base.metric_weight
    if "metric_weight" in payload:
        metric_weight = _number(payload["metric_weight"], "metric_weight", 0, MAX_WEIGHT)
    green_min = base.green_min
    if "green_min" in payload:
        green_min = _number(payload["green_min"], "green_min", 0, 100)
    red_below = base.red_below
    if "red_below" in payload:
        red_below = _number(payload["red_below"], "red_below", 0, 100)
    if red_below > green_min:
        raise InputError("red_below", "must not be above green_min")
    if not any(w > 0 for w in weights.values()) and metric_weight <= 0:
        raise InputError("weights", "at least one weight must be positive")
    return HealthSettings(weights, metric_weight, green_min, red_below)


async def load_health_settings() -> HealthSettings:
    stored = await app_settings.read(SETTING_KEY)
    if not stored:
        return HealthSettings()
    try:
        return validate_settings(stored)
    except InputError:
        # a stored value from an older release that no longer validates: defaults, not a 500
        return HealthSettings()


async def save_health_settings(settings: HealthSettings) -> HealthSettings:
    await app_settings.write(SETTING_KEY, settings.as_dict())
    return settings


async def update_health_settings(payload: Any) -> HealthSettings:
    current = await load_health_settings()
    return await save_health_settings(validate_settings(payload, current))
