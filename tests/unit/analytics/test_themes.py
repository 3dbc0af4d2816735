"""Comment themes: tokens in English and Japanese, learning on the labelled sets, guidance by
the shipped topic lexicon, placing new comments, stable ids across rebuilds and hand-made
keyword themes.

The quality floors sit a little under the figures `bench/themes.py` prints (learning is
deterministic for a seed, so the figures do not move between runs).
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import random
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.metrics import normalized_mutual_info_score

from analytics.theme_lexicon import LEXICON
from analytics.themes import (
    DUPLICATE_SIMILARITY,
    SIGNATURE_TERMS,
    LearnedTheme,
    ThemeModel,
    detect_language,
    keyphrases_of,
    keyword_theme_hits,
    learn_themes,
    match_themes,
    shipped_lexicon,
    tokens,
)
from analytics.themes import _terms as terms_of

DATA = Path(__file__).resolve().parents[2] / "data" / "themes"
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


@cache
def labelled(language: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    with (DATA / f"{language}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return tuple(r["text"] for r in rows), tuple(r["theme"] for r in rows)


@cache
def learned(
    language: str, seed: int = 0, guided: bool = True
) -> tuple[ThemeModel, list[list[tuple[int, float]]]]:
    texts, _ = labelled(language)
    return learn_themes(list(texts), language, seed=seed, guided=guided)  # type: ignore[arg-type]


def dominant(memberships: list[list[tuple[int, float]]]) -> list[int]:
    return [m[0][0] if m else -1 for m in memberships]


def recombined(language: str, n: int, seed: int) -> list[str]:
    """New comments made of fragments of the labelled ones (as the benchmark makes them)."""
    rng = random.Random(seed)
    texts, _ = labelled(language)
    fragments = [f.strip() for t in texts for f in re.split("[,.!?\u3001\u3002]", t) if f.strip()]
    joiner = ", " if language == "en" else "\u3001"
    return [joiner.join(rng.sample(fragments, rng.randint(1, 3))) for _ in range(n)]


# -- language and tokens ----------------------------------------------------------------------


def test_language_is_japanese_when_a_fair_share_of_letters_are_kana_or_kanji() -> None:
    assert detect_language("The invoice total is wrong") == "en"
    assert detect_language("請求書の金額が違います") == "ja"
    assert detect_language("Slackとの連携が切れる") == "ja"
    assert detect_language("We love the 請求 page, it saves us hours every month") == "en"
    assert detect_language("12345 !!!") == "en"


def test_english_tokens_drop_stop_words_and_fold_plurals() -> None:
    assert tokens("The invoices were WRONG, and the charges doubled!", "en") == [
        "invoice",
        "wrong",
        "charge",
        "doubled",
    ]
    assert tokens("Crashes with batches of classes", "en") == ["crash", "batch", "class"]


def test_english_stop_words_go_before_plurals_are_folded() -> None:
    # "does" is a stop word, not the plural of "doe"
    assert tokens("Does the job. Pricing is a bit high.", "en") == ["job", "pricing", "high"]
    assert tokens("Goes down every Monday", "en") == ["monday"]


@pytest.mark.parametrize(
    "word",
    ["analysis", "status", "business", "access", "saas", "news", "series", "canvas", "ios"],
)
def test_english_words_that_only_look_plural_are_not_folded(word: str) -> None:
    assert tokens(f"the {word} page", "en") == [word, "page"]
    assert keyword_theme_hits([f"the {word[:-1]} page"], [word], "en") == [False]


@pytest.mark.parametrize("word", ["does", "goes", "has", "was", "this"])
def test_english_verbs_and_pronouns_ending_in_s_are_not_folded(word: str) -> None:
    # keyword matching keeps stop words, so folding shows there: "does" must not find "doe"
    assert keyword_theme_hits([f"a {word[:-1]} here", f"it {word} here"], [word], "en") == [
        False,
        True,
    ]


@pytest.mark.parametrize(
    ("text", "bigrams"),
    [
        ("Support answered within minutes, great!", ["support answered"]),
        ("Love the new pipeline view.", ["new pipeline", "pipeline view"]),
        ("Fine overall; exports are clunky.", ["fine overall"]),
        ("Onboarding our team took forever", ["team took", "took forever"]),
        ("Time-tracking app: 3 crashes today", ["time tracking", "tracking app", "crash today"]),
        ("Saves our team 10 hours", []),
    ],
)
def test_english_bigrams_are_only_of_words_that_touch_in_the_text(
    text: str, bigrams: list[str]
) -> None:
    # no stop word, number or punctuation between the two words; a hyphen joins them
    assert [t for t in terms_of(text, "en") if " " in t] == bigrams


def test_japanese_comments_are_tokenised_into_words_not_characters() -> None:
    words = tokens("請求書の金額が毎月違っていて困っています", "ja")
    assert words == ["請求書", "金額", "違う", "困る"]
    for text in labelled("ja")[0][:40]:
        words = tokens(text, "ja")
        characters = [c for c in text if CJK.match(c)]
        assert len(words) < len(characters)
        assert any(len(w) > 1 for w in words) or not words


def test_japanese_tokens_normalise_width_and_case() -> None:
    assert tokens("ＣＳＶの出力が遅い", "ja") == ["csv", "出力", "遅い"]


def test_tokens_reject_an_unknown_language() -> None:
    with pytest.raises(ValueError, match="language"):
        tokens("hello", "fr")  # type: ignore[arg-type]


# -- learning on the labelled sets ------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "guided", "floor"),
    [("en", True, 0.60), ("ja", True, 0.66), ("en", False, 0.23), ("ja", False, 0.25)],
)
def test_learned_themes_agree_with_the_hand_labels_beyond_chance(
    language: str, guided: bool, floor: float
) -> None:
    # measured (bench/themes.py, seed 0): guided by the lexicon en 0.625, ja 0.681; unguided
    # en 0.238, ja 0.275 (en unguided was 0.273 while English bigrams could span dropped
    # words and punctuation, which linked comments by chance pairs such as "love new").
    # NMI on a few hundred comments is biased upwards by chance, so the
    # themes must also beat every one of 20 shuffles of the labels (a permutation test at
    # p < 0.05).
    _, labels = labelled(language)
    _, memberships = learned(language, guided=guided)
    themes = dominant(memberships)
    score = normalized_mutual_info_score(labels, themes)
    assert score >= floor
    rng = random.Random(0)
    for _ in range(20):
        shuffled = list(labels)
        rng.shuffle(shuffled)
        assert normalized_mutual_info_score(shuffled, themes) < score


@pytest.mark.parametrize("language", ["en", "ja"])
def test_learning_gives_themes_with_bounded_normalised_signatures(language: str) -> None:
    model, _ = learned(language)
    assert 5 <= len(model.themes) <= 15
    for theme in model.themes:
        assert 2 <= len(theme.terms) <= SIGNATURE_TERMS
        assert sum(w * w for w in theme.terms.values()) == pytest.approx(1.0, abs=1e-4)
        assert 3 <= len(theme.keyphrases) <= 5
        assert theme.label == " · ".join(theme.keyphrases[:2])


def test_japanese_keyphrases_are_japanese_words_from_the_comments() -> None:
    texts, _ = labelled("ja")
    words: set[str] = set()
    compounds: set[str] = set()
    for text in texts:
        found = tokens(text, "ja")
        words.update(found)
        compounds.update(a + b for a, b in itertools.pairwise(found))
    model, _ = learned("ja")
    phrases = [p for theme in model.themes for p in theme.keyphrases]
    assert phrases
    for phrase in phrases:
        assert phrase in words or phrase in compounds
        assert " " not in phrase
    assert sum(bool(CJK.search(p)) for p in phrases) >= 0.9 * len(phrases)


def test_keyphrases_keep_a_bigram_and_drop_the_words_inside_it() -> None:
    terms = {"invoice": 0.6, "invoice total": 0.5, "total": 0.4, "refund": 0.3, "late": 0.2}
    assert keyphrases_of(terms, "en") == ["invoice total", "refund", "late"]
    assert keyphrases_of({"画面 表示": 0.7, "画面": 0.5, "遅い": 0.3}, "ja") == ["画面表示", "遅い"]


def test_keyphrases_are_phrases_that_read_as_such() -> None:
    # a bigram ending on an adverb, a bare verdict or a past tense is no keyphrase; its
    # words may still be
    terms = {
        "fine overall": 0.9,
        "support answered": 0.85,
        "team took": 0.8,
        "took forever": 0.8,
        "export": 0.5,
        "clunky": 0.4,
        "speed issue": 0.3,
    }
    assert keyphrases_of(terms, "en") == ["export", "clunky", "speed issue"]


def test_keyphrases_rank_weak_words_last_and_do_not_repeat_a_word() -> None:
    assert keyphrases_of({"exactly": 0.6, "report": 0.5}, "en") == ["report", "exactly"]
    # overlapping bigrams of one phrase: the first stands for it, no lone word of the other
    terms = dict.fromkeys(["pipeline view", "new pipeline", "new", "pipeline", "view"], 0.5)
    assert keyphrases_of(terms | {"calendar": 0.4}, "en") == ["pipeline view", "calendar"]
    # words weighing the same (one comment repeated): bigrams first, then the longer word
    terms = dict.fromkeys(["job", "pricing", "high"], 0.5)
    assert keyphrases_of(terms, "en") == ["pricing", "high", "job"]


def test_memberships_from_learning_equal_assigning_the_same_texts() -> None:
    texts, _ = labelled("en")
    model, memberships = learned("en")
    assert model.assign(list(texts)) == memberships


def test_a_comment_may_belong_to_several_themes_or_none() -> None:
    _, memberships = learned("en")
    sizes = [len(m) for m in memberships]
    assert 0 in sizes and max(sizes) >= 2


def test_learning_is_deterministic_for_a_seed() -> None:
    texts, _ = labelled("ja")
    first, memberships = learn_themes(list(texts), "ja", seed=3)
    second, again = learn_themes(list(texts), "ja", seed=3)
    assert first.to_dict() == second.to_dict() and memberships == again


def test_too_few_comments_give_no_themes() -> None:
    texts = list(labelled("en")[0][:15])
    model, memberships = learn_themes(texts, "en")
    assert model.themes == [] and memberships == [[] for _ in texts]
    assert model.assign(["anything at all"]) == [[]]


def test_max_themes_bounds_the_number_of_themes() -> None:
    texts, _ = labelled("en")
    model, memberships = learn_themes(list(texts), "en", max_themes=4)
    assert 2 <= len(model.themes) <= 4
    assert all(j < len(model.themes) for m in memberships for j, _ in m)


def test_learning_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="language"):
        learn_themes(["a"] * 30, "de")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_themes"):
        learn_themes(["a"] * 30, "en", max_themes=0)


# -- no empty and no duplicate themes ---------------------------------------------------------

# A dozen comments repeated many times each, as a small product's demo data or a survey
# with canned answers gives them.
TEMPLATES = {
    "Does the job, but the pricing is a bit high.": 80,
    "Support replied within minutes, great!": 83,
    "Love the new calendar view.": 89,
    "Missing SAML is a blocker for us.": 81,
    "Search is slow on large workspaces.": 73,
    "Too many crashes since the last update.": 71,
    "Fine overall; reports are clunky.": 71,
    "Saves our team hours every month.": 70,
    "We lost data in an import again.": 69,
    "Onboarding our staff took forever.": 68,
    "The dashboards are exactly what we needed.": 93,
    "Goes down every Monday morning.": 52,
}


@cache
def repeated() -> tuple[list[str], ThemeModel, list[list[tuple[int, float]]]]:
    texts = [t for t, n in TEMPLATES.items() for _ in range(n)]
    random.Random(0).shuffle(texts)
    model, memberships = learn_themes(texts, "en")
    return texts, model, memberships


def word_cosines(model: ThemeModel) -> np.ndarray:
    """Cosine similarity of the themes' signatures over their words (topics left out)."""
    columns = sorted({t for theme in model.themes for t in theme.terms if ":" not in t})
    m = np.array([[theme.terms.get(c, 0.0) for c in columns] for theme in model.themes])
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m @ m.T


