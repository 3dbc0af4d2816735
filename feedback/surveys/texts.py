"""Survey texts per locale, with built-in English and Japanese, falling back key by key."""

from __future__ import annotations

from typing import Any

CATEGORIES = ("promoter", "passive", "detractor")

DEFAULT_TEXTS: dict[str, dict[str, Any]] = {
    "en": {
        "question": "How likely are you to recommend {product} to a friend or colleague?",
        "low_label": "Not at all likely",
        "high_label": "Extremely likely",
        "follow_up": {
            "promoter": "Great to hear! What do you like most?",
            "passive": "Thanks! What would make it a 10?",
            "detractor": "Sorry to hear that. What disappointed you?",
        },
        "thanks": {
            "promoter": "Thank you! Would you share that in a review?",
            "passive": "Thank you for your feedback.",
            "detractor": "Thank you. We read every answer.",
        },
        "promoter_link_label": "Write a review",
        "talk_to_label": "Talk to {name}",
        "comment_placeholder": "Your answer (optional)",
        "submit": "Send",
        "dismiss": "Close",
        "score_label": "{score} out of 10",
    },
    "ja": {
        "question": "{product}を友人や同僚に薦める可能性はどのくらいありますか？",
        "low_label": "まったく薦めない",
        "high_label": "ぜひ薦めたい",
        "follow_up": {
            "promoter": "ありがとうございます！特に気に入っている点は何ですか？",
            "passive": "ありがとうございます。10点にするには何が必要ですか？",
            "detractor": "ご期待に添えず申し訳ありません。どの点にご不満でしたか？",
        },
        "thanks": {
            "promoter": "ありがとうございます！レビューでご感想を共有していただけますか？",
            "passive": "ご意見ありがとうございました。",
            "detractor": "ありがとうございました。いただいた回答はすべて拝見しています。",
        },
        "promoter_link_label": "レビューを書く",
        "talk_to_label": "{name}に相談する",
        "comment_placeholder": "ご回答（任意）",
        "submit": "送信",
        "dismiss": "閉じる",
        "score_label": "10点中{score}点",
    },
}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = _merge(base[key], value)
        elif isinstance(value, str) and value.strip():
            merged[key] = value
    return merged


def choose_locale(requested: str | None, available: list[str]) -> str:
    """'ja-JP' -> 'ja-JP' if configured, else 'ja', else 'en'."""
    if requested:
        wanted = requested.replace("_", "-")
        for candidate in (wanted, wanted.split("-")[0]):
            for locale in available:
                if locale.lower() == candidate.lower():
                    return locale
    return "en"


def best_locale(survey_texts: dict[str, Any], requested: str | None) -> str:
    """The locale a survey's texts are shown in for a user asking for `requested`."""
    return choose_locale(requested, sorted(set(DEFAULT_TEXTS) | set(survey_texts)))


def localised_texts(
    survey_texts: dict[str, Any], product: str, requested: str | None
) -> tuple[str, dict[str, Any]]:
    """The texts for the best locale, every key filled, with {product} replaced."""
    locale = best_locale(survey_texts, requested)
    language = locale.split("-")[0]
    texts = _merge(DEFAULT_TEXTS["en"], DEFAULT_TEXTS.get(language, {}))
    texts = _merge(texts, survey_texts.get("en", {}) if language != "en" else {})
    texts = _merge(texts, survey_texts.get(language, {}))
    texts = _merge(texts, survey_texts.get(locale, {}))
    texts["question"] = texts["question"].replace("{product}", product)
    return locale, texts
