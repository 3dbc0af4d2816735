"""Which users and pages a schedule targets. Pure: attributes in, yes or no out.

Targeting is a JSON object:

    {"include": {"role": ["admin"], "plan": ["paid", "premium"], "locale": ["en", "ja"],
                 "traits": {"region": ["EMEA"]}},
     "exclude": {"role": ["candidate"]},
     "url_include": ["/app/*"], "url_exclude": ["/app/billing*"]}

Every include list must contain the user's value (a locale matches by language too: "ja"
includes "ja-JP"); no exclude list may. URL patterns are shell-style globs on the path.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import urlsplit

DIMENSIONS = ("role", "plan", "locale")


def _value_matches(dimension: str, value: str | None, allowed: list[Any]) -> bool:
    if value is None:
        return False
    wanted = {str(a).lower() for a in allowed}
    value = value.lower()
    if dimension == "locale":
        return value in wanted or value.split("-")[0] in wanted
    return value in wanted


def _matches_all(rules: dict[str, Any], attributes: Mapping[str, Any]) -> bool:
    for dimension in DIMENSIONS:
        if dimension in rules and not _value_matches(
            dimension, attributes.get(dimension), rules[dimension]
        ):
            return False
    traits = attributes.get("traits") or {}
    for name, allowed in (rules.get("traits") or {}).items():
        value = traits.get(name)
        if not _value_matches(name, None if value is None else str(value), allowed):
            return False
    return True


def _matches_any(rules: dict[str, Any], attributes: Mapping[str, Any]) -> bool:
    for dimension in DIMENSIONS:
        if dimension in rules and _value_matches(
            dimension, attributes.get(dimension), rules[dimension]
        ):
            return True
    traits = attributes.get("traits") or {}
    for name, excluded in (rules.get("traits") or {}).items():
        value = traits.get(name)
        if value is not None and _value_matches(name, str(value), excluded):
            return True
    return False


def url_path(url: str | None) -> str:
    if not url:
        return "/"
    return urlsplit(url).path or "/"


def targets(targeting: dict[str, Any], attributes: Mapping[str, Any], url: str | None) -> bool:
    include = targeting.get("include") or {}
    exclude = targeting.get("exclude") or {}
    if include and not _matches_all(include, attributes):
        return False
    if exclude and _matches_any(exclude, attributes):
        return False
    path = url_path(url)
    url_include = targeting.get("url_include") or []
    if url_include and not any(fnmatchcase(path, p) for p in url_include):
        return False
    return not any(fnmatchcase(path, p) for p in targeting.get("url_exclude") or [])


def _shown(value: Any) -> str:
    return "none" if value in (None, "") else repr(str(value))


def refusal(
    targeting: dict[str, Any], attributes: Mapping[str, Any], url: str | None
) -> str | None:
    """Why the targeting does not take this user on this page, in words naming the rule that
    failed (the first, in the order `targets` checks them); None when it takes them. Slower
    than `targets`, which the widget runs: for explaining a decision to an admin."""
    include = targeting.get("include") or {}
    exclude = targeting.get("exclude") or {}
    traits = attributes.get("traits") or {}
    for dimension in DIMENSIONS:
        if dimension in include:
            value = attributes.get(dimension)
            if not _value_matches(dimension, value, include[dimension]):
                return f"include.{dimension} is {include[dimension]}, the user's is {_shown(value)}"
    for name, allowed in (include.get("traits") or {}).items():
        value = traits.get(name)
        if not _value_matches(name, None if value is None else str(value), allowed):
            return f"include.traits.{name} is {allowed}, the user's is {_shown(value)}"
    for dimension in DIMENSIONS:
        value = attributes.get(dimension)
        if dimension in exclude and _value_matches(dimension, value, exclude[dimension]):
            return f"exclude.{dimension} is {exclude[dimension]}, the user's is {_shown(value)}"
    for name, excluded in (exclude.get("traits") or {}).items():
        value = traits.get(name)
        if value is not None and _value_matches(name, str(value), excluded):
            return f"exclude.traits.{name} is {excluded}, the user's is {_shown(value)}"
    path = url_path(url)
    url_include = targeting.get("url_include") or []
    if url_include and not any(fnmatchcase(path, p) for p in url_include):
        return f"url_include is {url_include}, the page is {path}"
    for pattern in targeting.get("url_exclude") or []:
        if fnmatchcase(path, pattern):
            return f"url_exclude has {pattern!r}, the page is {path}"
    return None


TARGETING_KEYS = {"include", "exclude", "url_include", "url_exclude"}


def validate_targeting(targeting: Any) -> list[str]:
    """Problems with a targeting object, as messages (empty when it is valid)."""
    if not isinstance(targeting, dict):
        return ["must be an object"]
    problems = [f"unknown key {k!r}" for k in targeting if k not in TARGETING_KEYS]
    for side in ("include", "exclude"):
        rules = targeting.get(side) or {}
        if not isinstance(rules, dict):
            problems.append(f"{side} must be an object")
            continue
        for key, value in rules.items():
            if key == "traits":
                if not isinstance(value, dict) or not all(
                    isinstance(v, list) for v in value.values()
                ):
                    problems.append(f"{side}.traits must map trait names to lists")
            elif key not in DIMENSIONS:
                problems.append(f"{side}.{key}: use role, plan, locale or traits")
            elif not isinstance(value, list):
                problems.append(f"{side}.{key} must be a list")
    for side in ("url_include", "url_exclude"):
        patterns = targeting.get(side) or []
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            problems.append(f"{side} must be a list of path patterns")
    return problems