def test_comments_repeated_many_times_give_one_theme_per_distinct_comment() -> None:
    texts, model, memberships = repeated()
    assert len(model.themes) == len(TEMPLATES)
    dominant_of: dict[str, set[int]] = {}
    for text, members in zip(texts, memberships, strict=True):
        dominant_of.setdefault(text, set()).add(members[0][0] if members else -1)
    assert all(len(themes) == 1 for themes in dominant_of.values())
    assert sorted(next(iter(t)) for t in dominant_of.values()) == list(range(len(TEMPLATES)))
    assert model.assign(texts) == memberships


def test_repeated_comments_give_labels_that_read_as_phrases() -> None:
    _, model, _ = repeated()
    labels = [theme.label for theme in model.themes]
    assert len(set(labels)) == len(labels)
    phrases = {p for theme in model.themes for p in theme.keyphrases}
    # across a dropped word or punctuation, ending on a verb or adverb, or a folded "does"
    wrong = {"love new", "minute great", "replied minute", "support replied", "fine overall"}
    wrong |= {"staff took", "took forever", "onboarding staff", "doe", "goe", "pricing high"}
    assert not phrases & wrong
    assert {"calendar view", "lost data", "missing saml"} <= phrases


@pytest.mark.parametrize("corpus", ["en", "ja", "repeated", "variants", "en-recombined"])
def test_every_learned_theme_has_comments_and_no_two_are_near_duplicates(corpus: str) -> None:
    if corpus == "repeated":
        _, model, memberships = repeated()
    elif corpus == "variants":
        # two complaints, each signed by 30 different people: only two different comments
        names = [f"customer{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(60)]
        texts = [f"The invoice total is wrong again, {n}" for n in names[:30]]
        texts += [f"SSO login keeps failing for {n}" for n in names[30:]]
        model, memberships = learn_themes(texts, "en")
        assert len(model.themes) == 2
    elif corpus == "en-recombined":
        model, memberships = learn_themes(recombined("en", 600, seed=2), "en")
    else:
        model, memberships = learned(corpus)
    sizes = [sum(any(j == k for j, _ in m) for m in memberships) for k in range(len(model.themes))]
    assert model.themes and min(sizes) > 0
    similarity = word_cosines(model)
    np.fill_diagonal(similarity, 0.0)
    assert similarity.max() < DUPLICATE_SIMILARITY


def test_the_number_of_themes_is_at_most_the_number_of_different_comments() -> None:
    texts = ["Invoices are wrong every month"] * 40 + ["The mobile app crashes on login"] * 40
    texts += ["Exports to CSV time out"] * 40
    model, memberships = learn_themes(texts, "en")
    assert 2 <= len(model.themes) <= 3
    assert all(memberships) and model.assign(texts) == memberships


# -- placing comments: arithmetic and the stored form -----------------------------------------

VOCABULARY = sorted({w for t in labelled("en")[0] for w in tokens(t, "en")})
comments = st.lists(
    st.lists(st.sampled_from(VOCABULARY), min_size=0, max_size=8).map(" ".join)
    | st.text(max_size=40),
    min_size=1,
    max_size=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(comments)
def test_assigned_strengths_are_in_0_1_at_or_above_the_threshold_and_sorted(
    texts: list[str],
) -> None:
    model, _ = learned("en")
    for members in model.assign(texts):
        strengths = [s for _, s in members]
        assert all(model.threshold <= s <= 1.0 for s in strengths)
        assert strengths == sorted(strengths, reverse=True)
        assert len({j for j, _ in members}) == len(members)
        assert all(0 <= j < len(model.themes) for j, _ in members)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(comments)
def test_a_model_stored_as_json_and_loaded_assigns_identically(texts: list[str]) -> None:
    model, _ = learned("en")
    loaded = ThemeModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert loaded == model
    assert loaded.assign(texts) == model.assign(texts)


def test_assigning_is_independent_of_the_other_texts_in_the_batch() -> None:
    model, memberships = learned("ja")
    texts, _ = labelled("ja")
    assert [model.assign([t])[0] for t in texts[:25]] == memberships[:25]


def test_a_strength_is_the_share_of_the_comment_its_theme_explains() -> None:
    # Two orthogonal one-term themes: a comment made of exactly one theme's term is wholly
    # explained by it; "crash invoice" has three equal terms (its bigram too, outside the
    # vocabulary, at the highest idf), so each theme explains 1/sqrt(3) of it.
    model = ThemeModel(
        language="en",
        idf={"invoice": 2.0, "crash": 2.0, "zebra": 2.0},
        themes=[
            LearnedTheme(terms={"invoice": 1.0}, keyphrases=["invoice"], label="invoice"),
            LearnedTheme(terms={"crash": 1.0}, keyphrases=["crash"], label="crash"),
        ],
        threshold=0.5,
    )
    assert model.assign(["invoice", "crash invoice", "zebra", ""]) == [
        [(0, 1.0)],
        [(0, 0.5774), (1, 0.5774)],
        [],
        [],
    ]
    assert model.strengths(["Invoices!"]).tolist() == [[1.0, 0.0]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"language": "fr"}, "language"),
        ({"threshold": 0}, "threshold"),
        ({"threshold": "high"}, "threshold"),
        ({"idf": {"a": -1}}, "idf"),
        ({"themes": {}}, "themes"),
        ({"themes": [{"terms": {"a": "x"}, "keyphrases": [], "label": ""}]}, "themes\\[0\\].terms"),
        ({"themes": [{"terms": {}, "keyphrases": [1], "label": ""}]}, "keyphrases"),
        ({"themes": [{"terms": {}, "keyphrases": []}]}, "label"),
        ({"lexicon": {"pricing": "料金"}}, "lexicon"),
        ({"lexicon": ["pricing"]}, "lexicon"),
    ],
)
def test_loading_a_bad_model_names_the_wrong_part(change: dict[str, object], field: str) -> None:
    data = learned("ja")[0].to_dict() | change
    with pytest.raises(ValueError, match=field):
        ThemeModel.from_dict(data)


