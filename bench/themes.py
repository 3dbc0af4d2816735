"""Benchmark: comment themes, quality on the labelled sets and speed on 100,000 comments.

Quality: per language, `learn_themes` on `tests/data/themes/{en,ja}.csv` (defaults, seed 0),
guided by the shipped topic lexicon (the default) and unguided (`guided=False`), against the
hand labels: normalised mutual information and adjusted Rand index of each
comment's dominant theme (a comment in no theme is a group of its own), per-theme F1 after
matching learned themes to labels one-to-one (Hungarian method on the contingency table), the
share of comments placed and placed in several themes. Beside them, a ceiling for any method
that sees only the words: how often a comment's nearest neighbour by TF-IDF cosine carries
the same label.

Speed: 100,000 comments made by recombining fragments of the labelled comments (seeded; 80 %
English, 20 % Japanese, fragments drawn across all themes), themed as the worker does it
(detect the language, `learn_themes` per language: fit on a 20,000-comment sample, place all
in chunks of 10,000), then placed again with the stored models (`ThemeModel.assign`, the daily
job). The same is timed unguided, and the baseline, in the same run, is scikit-learn's
`TfidfVectorizer` on the same texts with the same tokeniser. Each part runs in a fresh child
process so its peak memory (maxrss) is its own.

    .venv/bin/python bench/themes.py [--comments 100000] [--seed 0] [--skip-speed]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.themes import (  # noqa: E402
    Language,
    ThemeModel,
    _term_counts,
    _terms,
    detect_language,
    is_topic_term,
    learn_themes,
)

DATA = ROOT / "tests" / "data" / "themes"
LANGUAGES: tuple[Language, ...] = ("en", "ja")


def labelled(language: Language) -> tuple[list[str], list[str]]:
    with (DATA / f"{language}.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["theme"] for r in rows]


def dominant(memberships: list[list[tuple[int, float]]]) -> list[int]:
    return [m[0][0] if m else -1 for m in memberships]


def per_theme_f1(labels: list[str], themes: list[int]) -> dict[str, float]:
    """F1 of each label against the learned theme matched to it (0 when none is)."""
    from scipy.optimize import linear_sum_assignment

    names = sorted(set(labels))
    learned = sorted({t for t in themes if t >= 0})
    table = np.zeros((len(names), len(learned)))
    for label, theme in zip(labels, themes, strict=True):
        if theme >= 0:
            table[names.index(label), learned.index(theme)] += 1
    rows, cols = linear_sum_assignment(table, maximize=True)
    f1 = dict.fromkeys(names, 0.0)
    label_sizes = Counter(labels)
    theme_sizes = Counter(themes)
    for r, c in zip(rows, cols, strict=True):
        hits = table[r, c]
        if hits:
            precision = hits / theme_sizes[learned[c]]
            recall = hits / label_sizes[names[r]]
            f1[names[r]] = 2 * precision * recall / (precision + recall)
    return f1


def nearest_neighbour_agreement(texts: list[str], labels: list[str], language: Language) -> float:
    """Share of comments whose most similar other comment (TF-IDF cosine) has their label."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    x = normalize(
        TfidfVectorizer(analyzer=lambda t: _terms(t, language), sublinear_tf=True).fit_transform(
            texts
        )
    )
    similarity = (x @ x.T).toarray()
    np.fill_diagonal(similarity, -1.0)
    nearest = similarity.argmax(axis=1)
    return float(np.mean([labels[j] == labels[i] for i, j in enumerate(nearest)]))


