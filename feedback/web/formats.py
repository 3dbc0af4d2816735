"""One way to write each kind of number on every staff page, registered as jinja filters.

`{{ 123456.5 | money("EUR") }}` -> "EUR 123,457"; `{{ 12.3 | nps }}` -> "+12.3";
`{{ 0.123 | pct }}` -> "12.3%"; `{{ moment | isodate }}` -> "2026-12-05";
`{{ "detractor_share" | health_component }}` -> "Answers that are not detractors". Missing values
print as an en dash so a table never shows "None".
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

MISSING = "\u2013"  # an en dash
MINUS = "\u2212"  # the minus sign, as wide as the plus
CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


def _number(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def money(value: Any, currency: str | None = "USD", digits: int = 0) -> str:
    """Amount with its currency and thousands separators: "$120,000", "¥1,200,000",
    "CHF 9,500"."""
    number = _number(value)
    if number is None:
        return MISSING
    code = (currency or "USD").upper()
    text = f"{abs(number):,.{0 if code == 'JPY' else digits}f}"
    sign = MINUS if number < 0 and text.strip("0.,") else ""  # never "-$0"
    symbol = CURRENCY_SYMBOLS.get(code)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{code} {text}"


def nps(value: Any, digits: int = 1) -> str:
    """An NPS, always signed: "+12.3", "-4.0" (with a minus sign), "0"."""
    number = _number(value)
    if number is None:
        return MISSING
    text = f"{abs(number):.{digits}f}"
    if text.strip("0.") == "":
        return "0"
    return ("+" if number > 0 else MINUS) + text


def signed(value: Any, digits: int = 1) -> str:
    """A change, always signed (the same rule as `nps`)."""
    return nps(value, digits)


def pct(value: Any, digits: int = 1) -> str:
    """A fraction as a percentage: 0.123 -> "12.3%"."""
    number = _number(value)
    if number is None:
        return MISSING
    return f"{100 * number:.{digits}f}%"


def number(value: Any, digits: int = 0) -> str:
    """A count or measure with thousands separators."""
    num = _number(value)
    if num is None:
        return MISSING
    return f"{num:,.{digits}f}".replace("-", MINUS)


def pvalue(value: Any) -> str:
    num = _number(value)
    if num is None:
        return MISSING
    return "< 0.001" if num < 0.001 else f"{num:.3f}"


def isodate(value: Any) -> str:
    """A day as ISO 8601 (2026-12-05): the same for every viewer, sorts as text."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)[:10]


# the health score's components in words (analytics/health.py defines them); a pushed usage
# metric `metric.<name>` reads as "Usage: <name>"
HEALTH_COMPONENTS = {
    "nps": "NPS",
    "detractor_share": "Answers that are not detractors",
    "coverage": "Users who answered",
    "trend": "NPS trend (recent against before)",
}


def health_component(name: Any) -> str:
    """A health score component's name as a person reads it: "detractor_share" ->
    "Answers that are not detractors", "metric.weekly_logins" -> "Usage: weekly logins"."""
    text = "" if name is None else str(name)
    if text in HEALTH_COMPONENTS:
        return HEALTH_COMPONENTS[text]
    if text.startswith("metric."):
        return "Usage: " + text.removeprefix("metric.").replace("_", " ")
    return text.replace("_", " ").capitalize()


FILTERS = {
    "money": money,
    "nps": nps,
    "signed": signed,
    "pct": pct,
    "number": number,
    "pvalue": pvalue,
    "isodate": isodate,
    "health_component": health_component,
}


def register(engine: Any) -> None:
    """TemplateConfig's engine_callback: adds the filters to the jinja environment."""
    engine.engine.filters.update(FILTERS)


__all__ = ["FILTERS", "MISSING", "register"]