# -- guidance by the topic lexicon ------------------------------------------------------------

# Four topics of 30 comments each; the last is one the lexicon does not know (the canteen).
SYNTHETIC_TOPICS = {
    "en": {
        "billing": ["invoice", "charged", "billing", "refund", "subscription", "receipt"],
        "mobile": ["iphone", "android", "tablet", "mobile", "ipad", "smartphone"],
        "support": ["support", "ticket", "agent", "helpdesk", "escalation", "reply"],
        "canteen": ["sandwich", "cafeteria", "lunch", "coffee", "salad", "soup"],
    },
    "ja": {
        "billing": ["請求書", "料金", "課金", "支払い", "返金", "領収書"],
        "mobile": ["スマホ", "アプリ", "iPhone", "タブレット", "Android", "スマートフォン"],
        "support": ["サポート", "問い合わせ", "担当者", "返信", "窓口", "チャット"],
        "canteen": ["社食", "弁当", "ランチ", "食堂", "味噌汁", "カレー"],
    },
}
FILLERS = {
    "en": ["monday", "yesterday", "morning", "honestly", "quarter", "tuesday"],
    "ja": ["今月", "昨日", "毎朝", "先週", "月曜", "最近"],
}


def synthetic(language: str) -> tuple[list[str], list[str]]:
    """Each topic's comments: two of its words and a filler word, every pair twice."""
    texts, labels = [], []
    for topic, words in SYNTHETIC_TOPICS[language].items():
        for i, (a, b) in enumerate(list(itertools.combinations(words, 2)) * 2):
            filler = FILLERS[language][i % len(FILLERS[language])]
            texts.append(
                f"{a} {b} {filler}" if language == "en" else f"{filler}は{a}と{b}が気になる"
            )
            labels.append(topic)
    return texts, labels