def quality(seed: int, guided: bool = True) -> dict[str, dict[str, object]]:
    from sklearn.metrics import (
        adjusted_mutual_info_score,
        adjusted_rand_score,
        normalized_mutual_info_score,
    )

    out: dict[str, dict[str, object]] = {}
    for language in LANGUAGES:
        texts, labels = labelled(language)
        model, memberships = learn_themes(texts, language, seed=seed, guided=guided)
        themes = dominant(memberships)
        f1 = per_theme_f1(labels, themes)
        out[language] = {
            "comments": len(texts),
            "labels": len(set(labels)),
            "themes": len(model.themes),
            "nmi": normalized_mutual_info_score(labels, themes),
            "ari": adjusted_rand_score(labels, themes),
            "ami": adjusted_mutual_info_score(labels, themes),
            "f1": f1,
            "macro_f1": float(np.mean(list(f1.values()))),
            "placed": float(np.mean([bool(m) for m in memberships])),
            "several": float(np.mean([len(m) > 1 for m in memberships])),
            "nn_agreement": nearest_neighbour_agreement(texts, labels, language),
            "keyphrases": [t.label for t in model.themes],
            "topics": len(model.topics),
            "with_topic": float(
                np.mean(
                    [
                        any(is_topic_term(t) for t in counts)
                        for counts in _term_counts(texts, language, model._phrases())
                    ]
                )
            ),
        }
    return out


SPLIT = re.compile("[,.;!?\u3001\u3002\uff01\uff1f]+")  # ASCII and full-width stops


