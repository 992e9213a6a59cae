"""The zero-shot scorer (zero_shot.use=alone) on the shipped labeled rows: no labeled
row is learnt from, no LLM is asked.

    python benchmarks/zero_shot.py

On GoEmotions-Ekman's dev split (cut with seed 0 as benchmarks/trained_models.py cuts
it) `zero_shot.margin` is chosen on the choice part (20%) and reported on the report
part (20%), and on the whole split; on the 20 news headlines of examples/news with the
margin chosen on GoEmotions. Macro-F1 with a 95% bootstrap interval. The vectors are
multilingual-e5-small's (embeddings=local), read from labelwise's embedding cache.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.trained_models import interval, macro_f1  # noqa: E402

MARGINS = (0.0, 0.005, 0.01, 0.02)


def labeled(path: Path, taxonomy: str) -> tuple[list[str], np.ndarray, object]:
    from framework.config.load import compose, load_run_config
    from framework.labels.label_set import LabelSet

    config = load_run_config(compose([f"taxonomy={taxonomy}"]))
    labels = LabelSet.build(config.taxonomy, config.validation)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    y = np.array([[int(label in row["labels"]) for label in labels.ids] for row in rows])
    return [row["text"] for row in rows], y, labels


def predicted(texts: list[str], labels: object, margin: float, embed: object) -> np.ndarray:
    from framework.learning.zero_shot import LabelPrototypes, label_texts

    groups = label_texts(labels)  # type: ignore[arg-type]
    prototypes = LabelPrototypes.build(
        labels,  # type: ignore[arg-type]
        embed([text for group in groups.values() for text in group]),  # type: ignore[operator]
    )
    vectors = embed(texts)  # type: ignore[operator]
    ids = prototypes.ids
    return np.array(
        [[int(label in prototypes.labels(v, margin)) for label in ids] for v in vectors]
    )


def main() -> None:
    from framework.config.schema import EmbeddingSettings
    from framework.providers.embeddings import Embedder

    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--cache", type=Path, default=REPO / ".labelwise" / "bench-cache")
    args = cli.parse_args()
    settings = EmbeddingSettings(kind="local", model="multilingual-e5-small")
    embedder = Embedder(settings, cache_path=args.cache / "responses.sqlite", cache_mode="on")
    try:
        texts, y, labels = labeled(
            REPO / "examples" / "goemotions_ekman" / "dev.jsonl", "goemotions_ekman"
        )
        order = list(range(len(texts)))
        random.Random(0).shuffle(order)
        choose = np.array(sorted(order[int(len(order) * 0.6) : int(len(order) * 0.8)]))
        report = np.array(sorted(order[int(len(order) * 0.8) :]))
        print("| margin | GoEmotions choice part | report part [95% CI] | whole dev split |")
        print("|---|---|---|---|")
        best = (-1.0, 0.0)
        for margin in MARGINS:
            got = predicted(texts, labels, margin, embedder.embed_now)
            on_choice = macro_f1(y[choose], got[choose])
            low, high = interval(y[report], got[report])
            whole = macro_f1(y, got)
            print(
                f"| {margin} | {on_choice:.3f} | {macro_f1(y[report], got[report]):.3f} "
                f"[{low:.3f}, {high:.3f}] | {whole:.3f} |"
            )
            best = max(best, (on_choice, margin))
        news_texts, news_y, news_labels = labeled(
            REPO / "examples" / "news" / "items.jsonl", "news"
        )
        got = predicted(news_texts, news_labels, best[1], embedder.embed_now)
        low, high = interval(news_y, got)
        print(
            f"\nnews example ({len(news_texts)} rows), margin {best[1]} (chosen on GoEmotions): "
            f"macro-F1 {macro_f1(news_y, got):.3f} [{low:.3f}, {high:.3f}]"
        )
    finally:
        embedder.close()


if __name__ == "__main__":
    main()