@cache
def synthetic_model(language: str, guided: bool = True) -> ThemeModel:
    texts, _ = synthetic(language)
    return learn_themes(texts, language, max_themes=4, guided=guided)[0]  # type: ignore[arg-type]


def theme_of(model: ThemeModel, language: str, topic: str) -> int:
    """The theme most of a synthetic topic's comments belong to (dominant theme)."""
    texts, labels = synthetic(language)
    tops = [
        m[0][0]
        for m, label in zip(model.assign(texts), labels, strict=True)
        if m and label == topic
    ]
    return max(set(tops), key=tops.count)


@pytest.mark.parametrize(
    ("language", "comment", "topic"),
    [
        ("en", "way too pricey", "billing"),
        ("en", "our phone keeps crashing", "mobile"),
        ("ja", "値段が高すぎる", "billing"),
        ("ja", "問い合わせても返事が遅い", "support"),
    ],
)
def test_a_comment_using_only_a_lexicon_synonym_joins_the_theme_of_its_topic(
    language: str, comment: str, topic: str
) -> None:
    # None of the comment's words occurs in the learning comments: only the lexicon links them.
    learned_words = {w for t in synthetic(language)[0] for w in tokens(t, language)}  # type: ignore[arg-type]
    assert not set(tokens(comment, language)) & learned_words  # type: ignore[arg-type]
    model = synthetic_model(language)
    members = model.assign([comment])[0]
    assert members and members[0][0] == theme_of(model, language, topic)
    assert synthetic_model(language, guided=False).assign([comment]) == [[]]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_each_synthetic_topic_is_one_theme_including_the_one_the_lexicon_does_not_know(
    language: str,
) -> None:
    model = synthetic_model(language)
    texts, labels = synthetic(language)
    assert len(model.themes) == 4
    assert normalized_mutual_info_score(labels, dominant(model.assign(texts))) == 1.0
    canteen = model.themes[theme_of(model, language, "canteen")]
    assert set(canteen.keyphrases) <= {w.lower() for w in SYNTHETIC_TOPICS[language]["canteen"]}
    assert not any(term.startswith("topic:") for term in canteen.terms)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_topics_absent_from_the_comments_guide_nothing_and_give_no_theme(language: str) -> None:
    model = synthetic_model(language)
    assert sorted(model.topics) == ["mobile", "pricing", "support"]
    used = {t for theme in model.themes for t in theme.terms if t.startswith("topic:")}
    assert used == {"topic:mobile", "topic:pricing", "topic:support"}


