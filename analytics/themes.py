"""Comment themes learned offline, in English and Japanese.

Comments are turned into TF-IDF vectors over words and word bigrams (English: lowercased words
with stop words out and plurals folded; Japanese: words from janome, which ships its IPADIC
dictionary, in their dictionary form), bigrams only of words that touch in the text (English:
nothing but a space or a hyphen between them, so no bigram spans a dropped word or a comma;
Japanese: compound nouns such as 画面表示).  Non-negative matrix factorisation (Lee and Seung
1999, as fitted by scikit-learn's coordinate-descent solver with NNDSVDa initialisation) of
that matrix gives the themes; their number grows with the number of comments up to
``max_themes`` (see :func:`_number_of_themes`) and never exceeds the number of different
comments (identical ones are fitted once, weighted by their count).  A theme whose words'
signature nearly repeats a stronger one's is dropped, and so is a theme no comment belongs
to, so every theme returned holds comments and says something of its own.

Learning is guided by a topic lexicon shipped in :mod:`analytics.theme_lexicon` (the words
customers use for common topics of SaaS feedback, in both languages): a comment that uses a
topic's words gets the pseudo-term ``topic:<key>`` in its vector, weighted ``TOPIC_WEIGHT``
times the topic's idf, so comments about one topic in different words ("too pricey", "the
invoice was wrong") share a term.  NMF still finds the themes in the data: topics that fewer
than ``MIN_TOPIC_COMMENTS`` comments mention are left out, comments about topics the lexicon
does not know form themes of their own, and keyphrases are the comments' words.  A model
stores the phrases of the topics it used, so it places comments alike after an upgrade.
On the labelled sets this lifts NMI from 0.27 to 0.62 (English) and 0.68 (Japanese).

A theme is stored as a signature (its 40 heaviest terms, L2-normalised) plus the vocabulary's
idf, so a model is a small JSON document.  :meth:`ThemeModel.assign` places a comment by
non-negative least squares of its unit TF-IDF vector on the unit signatures: the coefficient
of a theme is the part of the comment that theme explains (0..1, because the vectors are
non-negative), and the comment belongs to each theme whose coefficient reaches the
threshold.  :func:`learn_themes` returns exactly what ``assign`` gives on the same texts.

Nothing is downloaded at run time; NumPy is imported eagerly, SciPy, scikit-learn and janome
only when needed.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, TypeGuard

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

    Floats: TypeAlias = NDArray[np.float64]

Language = Literal["en", "ja"]
LANGUAGES: tuple[str, ...] = ("en", "ja")

#: Fewer comments than this (with any words in them) give no themes at all.
MIN_COMMENTS = 20
#: Terms kept per theme signature.
SIGNATURE_TERMS = 40
#: A comment belongs to a theme when that theme explains at least this part of it.
DEFAULT_THRESHOLD = 0.15
#: Learning fits on a seeded sample of at most this many comments and assigns the rest.
LEARN_SAMPLE = 20_000
#: Comments are placed in chunks of this many, so memory stays bounded.
ASSIGN_CHUNK = 10_000
#: The vocabulary keeps at most this many terms (by document frequency).
MAX_VOCABULARY = 20_000
#: Terms in more than this share of the comments carry no theme.
MAX_DF = 0.5
MODEL_VERSION = 1
#: A lexicon topic's pseudo-term weighs this many times its idf in a comment's vector.
TOPIC_WEIGHT = 2.0
#: A lexicon topic guides learning only when at least this many comments mention it.
MIN_TOPIC_COMMENTS = 3
#: Two learned themes whose signatures' words have at least this cosine are one theme.
DUPLICATE_SIMILARITY = 0.8

Membership: TypeAlias = list[tuple[int, float]]

# --------------------------------------------------------------------------------------------
# Language and tokens
# --------------------------------------------------------------------------------------------


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0xFF66 <= code <= 0xFF9F  # half-width katakana
    )


def detect_language(text: str) -> Language:
    """``"ja"`` when at least a fifth of the text's letters are kana or kanji, else ``"en"``.

    A share rather than "any" so an English comment quoting one Japanese product name stays
    English, while a Japanese comment full of English product names is still Japanese.
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    cjk = sum(1 for c in letters if _is_cjk(c))
    return "ja" if cjk * 5 >= len(letters) else "en"


_EXTRA_EN_STOP_WORDS = """
    im ive id youre theyre dont doesnt didnt cant couldnt wont wouldnt isnt arent wasnt werent
    shouldnt havent hasnt hadnt thats theres lets ok okay please really just like would could
    get gets got getting use used using also still even much many lot lots bit thing things
    way make makes made want wanted need needs needed know try tried trying seems seem able
    actually always sometimes since us one two day days week weeks guys hi hello thanks thank
    does did doing goes going having
"""
_EXTRA_EN_STOP = frozenset(_EXTRA_EN_STOP_WORDS.split())


@cache
def _english_stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | _EXTRA_EN_STOP


