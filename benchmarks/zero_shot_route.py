"""The zero-shot scorer as a certified route tier, on GoEmotions-Ekman's dev split.

    python benchmarks/zero_shot_route.py --cache /tmp/h38b/dev-e5.npz        # 40 reps
    python benchmarks/zero_shot_route.py --cache /tmp/h38b/dev-e5.npz --recall 0.8

--cache FILE: the dev split's multilingual-e5-small vectors (embeddings=local) and the
taxonomy's prototypes, kept in one .npz file; made on the first run (about 3 minutes
on 2 cores), read on later ones. The shipped dev split only.

Seed 0 cuts the split once into a fit part (1,400 rows: the trained model, word TF-IDF
+ logistic regression, as benchmarks/routing.py fits it) and the rest; each seeded
repetition r reshuffles the rest into a calibration part (2,600 rows: the cosine scale
is fit on its texts and the tiers certified on it) and a report part (1,426 rows,
never seen). Reported per route ([zero_shot, human] and [trained, zero_shot, human])
and per cosine scale (cdf: each label's empirical CDF over the calibration texts;
softmax: a softmax over labels at temperature 0.01): the share of report rows the
machine tiers settle entirely, the share the zero-shot tier settles, and, for each
label, the realised precision of the machine's "present" decisions against the floor
(the share of repetitions where every label with 10 or more such decisions meets it).
Means over the repetitions with the 2.5-97.5% range in brackets.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEV = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"


def load() -> tuple[list[str], np.ndarray, Any]:
    from framework.config.load import compose, load_run_config
    from framework.labels.label_set import LabelSet

    config = load_run_config(compose(["taxonomy=goemotions_ekman"]))
    labels = LabelSet.build(config.taxonomy, config.validation)
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    gold = np.array([[label in row["labels"] for label in labels.ids] for row in rows])
    return [row["text"] for row in rows], gold, labels


def vectors(texts: list[str], labels: Any, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """The texts' vectors and the label texts' (in label_texts order), from --cache."""
    from framework.learning.zero_shot import label_texts

    if cache.exists():
        saved = np.load(cache)
        return saved["texts"], saved["labels"]
    from framework.config.schema import EmbeddingSettings
    from framework.providers.embeddings import Embedder

    settings = EmbeddingSettings(kind="local", model="multilingual-e5-small")
    embedder = Embedder(settings, cache_path=cache.with_suffix(".sqlite"), cache_mode="on")
    try:
        label_vectors = embedder.embed_now([t for g in label_texts(labels).values() for t in g])
        text_vectors = embedder.embed_now(texts)
    finally:
        embedder.close()
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, texts=text_vectors, labels=label_vectors)
    return np.asarray(text_vectors), np.asarray(label_vectors)


if __name__ == "__main__" and sys.argv[1:2] == ["--embed-only"]:
    texts, gold, labels = load()
    vectors(texts, labels, Path(sys.argv[2]))
    sys.exit(0)