@pytest.mark.parametrize("language", ["en", "ja"])
def test_keyphrases_are_the_comments_words_never_topic_names(language: str) -> None:
    model, _ = learned(language)
    assert model.topics
    for theme in model.themes:
        assert not any(":" in k for k in theme.keyphrases)
        assert sum(1 for t in theme.terms if not t.startswith("topic:")) >= 2


def test_an_unguided_model_has_no_topics_and_stores_no_lexicon() -> None:
    model, _ = learned("en", guided=False)
    assert model.topics == {} and "lexicon" not in model.to_dict()
    assert not any(t.startswith("topic:") for t in model.idf)


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_guided_model_stores_its_topics_phrases_and_assigns_the_same_when_rebuilt(
    language: str,
) -> None:
    model, memberships = learned(language)
    texts, _ = labelled(language)
    data = json.loads(json.dumps(model.to_dict(), ensure_ascii=False))
    assert set(data["lexicon"]) == set(model.topics)
    assert data["lexicon"]["pricing"] == list(shipped_lexicon(language)["pricing"])
    assert ThemeModel.from_dict(data).assign(list(texts)) == memberships
    # the themes domain rebuilds models from the four contract fields: guidance survives
    rebuilt = ThemeModel(model.language, model.idf, model.themes, model.threshold)
    assert rebuilt.assign(list(texts)) == memberships
    # the stored phrases, not the shipped ones, guide a loaded model
    data["lexicon"]["pricing"] = ["zzz"]
    changed = ThemeModel.from_dict(data)
    assert changed.assign(["値段が高すぎる" if language == "ja" else "way too pricey"]) != (
        model.assign(["値段が高すぎる" if language == "ja" else "way too pricey"])
    )