_EN_WORD = re.compile(r"[a-z0-9]+")
_EN_KEEP_S = ("ss", "us", "is", "ous", "ics")
#: Words ending in "s" that are not plurals (or whose "singular" is another word): verbs,
#: adverbs, acronyms and singular nouns that the suffix rules of :func:`_singular` would cut.
_EN_NOT_PLURAL_WORDS = """
    does goes has was this his its yes plus thus gas alias bias atlas canvas whereas overseas
    saas paas iaas sms mms aws dns gps ios macos https cors news series species means lens
    always perhaps towards afterwards besides sometimes nowadays kudos chaos ethos
"""
_EN_NOT_PLURAL = frozenset(_EN_NOT_PLURAL_WORDS.split())


def _singular(word: str) -> str:
    """Fold a regular English plural into its singular (light: no dictionary, no stemming).

    Words that only look plural (does, has, this, analysis, status, business, saas) are kept.
    """
    if (
        len(word) <= 3
        or not word.endswith("s")
        or word.endswith(_EN_KEEP_S)
        or word in _EN_NOT_PLURAL
    ):
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    return word[:-1]


def _en_normal(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower().replace("'", "").replace("\u2019", "")


def _en_words(text: str) -> list[str]:
    """Lowercased, NFKC-normalised words with plurals folded; stop words kept."""
    return [_singular(w) for w in _EN_WORD.findall(_en_normal(text))]


def _en_tokens(text: str) -> list[str]:
    return _en_analyse(text)[0]


def _en_analyse(text: str) -> tuple[list[str], list[bool], list[str]]:
    """English words (stop words out), whether each touches the previous one, every word.

    A stop word is recognised before folding, so "does" is dropped rather than read as the
    plural of "doe".  ``touches[i]`` is true when word ``i`` directly follows word ``i - 1``
    in the text: only spaces or a hyphen between them, no dropped word, number or
    punctuation ("Support answered within minutes, great" has no bigram "minute great").
    The third list holds every word in order, stop words kept, for matching lexicon phrases.
    """
    stop = _english_stop_words()
    normal = _en_normal(text)
    words: list[str] = []
    touches: list[bool] = []
    sequence: list[str] = []
    last_end = -1  # index in the text just after the last kept word; -1: none (or not kept)
    for match in _EN_WORD.finditer(normal):
        raw = match.group()
        word = _singular(raw)
        sequence.append(word)
        if raw in stop or raw.isdigit() or len(word) < 2 or word in stop:
            last_end = -1
            continue
        start = match.start()
        touches.append(last_end >= 0 and _joins(normal[last_end:start]))
        words.append(word)
        last_end = match.end()
    return words, touches, sequence


def _joins(gap: str) -> bool:
    """Whether the text between two words keeps them one phrase: spaces, or one hyphen."""
    return gap == "-" or gap.isspace()


_JA_STOP_WORDS = """
    する ある いる なる できる れる られる おる くる いく 思う 言う いう やる 見る みる くれる
    もらう しまう ない いい よい 良い ほしい 欲しい すぎる こと もの ため よう ところ さん 感じ
    方 時 中 今 今回 前 後 上 下 毎回 とき 場合 それ これ あれ どれ そう ここ そこ 私 自分 の
"""
_JA_STOP = frozenset(_JA_STOP_WORDS.split())
_JA_KEPT_NOUNS_EXCLUDED = ("非自立", "代名詞", "数", "接尾", "特殊", "副詞可能")


@cache
def _janome() -> Any:
    from janome.tokenizer import Tokenizer

    return Tokenizer()


def _ja_analyse(text: str) -> tuple[list[str], list[bool], list[str]]:
    """Japanese words (dictionary forms), whether each touches the previous one, every word.

    Nouns, independent verbs and adjectives are kept; a noun suffix is glued to its noun
    (請求 + 書 -> 請求書).  ``touches[i]`` is true when word ``i`` follows word ``i - 1``
    with nothing between them in the text, which is when a bigram of the two is a compound.
    The third list holds the dictionary form of every word, particles and auxiliaries
    included (使いにくかった -> 使う にくい た), for matching lexicon phrases.
    """
    normal = unicodedata.normalize("NFKC", text)
    words: list[str] = []
    touches: list[bool] = []
    sequence: list[str] = []
    last_end = -1  # index in the text just after the last kept word; -1: none yet
    last_is_noun = False
    position = 0
    for token in _janome().tokenize(normal):
        surface: str = token.surface
        start, position = position, position + len(surface)
        pos = token.part_of_speech.split(",")
        base = token.base_form if token.base_form != "*" else surface
        if not surface.isspace():
            sequence.append(base.lower())
        if pos[0] == "名詞" and pos[1] == "接尾" and last_is_noun and last_end == start:
            words[-1] += surface
            last_end = position
            continue
        keep = (pos[0] == "名詞" and pos[1] not in _JA_KEPT_NOUNS_EXCLUDED) or (
            pos[0] in ("動詞", "形容詞") and pos[1] == "自立"
        )
        if not keep:
            continue
        word = base.lower()
        if word in _JA_STOP or (len(word) < 2 and not _is_cjk(word)) or _only_kana_1(word):
            continue
        touches.append(bool(words) and last_end == start)
        words.append(word)
        last_end = position
        last_is_noun = pos[0] == "名詞"
    return words, touches, sequence


def _only_kana_1(word: str) -> bool:
    return len(word) == 1 and 0x3040 <= ord(word) <= 0x30FF


def tokens(text: str, language: Language) -> list[str]:
    """The words a comment is themed on.

    English: lowercased words, stop words out, regular plurals folded (invoices -> invoice).
    Japanese: janome's words in dictionary form (遅く -> 遅い), nouns with their suffixes,
    independent verbs and adjectives, stop words out.
    """
    if language == "ja":
        return _ja_analyse(text)[0]
    if language == "en":
        return _en_tokens(text)
    raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")


def _terms(text: str, language: Language) -> list[str]:
    """Unigrams and bigrams ("a b") of a comment, bigrams only of words that touch in the text."""
    return _analyse(text, language)[0]


def _analyse(text: str, language: Language) -> tuple[list[str], list[str]]:
    """A comment's terms (see :func:`_terms`) and its full word sequence (for the lexicon)."""
    if language == "ja":
        words, touches, sequence = _ja_analyse(text)
    elif language == "en":
        words, touches, sequence = _en_analyse(text)
    else:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    bigrams = [f"{words[i - 1]} {words[i]}" for i in range(1, len(words)) if touches[i]]
    return words + bigrams, sequence


def _display(term: str, language: Language) -> str:
    """A term as shown: Japanese compounds are written without the space between their words."""
    return term.replace(" ", "") if language == "ja" else term


# --------------------------------------------------------------------------------------------
# Lexicon guidance
# --------------------------------------------------------------------------------------------

#: Lexicon topics appear in vectors and signatures as pseudo-terms ``topic:<key>``; no word
#: of either language's analysis contains a colon followed by a lexicon key.
TOPIC_PREFIX = "topic:"

Phrases: TypeAlias = dict[str, tuple[tuple[tuple[str, ...], str], ...]]


def is_topic_term(term: str) -> bool:
    """Whether a signature term is a lexicon topic rather than a word of the comments."""
    return term.startswith(TOPIC_PREFIX)


@cache
def shipped_lexicon(language: Language) -> dict[str, tuple[str, ...]]:
    """The lexicon shipped in :mod:`analytics.theme_lexicon`: topic key -> its phrases."""
    from analytics.theme_lexicon import LEXICON

    return {topic.key: topic.terms for topic in LEXICON[language]}


def _phrase_sequence(phrase: str, language: Language) -> tuple[str, ...]:
    return tuple(_analyse(phrase, language)[1])


@cache
def _phrase_index(language: Language, lexicon: tuple[tuple[str, tuple[str, ...]], ...]) -> Phrases:
    """Each lexicon phrase, analysed like the comments, filed under its first word."""
    index: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for key, phrases in lexicon:
        for phrase in phrases:
            words = _phrase_sequence(phrase, language)
            if words and (words, key) not in index.get(words[0], []):
                index.setdefault(words[0], []).append((words, key))
    return {first: tuple(entries) for first, entries in index.items()}


def _topic_hits(sequence: Sequence[str], index: Phrases) -> Counter[str]:
    """How many lexicon phrases of each topic occur in a word sequence (as consecutive words)."""
    hits: Counter[str] = Counter()
    for i, word in enumerate(sequence):
        for phrase, key in index.get(word, ()):
            if len(phrase) == 1 or tuple(sequence[i : i + len(phrase)]) == phrase:
                hits[key] += 1
    return hits


def _term_counts(
    texts: Sequence[str], language: Language, index: Phrases | None = None
) -> list[Counter[str]]:
    """Each text's term counts (and lexicon topic counts), analysing each distinct text once."""
    seen: dict[str, Counter[str]] = {}
    out = []
    for text in texts:
        counts = seen.get(text)
        if counts is None:
            terms, sequence = _analyse(text, language)
            counts = seen[text] = Counter(terms)
            if index:
                for key, hits in _topic_hits(sequence, index).items():
                    counts[TOPIC_PREFIX + key] = hits
        out.append(counts)
    return out


# --------------------------------------------------------------------------------------------
# TF-IDF
# --------------------------------------------------------------------------------------------


def _vectorise(
    docs: Sequence[Counter[str]],
    columns: Mapping[str, int],
    idf: Mapping[str, float],
    oov_idf: float,
) -> Any:
    """Unit-length sublinear TF-IDF rows (CSR), restricted to ``columns``.

    A row's length counts every term of the comment, including terms outside ``columns`` (at
    their idf) and outside the vocabulary (at ``oov_idf``), so a comment mostly about
    something else gets small weights on the columns asked for.
    """
    from scipy.sparse import csr_matrix

    indptr = [0]
    indices: list[int] = []
    values: list[float] = []
    for counts in docs:
        squares = 0.0
        row_start = len(values)
        for term, count in counts.items():
            weight = (1.0 + math.log(count)) * idf.get(term, oov_idf)
            squares += weight * weight
            column = columns.get(term)
            if column is not None:
                indices.append(column)
                values.append(weight)
        if squares > 0.0:
            scale = 1.0 / math.sqrt(squares)
            for i in range(row_start, len(values)):
                values[i] *= scale
        indptr.append(len(values))
    return csr_matrix(
        (np.asarray(values, dtype=np.float64), np.asarray(indices, dtype=np.int64), indptr),
        shape=(len(docs), len(columns)),
    )


def _nnls_rows(b: Floats, gram: Floats, sweeps: int = 200, tol: float = 1e-7) -> Floats:
    """Non-negative least squares for many rows at once: min ||x - w S|| over w >= 0.

    ``b = X S^T`` and ``gram = S S^T``; coordinate descent (cyclic, exact per coordinate),
    vectorised over rows and stopped when no coefficient moves by more than ``tol``.
    """
    k = gram.shape[0]
    w = np.zeros_like(b)
    diagonal = np.maximum(np.diag(gram), 1e-12)
    for _ in range(sweeps):
        largest = 0.0
        for j in range(k):
            residual = b[:, j] - w @ gram[:, j]
            updated = np.maximum(0.0, w[:, j] + residual / diagonal[j])
            change = float(np.max(np.abs(updated - w[:, j]))) if len(w) else 0.0
            largest = max(largest, change)
            w[:, j] = updated
        if largest <= tol:
            break
    return w


# --------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LearnedTheme:
    """A theme: its signature (top terms -> weight, L2-normalised), keyphrases and label."""

    terms: dict[str, float]
    keyphrases: list[str]
    label: str


@dataclass(frozen=True)
class ThemeModel:
    """What is stored of a learning run: enough to place new comments in its themes."""

    language: Language
    idf: dict[str, float]
    themes: list[LearnedTheme]
    threshold: float = DEFAULT_THRESHOLD
    #: The lexicon phrases of the topics the model was guided by (topic key -> phrases); None
    #: takes them from the shipped lexicon.  A model is guided by the topics whose pseudo-terms
    #: (``topic:<key>``) are in its ``idf``, so a model rebuilt from the four fields above
    #: stays guided.
    lexicon: dict[str, tuple[str, ...]] | None = None
    _signatures: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def topics(self) -> dict[str, tuple[str, ...]]:
        """The lexicon topics guiding the model: key -> phrases (empty when unguided)."""
        keys = [t[len(TOPIC_PREFIX) :] for t in self.idf if is_topic_term(t)]
        source = self.lexicon if self.lexicon is not None else shipped_lexicon(self.language)
        return {k: tuple(source[k]) for k in sorted(keys) if k in source}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form; :meth:`from_dict` gives back a model that assigns identically."""
        data: dict[str, Any] = {
            "version": MODEL_VERSION,
            "language": self.language,
            "threshold": self.threshold,
            "idf": dict(self.idf),
            "themes": [
                {"terms": dict(t.terms), "keyphrases": list(t.keyphrases), "label": t.label}
                for t in self.themes
            ],
        }
        topics = self.topics
        if topics:
            data["lexicon"] = {k: list(v) for k, v in topics.items()}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThemeModel:
        """The model :meth:`to_dict` wrote; ``ValueError`` naming the part that is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError("model: expected an object")
        language = data.get("language")
        if language not in LANGUAGES:
            raise ValueError(f"language: must be one of {LANGUAGES}")
        threshold = data.get("threshold")
        if not _is_number(threshold) or not 0.0 < float(threshold) <= 1.0:
            raise ValueError("threshold: must be a number in (0, 1]")
        idf = data.get("idf")
        if not isinstance(idf, Mapping) or not all(
            isinstance(k, str) and _is_number(v) and float(v) > 0 for k, v in idf.items()
        ):
            raise ValueError("idf: must map terms to positive numbers")
        raw_themes = data.get("themes")
        if not isinstance(raw_themes, list):
            raise ValueError("themes: must be a list")
        themes = []
        for i, raw in enumerate(raw_themes):
            if not isinstance(raw, Mapping):
                raise ValueError(f"themes[{i}]: expected an object")
            terms = raw.get("terms")
            if not isinstance(terms, Mapping) or not all(
                isinstance(k, str) and _is_number(v) and float(v) >= 0 for k, v in terms.items()
            ):
                raise ValueError(f"themes[{i}].terms: must map terms to non-negative numbers")
            keyphrases = raw.get("keyphrases")
            if not isinstance(keyphrases, list) or not all(isinstance(k, str) for k in keyphrases):
                raise ValueError(f"themes[{i}].keyphrases: must be a list of strings")
            label = raw.get("label")
            if not isinstance(label, str):
                raise ValueError(f"themes[{i}].label: must be a string")
            themes.append(
                LearnedTheme(
                    terms={k: float(v) for k, v in terms.items()},
                    keyphrases=list(keyphrases),
                    label=label,
                )
            )
        lexicon = data.get("lexicon")
        if lexicon is not None and (
            not isinstance(lexicon, Mapping)
            or not all(
                isinstance(k, str) and isinstance(v, list) and all(isinstance(p, str) for p in v)
                for k, v in lexicon.items()
            )
        ):
            raise ValueError("lexicon: must map topic keys to lists of phrases")
        return cls(
            language=language,
            idf={k: float(v) for k, v in idf.items()},
            themes=themes,
            threshold=float(threshold),
            lexicon=None if lexicon is None else {k: tuple(v) for k, v in lexicon.items()},
        )

    def _phrases(self) -> Phrases | None:
        """The phrase index of the guiding topics, None when the model is unguided."""
        if "phrases" not in self._signatures:
            topics = self.topics
            self._signatures["phrases"] = (
                _phrase_index(self.language, tuple(topics.items())) if topics else None
            )
        phrases: Phrases | None = self._signatures["phrases"]
        return phrases

    def _prepared(self) -> tuple[dict[str, int], Floats, Floats, float]:
        """Signature columns, the signature matrix S (unit rows), S S^T and the OOV idf."""
        if "matrix" not in self._signatures:
            columns: dict[str, int] = {}
            for theme in self.themes:
                for term in theme.terms:
                    columns.setdefault(term, len(columns))
            matrix = np.zeros((len(self.themes), len(columns)))
            for row, theme in enumerate(self.themes):
                for term, weight in theme.terms.items():
                    matrix[row, columns[term]] = weight
                length = np.linalg.norm(matrix[row])
                if length > 0:
                    matrix[row] /= length
            oov_idf = _oov_idf(self.idf)
            self._signatures.update(
                columns=columns, matrix=matrix, gram=matrix @ matrix.T, oov_idf=oov_idf
            )
        s = self._signatures
        return s["columns"], s["matrix"], s["gram"], s["oov_idf"]

    def strengths(self, texts: Sequence[str]) -> Floats:
        """Each text's coefficient on each theme (rows: texts, columns: themes), in 0..1."""
        return self._strengths(_term_counts(texts, self.language, self._phrases()))

    def _strengths(self, docs: Sequence[Counter[str]]) -> Floats:
        if not self.themes or not docs:
            return np.zeros((len(docs), len(self.themes)))
        columns, matrix, gram, oov_idf = self._prepared()
        # A theme term the vocabulary lost (hand-edited signature) still counts, at the OOV idf.
        x = _vectorise(docs, columns, self.idf, oov_idf)
        b = np.asarray(x @ matrix.T)
        return np.clip(np.round(_nnls_rows(b, gram), 4), 0.0, 1.0)

    def assign(self, texts: Sequence[str]) -> list[Membership]:
        """Per text, (theme index, strength) for each theme it belongs to, strongest first."""
        return _memberships(self.strengths(texts), self.threshold)

    def _assign_docs(self, docs: Sequence[Counter[str]]) -> list[Membership]:
        return _memberships(self._strengths(docs), self.threshold)


def _oov_idf(idf: Mapping[str, float]) -> float:
    """The idf of a word outside the vocabulary: that of the rarest word in it."""
    return max((v for k, v in idf.items() if not is_topic_term(k)), default=1.0)


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _memberships(strengths: Floats, threshold: float) -> list[Membership]:
    out: list[Membership] = []
    for row in strengths:
        members = [(int(j), float(row[j])) for j in np.flatnonzero(row >= threshold)]
        members.sort(key=lambda m: (-m[1], m[0]))
        out.append(members)
    return out


# --------------------------------------------------------------------------------------------
# Learning
# --------------------------------------------------------------------------------------------


def _vocabulary(docs: Sequence[Counter[str]]) -> dict[str, float]:
    """Terms in at least ``min_df`` and at most ``MAX_DF`` of the comments -> smooth idf.

    Lexicon topics are kept when at least ``MIN_TOPIC_COMMENTS`` comments (and ``min_df``)
    mention them, however common, with their idf times ``TOPIC_WEIGHT``.
    """
    n = len(docs)
    df: Counter[str] = Counter()
    for counts in docs:
        df.update(counts.keys())
    min_df = max(2, n // 5_000)
    max_df = max(min_df, int(MAX_DF * n))
    kept = sorted(
        ((term, d) for term, d in df.items() if min_df <= d <= max_df and not is_topic_term(term)),
        key=lambda t: (-t[1], t[0]),
    )[:MAX_VOCABULARY]
    idf = {term: round(math.log((1 + n) / (1 + d)) + 1.0, 6) for term, d in kept}
    topic_min_df = max(min_df, MIN_TOPIC_COMMENTS)
    for term, d in sorted(df.items()):
        if is_topic_term(term) and d >= topic_min_df:
            idf[term] = round((math.log((1 + n) / (1 + d)) + 1.0) * TOPIC_WEIGHT, 6)
    return idf


def _fit_nmf(x: Any, k: int, seed: int, max_iter: int = 400) -> tuple[Floats, Floats]:
    """The NMF weights (rows x k) and components (k x terms) of ``x``; deterministic."""
    import warnings

    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning

    model = NMF(n_components=k, init="nndsvda", solver="cd", max_iter=max_iter, random_state=seed)
    # An exact fit (as many themes as different comments) can leave scikit-learn's error a
    # hair below zero, and its square root then warns; the factors are fine.
    with warnings.catch_warnings(), np.errstate(invalid="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        w = model.fit_transform(x)
    return np.asarray(w, dtype=np.float64), np.asarray(model.components_, dtype=np.float64)


def _signature(component: Floats, vocabulary: Sequence[str]) -> dict[str, float]:
    top = [int(i) for i in np.argsort(-component, kind="stable")[:SIGNATURE_TERMS]]
    top = [i for i in top if component[i] > 0]
    length = math.sqrt(sum(float(component[i]) ** 2 for i in top))
    if length == 0.0:
        return {}
    return {vocabulary[i]: round(float(component[i]) / length, 6) for i in top}


#: Words that make poor keyphrases on their own and cannot end an English noun phrase:
#: adverbs, bare praise or complaint, irregular past tenses ("fine overall", "team took",
#: "took forever").  They still count in the vectors; only keyphrases rank them lower.
_EN_WEAK_WORDS = """
    exactly overall forever anymore totally completely definitely super pretty literally
    basically honestly simply especially finally usually constantly soon later ago instead
    lately recently currently generally great good love loved nice awesome amazing bad
    terrible horrible fine took went came gave felt kept
"""
_EN_WEAK = frozenset(_EN_WEAK_WORDS.split())
#: In English keyphrases a bigram ranks as if this much heavier (a phrase reads better than
#: a word), a weak word or past tense as if this much lighter.
BIGRAM_PREFERENCE = 1.25
WEAK_WORD_PENALTY = 0.5


def _is_weak(word: str) -> bool:
    """A weak English word (``_EN_WEAK``) or a past tense ("answered"; "speed" is a noun)."""
    past = len(word) > 4 and word.endswith("ed") and not word.endswith("eed")
    return past or word in _EN_WEAK


def _reads_as_phrase(term: str, language: Language) -> bool:
    """Whether a term can be shown as a keyphrase.

    Bigrams are only of words that touch in the text; an English one must also end on a
    word that can end a noun phrase, not a weak one ("support answered", "fine overall").
    """
    if language != "en" or " " not in term:
        return True
    return not _is_weak(term.rsplit(" ", 1)[1])


def _keyphrase_rank(term: str, weight: float, language: Language) -> tuple[float, int, str]:
    """Sort key: heaviest first (English: bigrams up, weak words down), then longest, which
    breaks the ties of a theme made of one repeated comment, where every word weighs the same.
    """
    if language == "en":
        if " " in term:
            weight *= BIGRAM_PREFERENCE
        elif _is_weak(term):
            weight *= WEAK_WORD_PENALTY
    return (-round(weight, 6), -len(term), term)


def keyphrases_of(terms: Mapping[str, float], language: Language, limit: int = 5) -> list[str]:
    """The theme's heaviest terms as shown, each word in at most one keyphrase.

    A bigram replaces the unigrams it contains (taking the place of the first); a bigram
    sharing a word with a chosen one is skipped, and so is a unigram inside either; a
    bigram that does not read as a phrase (:func:`_reads_as_phrase`) is never chosen.  In
    English, bigrams rank a little higher and weak words lower than their weights.
    """
    ranked = sorted(
        (t for t in terms if not is_topic_term(t) and _reads_as_phrase(t, language)),
        key=lambda t: _keyphrase_rank(t, terms[t], language),
    )
    chosen: list[str] = []
    covered: set[str] = set()  # words of the chosen bigrams and of bigrams overlapping them
    for term in ranked:
        parts = term.split(" ")
        if len(parts) == 1:
            if term in covered:
                continue
            chosen.append(term)
        else:
            if covered.intersection(parts):
                covered.update(parts)  # "new pipeline" after "pipeline view": no lone "new"
                continue
            covered.update(parts)
            contained = [c for c in chosen if c in parts]
            if contained:
                at = chosen.index(contained[0])
                chosen = [c for c in chosen if c not in contained]
                chosen.insert(at, term)
            else:
                chosen.append(term)
        if len(chosen) >= limit:
            break
    return [_display(c, language) for c in chosen]


def _label(keyphrases: Sequence[str]) -> str:
    return " · ".join(keyphrases[:2])


def _sample(n: int, size: int, seed: int) -> NDArray[np.int64]:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def _number_of_themes(n_docs: int, max_themes: int) -> int:
    """``sqrt(n / 2)`` themes (Mardia et al. 1979's rule of thumb), at most ``max_themes``.

    Stability across resamples (Greene et al. 2014), NPMI coherence and how clearly comments
    fall into one theme were measured as choosers on the labelled sets and did not track the
    true number of themes there (stability was flat and noisy, the other two favour few
    themes), while agreement with the labels rose steadily with k up to about twice the true
    number; the rule of thumb is cheap and errs on the side of more, finer themes.
    """
    return max(2, min(max_themes, round(math.sqrt(n_docs / 2))))


def learn_themes(
    texts: Sequence[str],
    language: Language,
    *,
    max_themes: int = 15,
    seed: int = 0,
    guided: bool = True,
) -> tuple[ThemeModel, list[Membership]]:
    """Group comments into themes; the model and each text's memberships (as ``assign`` gives).

    ``guided`` (the default) lets the shipped topic lexicon link comments that share a topic
    but no word; ``guided=False`` learns from the words alone.  Fits on a seeded sample of at
    most ``LEARN_SAMPLE`` comments (memory stays bounded) and places every comment with the
    model.  Fewer than ``MIN_COMMENTS`` comments with words in them give a model with no
    themes.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    if max_themes < 1:
        raise ValueError("max_themes must be at least 1")
    empty = ThemeModel(language=language, idf={}, themes=[], threshold=DEFAULT_THRESHOLD)
    lexicon = shipped_lexicon(language) if guided else {}
    index = _phrase_index(language, tuple(lexicon.items())) if lexicon else None
    picked = _sample(len(texts), LEARN_SAMPLE, seed)
    picked_docs = dict(
        zip(
            picked.tolist(),
            _term_counts([texts[i] for i in picked], language, index),
            strict=True,
        )
    )
    sample = [d for d in picked_docs.values() if d]
    if len(sample) < MIN_COMMENTS:
        return empty, [[] for _ in texts]
    idf = _vocabulary(sample)
    if sum(1 for t in idf if not is_topic_term(t)) < 2:
        return empty, [[] for _ in texts]
    # Topics too rare to keep are forgotten, so learning sees each comment as assign will.
    for counts in picked_docs.values():
        for term in [t for t in counts if is_topic_term(t) and t not in idf]:
            del counts[term]
    keys = [t[len(TOPIC_PREFIX) :] for t in idf if is_topic_term(t)]
    topics = {key: lexicon[key] for key in sorted(keys)}
    vocabulary = list(idf)
    columns = {term: i for i, term in enumerate(vocabulary)}

    # Identical comments (after analysis) are fitted once, weighted by how often they occur:
    # scaling a row by sqrt(count) makes NMF's squared error count it that many times, so the
    # fit is the same as on the repeated rows, only cheaper, and a few templates repeated
    # many times cannot ask for more themes than there are different comments.
    row_of: dict[frozenset[tuple[str, int]], int] = {}
    row_of_text: dict[str, int] = {}
    rows: list[Counter[str]] = []
    counts_of_rows: list[int] = []
    for i, counts in picked_docs.items():
        if not counts:
            continue
        key = frozenset(counts.items())
        row = row_of.get(key)
        if row is None:
            row = row_of[key] = len(rows)
            rows.append(counts)
            counts_of_rows.append(0)
        counts_of_rows[row] += 1
        row_of_text[texts[i]] = row
    x = _vectorise(rows, columns, idf, _oov_idf(idf))
    weight = np.asarray(counts_of_rows, dtype=np.float64)
    worded = np.flatnonzero(x.getnnz(axis=1))
    if weight[worded].sum() < MIN_COMMENTS:
        return empty, [[] for _ in texts]
    k = min(_number_of_themes(int(weight[worded].sum()), max_themes), len(worded))
    root = np.sqrt(weight[worded])
    w, h = _fit_nmf(x[worded].multiply(root[:, None]).tocsr(), k, seed)
    del x
    # How much of the comments each component explains (repeats counted), strongest first.
    usage = (root[:, None] * w).sum(axis=0) * np.linalg.norm(h, axis=1)
    signatures = []
    for j in np.argsort(-usage, kind="stable"):
        terms = _signature(h[j], vocabulary)
        if sum(1 for t in terms if not is_topic_term(t)) >= 2:
            signatures.append(terms)
    themes = []
    for terms in _distinct(signatures):
        phrases = keyphrases_of(terms, language)
        themes.append(LearnedTheme(terms=terms, keyphrases=phrases, label=_label(phrases)))

    # A theme no comment belongs to is dropped and the rest placed again (placing shifts when
    # a theme goes), until every theme has comments; the sample's comments are among the
    # texts, so a theme with members in the sample has members in the texts.
    while True:
        model = ThemeModel(
            language=language,
            idf=idf,
            themes=themes,
            threshold=DEFAULT_THRESHOLD,
            lexicon=topics or None,
        )
        known = model._strengths(rows)
        populated = np.count_nonzero(known >= model.threshold, axis=0) > 0
        if bool(np.all(populated)):
            break
        themes = [themes[int(j)] for j in np.flatnonzero(populated)]
    index = model._phrases()

    # Place every comment, a chunk at a time so memory does not grow with the number of texts;
    # the sample's comments are placed already, and each other distinct text once.
    memberships: list[Membership] = []
    sizes = np.zeros(len(themes), dtype=np.int64)
    for start in range(0, len(texts), ASSIGN_CHUNK):
        chunk = texts[start : start + ASSIGN_CHUNK]
        missing = list(dict.fromkeys(t for t in chunk if t not in row_of_text))
        computed = model._strengths(_term_counts(missing, language, index))
        row_of_missing = {text: row for row, text in enumerate(missing)}
        strengths = np.zeros((len(chunk), len(themes)))
        for n, text in enumerate(chunk):
            row = row_of_text.get(text)
            strengths[n] = known[row] if row is not None else computed[row_of_missing[text]]
        sizes += (strengths >= model.threshold).sum(axis=0)
        memberships.extend(_memberships(strengths, model.threshold))

    # Largest theme first, so indices read in order of importance.
    order = sorted(range(len(themes)), key=lambda j: (-int(sizes[j]), j))
    new_index = {old: new for new, old in enumerate(order)}
    model = ThemeModel(
        language=language,
        idf=idf,
        themes=[themes[j] for j in order],
        threshold=model.threshold,
        lexicon=model.lexicon,
    )
    for members in memberships:
        members[:] = sorted(((new_index[j], v) for j, v in members), key=lambda m: (-m[1], m[0]))
    return model, memberships


def _distinct(signatures: Sequence[dict[str, float]]) -> list[dict[str, float]]:
    """The signatures without near-duplicates, strongest first: a signature whose words'
    cosine with a stronger one's reaches ``DUPLICATE_SIMILARITY`` is dropped (its comments
    go to the stronger theme when placed)."""
    if not signatures:
        return []
    vectors = _word_vectors(signatures)
    similarity = vectors @ vectors.T
    kept: list[int] = []
    for j in range(len(signatures)):
        if all(similarity[j, i] < DUPLICATE_SIMILARITY for i in kept):
            kept.append(j)
    return [signatures[j] for j in kept]


def _word_vectors(*groups: Sequence[Mapping[str, float]]) -> Floats:
    """Unit vectors of signatures over their words (lexicon topics left out), one row each,
    all groups in one shared column space, stacked in order."""
    columns: dict[str, int] = {}
    signatures = [s for group in groups for s in group]
    for signature in signatures:
        for term in signature:
            if not is_topic_term(term):
                columns.setdefault(term, len(columns))
    m = np.zeros((len(signatures), len(columns)))
    for row, signature in enumerate(signatures):
        for term, weight in signature.items():
            if not is_topic_term(term):
                m[row, columns[term]] = weight
    lengths = np.linalg.norm(m, axis=1)
    lengths[lengths == 0] = 1.0
    return m / lengths[:, None]


# --------------------------------------------------------------------------------------------
# Stable ids and hand-made themes
# --------------------------------------------------------------------------------------------


def match_themes(
    previous: Sequence[Mapping[str, float]],
    current: Sequence[Mapping[str, float]],
    min_similarity: float = 0.3,
) -> dict[int, int]:
    """Current theme index -> previous theme index, one-to-one, for themes that are the same.

    The Hungarian assignment (``scipy.optimize.linear_sum_assignment``) maximises the total
    cosine similarity of the term signatures; pairs below ``min_similarity`` stay unmatched.
    Lexicon topics (``topic:<key>``) are left out of the comparison: two themes about one topic
    share them whatever they say, and a model learned before the lexicon has none, so ids
    follow the comments' words across that upgrade too.
    """
    if not previous or not current:
        return {}
    from scipy.optimize import linear_sum_assignment

    vectors = _word_vectors(current, previous)
    similarity = vectors[: len(current)] @ vectors[len(current) :].T
    rows, cols = linear_sum_assignment(similarity, maximize=True)
    return {
        int(r): int(c)
        for r, c in zip(rows, cols, strict=True)
        if similarity[r, c] >= min_similarity - 1e-12
    }


def keyword_theme_hits(
    texts: Sequence[str], keywords: Sequence[str], language: Language
) -> list[bool]:
    """Whether each text contains any keyword (a hand-made theme).

    English: whole words after the normalisation of :func:`tokens` but with stop words kept,
    so "invoices" finds "invoice" and "log in" finds "Log-in" but not "login".  Japanese: a
    case-insensitive substring of the NFKC-normalised text.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    if language == "ja":
        needles = [unicodedata.normalize("NFKC", k).casefold().strip() for k in keywords]
        needles = [n for n in needles if n]
        return [
            any(n in unicodedata.normalize("NFKC", text).casefold() for n in needles)
            for text in texts
        ]
    phrases = [tuple(_en_words(k)) for k in keywords]
    phrases = [p for p in phrases if p]
    return [_contains_phrase(_en_words(text), phrases) for text in texts]


def _contains_phrase(words: Sequence[str], phrases: Iterable[tuple[str, ...]]) -> bool:
    for phrase in phrases:
        n = len(phrase)
        if any(tuple(words[i : i + n]) == phrase for i in _starts(words, phrase[0])):
            return True
    return False


def _starts(words: Sequence[str], first: str) -> Iterator[int]:
    return (i for i, w in enumerate(words) if w == first)