def generate(n: int, seed: int) -> list[str]:
    """n comments, 80 % English: one to three fragments of labelled comments, any themes."""
    rng = random.Random(seed)
    fragments: dict[Language, list[str]] = {}
    for language in LANGUAGES:
        texts, _ = labelled(language)
        fragments[language] = [f.strip() for t in texts for f in SPLIT.split(t) if f.strip()]
    out = []
    for _ in range(n):
        pick: Language = "en" if rng.random() < 0.8 else "ja"
        parts = rng.sample(fragments[pick], rng.randint(1, 3))
        out.append((", " if pick == "en" else "、").join(parts))
    return out


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def phase(name: str, n: int, seed: int) -> dict[str, object]:
    """One timed part, run in this (child) process."""
    texts = generate(n, seed)
    before = rss_kib()
    started = time.perf_counter()
    cpu_started = time.process_time()
    languages = [detect_language(t) for t in texts]
    groups: dict[Language, list[str]] = {"en": [], "ja": []}
    for text, language in zip(texts, languages, strict=True):
        groups[language].append(text)
    result: dict[str, object] = {"comments": {k: len(v) for k, v in groups.items()}}
    if name in ("themes", "unguided"):
        models: dict[Language, ThemeModel] = {}
        learned_memberships = {}
        for language, group in groups.items():
            model, memberships = learn_themes(group, language, seed=seed, guided=name == "themes")
            models[language] = model
            learned_memberships[language] = memberships
        placed = sum(1 for ms in learned_memberships.values() for m in ms if m)
        learned = time.perf_counter()
        result["learn_and_place_cpu_s"] = time.process_time() - cpu_started
        cpu_learned = time.process_time()
        stored = {
            k: ThemeModel.from_dict(json.loads(json.dumps(m.to_dict()))) for k, m in models.items()
        }
        again = {k: stored[k].assign(group) for k, group in groups.items()}
        assigned = time.perf_counter()
        result["assign_again_cpu_s"] = time.process_time() - cpu_learned
        result |= {
            "learn_and_place_s": learned - started,
            "assign_again_s": assigned - learned,
            "themes": {k: len(m.themes) for k, m in models.items()},
            "placed": placed / n,
            "model_json_kib": {k: len(json.dumps(m.to_dict())) // 1024 for k, m in models.items()},
            "same_as_learn": again == learned_memberships,
        }
    else:
        from functools import partial

        from sklearn.feature_extraction.text import TfidfVectorizer

        for language, group in groups.items():
            TfidfVectorizer(
                analyzer=partial(_terms, language=language), min_df=2, sublinear_tf=True
            ).fit_transform(group)
        result["tfidf_s"] = time.perf_counter() - started
        result["tfidf_cpu_s"] = time.process_time() - cpu_started
    result["rss_before_mib"] = before / 1024
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def child(name: str, n: int, seed: int) -> dict[str, Any]:
    completed = subprocess.run(  # noqa: S603
        [sys.executable, __file__, "--phase", name, "--comments", str(n), "--seed", str(seed)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--comments", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--phase", choices=["themes", "unguided", "baseline"], help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, args.comments, args.seed)))
        return 0

    print("## Quality on the labelled sets (dominant theme; no theme = its own group)")
    for guided, language, q in [
        (g, language, q) for g in (True, False) for language, q in quality(args.seed, g).items()
    ]:
        f1 = q["f1"]
        assert isinstance(f1, dict)
        how = (
            f"guided ({q['topics']} lexicon topics, found in {q['with_topic']:.0%} of comments)"
            if guided
            else "unguided"
        )
        print(
            f"{language} {how}: {q['comments']} comments, {q['labels']} labels -> "
            f"{q['themes']} themes; "
            f"NMI {q['nmi']:.3f}  ARI {q['ari']:.3f}  AMI {q['ami']:.3f}  "
            f"macro F1 {q['macro_f1']:.3f}  "
            f"placed {q['placed']:.0%}  in several {q['several']:.0%}  "
            f"nearest-neighbour label agreement {q['nn_agreement']:.3f}"
        )
        print("   F1: " + ", ".join(f"{k} {v:.2f}" for k, v in f1.items()))
        print("   themes: " + " | ".join(str(k) for k in q["keyphrases"]))  # type: ignore[attr-defined]
    if args.skip_speed:
        return 0

    print(f"\n## Speed on {args.comments:,} comments (each part in its own process)")
    load_before = os.getloadavg()
    themes = child("themes", args.comments, args.seed)
    unguided = child("unguided", args.comments, args.seed)
    baseline = child("baseline", args.comments, args.seed)
    load_after = os.getloadavg()
    total = float(themes["learn_and_place_s"])
    tfidf = float(baseline["tfidf_s"])
    print(f"comments per language: {themes['comments']}; themes: {themes['themes']}")
    print(
        f"themes (detect + learn on a 20k sample + place all): {total:.1f} s "
        f"({themes['learn_and_place_cpu_s']:.1f} s of CPU), "
        f"peak RSS {themes['peak_rss_mib']:.0f} MiB (RSS with the texts loaded "
        f"{themes['rss_before_mib']:.0f} MiB); placed {themes['placed']:.0%}"
    )
    print(
        f"assign all again with the stored models (daily job): {themes['assign_again_s']:.1f} s "
        f"({themes['assign_again_cpu_s']:.1f} s of CPU)"
    )
    print(
        f"unguided themes: {float(unguided['learn_and_place_s']):.1f} s "
        f"({unguided['learn_and_place_cpu_s']:.1f} s of CPU), "
        f"peak RSS {unguided['peak_rss_mib']:.0f} MiB; assign again "
        f"{unguided['assign_again_s']:.1f} s ({unguided['assign_again_cpu_s']:.1f} s of CPU); "
        "guided / unguided CPU "
        f"{float(themes['learn_and_place_cpu_s']) / float(unguided['learn_and_place_cpu_s']):.2f}"
    )
    print(f"model JSON size (KiB): {themes['model_json_kib']}")
    print(
        f"baseline TF-IDF only (same tokeniser): {tfidf:.1f} s "
        f"({baseline['tfidf_cpu_s']:.1f} s of CPU), "
        f"peak RSS {baseline['peak_rss_mib']:.0f} MiB"
    )
    cpu_ratio = float(themes["learn_and_place_cpu_s"]) / float(baseline["tfidf_cpu_s"])
    print(f"ratio themes / TF-IDF: {total / tfidf:.2f} wall clock, {cpu_ratio:.2f} CPU")
    before = " ".join(f"{x:.2f}" for x in load_before)
    after = " ".join(f"{x:.2f}" for x in load_after)
    print(f"load average (1, 5, 15 min) before: {before}; after: {after}")
    return 0 if themes["same_as_learn"] and unguided["same_as_learn"] else 1


if __name__ == "__main__":
    sys.exit(main())