@pytest.mark.parametrize(
    ("comment", "topics"),
    [
        ("使いにくかったです", {"usability"}),
        ("アプリがよく落ちます", {"mobile", "reliability"}),
        ("請求書のメールが届かない", {"pricing", "notifications"}),
        ("時間がかかりすぎる", {"performance"}),
        ("問い合わせたら丁寧に対応してもらえた", {"support"}),
    ],
)
def test_japanese_lexicon_phrases_match_inflected_words_from_janome(
    comment: str, topics: set[str]
) -> None:
    from analytics.themes import _phrase_index, _term_counts

    index = _phrase_index("ja", tuple(shipped_lexicon("ja").items()))
    counts = _term_counts([comment], "ja", index)[0]
    assert {t.removeprefix("topic:") for t in counts if t.startswith("topic:")} == topics


@pytest.mark.parametrize(
    ("language", "frame"), [("ja", "正直{}と思います"), ("en", "honestly the {} is")]
)
def test_nearly_every_lexicon_phrase_matches_itself_inside_a_sentence(
    language: str, frame: str
) -> None:
    # janome segments a few phrases differently inside a sentence (繰り返し, メンション): 10 of
    # 619 Japanese phrases in this frame; every English phrase matches.
    from analytics.themes import _phrase_index, _term_counts

    lexicon = shipped_lexicon(language)
    index = _phrase_index(language, tuple(lexicon.items()))
    pairs = [(key, phrase) for key, phrases in lexicon.items() for phrase in phrases]
    counts = _term_counts([frame.format(p) for _, p in pairs], language, index)  # type: ignore[arg-type]
    misses = [p for (key, p), c in zip(pairs, counts, strict=True) if f"topic:{key}" not in c]
    assert len(misses) <= (0 if language == "en" else 12), misses


