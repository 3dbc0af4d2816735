"""The CTA rules' settings (each rule on or off, its parameters, the default owner), a
document of the settings store (`feedback.kernel.app_settings`), and the CTA types; both
cached for a few seconds in every process."""

from __future__ import annotations

from typing import Any

from feedback.accounts.models import CSM
from feedback.auth.services import audit
from feedback.ctas.models import CtaType
from feedback.db import write_transaction
from feedback.kernel import app_settings
from feedback.kernel.cache import CONFIG_TTL_SECONDS, TTLCache
from feedback.kernel.errors import Conflict, InputError

BUILTIN_TYPES: dict[str, str] = {
    "risk": "Risk",
    "renewal": "Renewal",
    "onboarding": "Onboarding",
    "business_review": "Business review",
    "advocacy": "Advocacy",
    "health_alert": "Health alert",
    "going_dark": "Going dark",
}
RULES_KEY = "cta_rules"
DEFAULT_RULES: dict[str, dict[str, Any]] = {
    # a detractor answer: risk CTA; priority from score and ARR
    "detractor_risk": {"enabled": True, "due_days": 3, "high_arr_cents": 10_000_000},
    # a promoter who wrote a comment: ask for a review or a reference
    "promoter_advocacy": {"enabled": True, "due_days": 14},
    # renewal within N days while the account's NPS over the last year is negative or its
    # latest health is in the red band
    "renewal_risk": {"enabled": True, "days_before_renewal": 90, "due_days": 7},
    # no answer and no end-user activity for N days and for `usual_gap_multiple` times the
    # account's usual gap between answers over the last year (an account heard from every
    # quarter is not dark after 60 days); never for an account never heard from at all
    "going_dark": {"enabled": True, "days": 60, "usual_gap_multiple": 2, "due_days": 7},
    # health falls into the red band or drops by N points in 7 days (health scores)
    "health_alert": {"enabled": True, "drop_points": 15, "due_days": 5},
    # each CSM's digest (open CTAs by priority, new detractors), once a day from this hour
    "daily_digest": {"enabled": True, "hour_utc": 8},
    # the rules' CTAs are due in working days (Monday to Friday) by their priority; off: each
    # rule's own `due_days` (calendar days)
    "due_by_priority": {
        "enabled": True,
        "urgent_working_days": 1,
        "high_working_days": 3,
        "medium_working_days": 7,
        "low_working_days": 14,
    },
}
RULE_PARAMS: dict[str, tuple[str, ...]] = {
    name: tuple(k for k in params if k != "enabled") for name, params in DEFAULT_RULES.items()
}

_types_cache: TTLCache[dict[str, str]] = TTLCache(ttl=CONFIG_TTL_SECONDS)


def forget_cta_rules() -> None:
    """Drop this process's cached CTA types (other processes see a new one within 10 s). The
    rules are read through the settings store, which forgets a change at once."""
    _types_cache.clear()


async def cta_rules() -> dict[str, Any]:
    """The rules with the admins' changes over the defaults, plus `default_owner`."""
    stored = await app_settings.read(RULES_KEY)
    rules: dict[str, Any] = {
        name: {**params, **(stored.get(name) or {})} for name, params in DEFAULT_RULES.items()
    }
    rules["default_owner"] = stored.get("default_owner")
    return rules


async def update_cta_rules(changes: dict[str, Any], actor: str, source: str) -> dict[str, Any]:
    """Validate and store a partial change: `{"detractor_risk": {"enabled": false}}`."""
    current = await cta_rules()
    merged = {k: dict(v) if isinstance(v, dict) else v for k, v in current.items()}
    for name, change in changes.items():
        if name == "default_owner":
            if change is not None:
                if not isinstance(change, int) or isinstance(change, bool):
                    raise InputError("default_owner", "a CSM id or null")
                if not await CSM.exists().where(CSM.id == change):
                    raise InputError("default_owner", f"no CSM with id {change}")
            merged["default_owner"] = change
            continue
        if name not in DEFAULT_RULES:
            raise InputError(name, f"unknown rule; rules: {', '.join(DEFAULT_RULES)}")
        if not isinstance(change, dict):
            raise InputError(name, "an object of the rule's settings")
        for param, value in change.items():
            field = f"{name}.{param}"
            if param == "enabled":
                if not isinstance(value, bool):
                    raise InputError(field, "true or false")
            elif param in RULE_PARAMS[name]:
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise InputError(field, "a whole number, 0 or more")
            else:
                raise InputError(
                    field, f"unknown setting; {name} has enabled, {', '.join(RULE_PARAMS[name])}"
                )
            merged[name][param] = value
    async with write_transaction():
        await app_settings.write(RULES_KEY, merged)
        await audit(actor, source, "cta_rules.update", RULES_KEY, changes)
    forget_cta_rules()
    return merged


async def cta_types() -> dict[str, str]:
    async def load() -> dict[str, str]:
        custom = await CtaType.select(CtaType.key, CtaType.label).order_by(CtaType.key)
        return {**BUILTIN_TYPES, **{row["key"]: row["label"] for row in custom}}

    return await _types_cache.get("types", load)


async def add_cta_type(key: str, label: str) -> dict[str, str]:
    key = key.strip().lower()
    if not key or len(key) > 40 or not key.replace("_", "").isalnum() or not key.isascii():
        raise InputError("key", "1-40 lowercase letters, digits or underscores")
    label = label.strip()
    if not label or len(label) > 100:
        raise InputError("label", "1-100 characters")
    if key in BUILTIN_TYPES:
        raise InputError("key", "is a built-in type")
    inserted = (
        await CtaType.insert(CtaType(key=key, label=label))
        .on_conflict(action="DO NOTHING")
        .returning(CtaType.id)
    )
    if not inserted:
        raise Conflict.for_field("key", "exists already")
    forget_cta_rules()
    return {"key": key, "label": label}