def test_the_lexicon_covers_the_same_topics_in_both_languages() -> None:
    keys = {language: [t.key for t in topics] for language, topics in LEXICON.items()}
    assert keys["en"] == keys["ja"] and len(keys["en"]) >= 15
    for topics in LEXICON.values():
        for topic in topics:
            assert topic.label and len(topic.terms) >= 25
            assert len(set(topic.terms)) == len(topic.terms)


def test_the_lexicon_is_the_one_the_benchmark_figures_were_measured_with() -> None:
    # It was written before looking at the labelled sets and frozen (bench/README.md, "Comment
    # themes"): a change to it needs a new measurement, then this digest.
    text = json.dumps(
        {k: [[t.key, t.label, list(t.terms)] for t in v] for k, v in LEXICON.items()},
        ensure_ascii=False,
    )
    assert hashlib.sha256(text.encode()).hexdigest()[:16] == "09f52c7dda8703a1"


# -- stable ids -------------------------------------------------------------------------------


def test_matching_finds_the_same_themes_in_another_order() -> None:
    previous = [{"invoice": 0.8, "refund": 0.6}, {"crash": 1.0}, {"login": 0.7, "sso": 0.7}]
    current = [{"sso": 0.6, "login": 0.8}, {"invoice": 0.9, "refund": 0.4}, {"dark": 1.0}]
    assert match_themes(previous, current) == {0: 2, 1: 0}


def test_matching_compares_the_words_of_signatures_not_their_lexicon_topics() -> None:
    # Two themes about one topic that say different things are not the same theme, and a
    # theme learned before the lexicon is the same as its guided successor.
    assert (
        match_themes([{"topic:pricing": 0.9, "vat": 0.4}], [{"topic:pricing": 0.9, "seat": 0.4}])
        == {}
    )
    assert match_themes(
        [{"invoice": 0.8, "vat": 0.6}], [{"topic:pricing": 0.95, "invoice": 0.2, "vat": 0.15}]
    ) == {0: 0}


@pytest.mark.parametrize("language", ["en", "ja"])
def test_most_themes_keep_their_ids_when_the_lexicon_first_guides_a_rebuild(language: str) -> None:
    # measured: 10 of 13 (en) and 6 of 9 (ja) unguided themes are matched by a guided rebuild
    before, _ = learned(language, guided=False)
    after, _ = learned(language)
    matches = match_themes([t.terms for t in before.themes], [t.terms for t in after.themes])
    assert len(matches) >= len(before.themes) // 2


def test_matching_is_one_to_one_and_respects_the_minimum_similarity() -> None:
    previous = [{"invoice": 1.0}]
    current = [{"invoice": 1.0, "refund": 0.1}, {"invoice": 1.0}]
    assert match_themes(previous, current) == {1: 0}
    assert match_themes([{"a": 1.0, "b": 1.0}], [{"a": 1.0, "c": 1.0}]) == {0: 0}  # cos 0.5
    assert match_themes([{"a": 1.0, "b": 1.0}], [{"a": 1.0, "c": 1.0}], 0.6) == {}
    assert match_themes([], [{"a": 1.0}]) == {} and match_themes([{"a": 1.0}], []) == {}


def _same_themes(
    a: list[list[tuple[int, float]]], b: list[list[tuple[int, float]]]
) -> list[tuple[int, int]]:
    """Pairs of themes that hold mostly the same comments (Jaccard >= 0.6)."""
    members_a: dict[int, set[int]] = {}
    members_b: dict[int, set[int]] = {}
    for i, (ma, mb) in enumerate(zip(a, b, strict=False)):
        for j, _ in ma:
            members_a.setdefault(j, set()).add(i)
        for j, _ in mb:
            members_b.setdefault(j, set()).add(i)
    return [
        (ja, jb)
        for ja, sa in members_a.items()
        for jb, sb in members_b.items()
        if len(sa & sb) / len(sa | sb) >= 0.6
    ]


@pytest.mark.parametrize("language", ["en", "ja"])
def test_a_rebuild_with_ten_percent_new_comments_keeps_the_same_themes_ids(
    language: str,
) -> None:
    texts, _ = labelled(language)
    before, old = learned(language)
    extra = recombined(language, len(texts) // 10, seed=1)
    after, new = learn_themes([*texts, *extra], language)  # type: ignore[arg-type]
    mapping = match_themes([t.terms for t in before.themes], [t.terms for t in after.themes])
    same = _same_themes(old, new[: len(texts)])
    assert len(same) >= 3
    for previous, current in same:
        assert mapping.get(current) == previous
    assert len(set(mapping.values())) == len(mapping)


def test_a_rebuild_with_another_seed_matches_the_themes_that_are_the_same() -> None:
    before, old = learned("en")
    after, new = learned("en", seed=7)
    mapping = match_themes([t.terms for t in before.themes], [t.terms for t in after.themes])
    same = _same_themes(old, new)
    assert same
    for previous, current in same:
        assert mapping.get(current) == previous


# -- hand-made keyword themes -----------------------------------------------------------------


def test_english_keywords_match_whole_words_after_normalisation() -> None:
    texts = [
        "Our INVOICES are wrong",
        "reinvoiced twice",
        "Log-in fails",
        "login fails",
        "Dark mode please",
        "",
    ]
    assert keyword_theme_hits(texts, ["invoice"], "en") == [True, False, False, False, False, False]
    assert keyword_theme_hits(texts, ["log in", "dark modes"], "en") == [
        False,
        False,
        True,
        False,
        True,
        False,
    ]
    assert keyword_theme_hits(texts, ["", "  "], "en") == [False] * 6


def test_japanese_keywords_match_as_substrings_ignoring_width_and_case() -> None:
    texts = ["ＣＳＶの出力が遅い", "請求書が届かない", "ログインできない"]
    assert keyword_theme_hits(texts, ["csv"], "ja") == [True, False, False]
    assert keyword_theme_hits(texts, ["請求", "ログイン"], "ja") == [False, True, True]


def test_strengths_of_an_empty_batch_are_empty() -> None:
    model, _ = learned("en")
    assert model.assign([]) == []
    assert np.asarray(model.strengths([])).shape == (0, len(model.themes))
