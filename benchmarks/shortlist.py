"""zero_shot.use=shortlist on a taxonomy of 57 labels: how often the shortlist keeps the
gold labels, and what it does to the local LLM's labels.

    python benchmarks/shortlist.py                     # recall only (no LLM; about 1 min)
    python benchmarks/shortlist.py --llm-rows 60       # and the local Qwen with and without

No labeled set with 50+ labels ships here, so the taxonomy is GoEmotions-Ekman's seven
labels plus 50 topic labels that never apply to the gold (sports, cooking, ...): the
LLM must find the emotions among 57 offers. Rows are the dev split cut with seed 0 as
benchmarks/trained_models.py cuts it: top_k is chosen on the choice part (the smallest
keeping at least 95% of gold labels) and everything is reported on the report part.
Macro-F1 is over the seven real labels, with a 95% bootstrap interval.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.trained_models import interval, macro_f1  # noqa: E402

TOP_KS = (3, 5, 8, 12)
TOPICS = (
    "sports", "cooking", "finance", "politics", "music", "movies", "television", "gaming",
    "technology", "science", "health", "fitness", "travel", "weather", "cars", "fashion",
    "pets", "gardening", "education", "jobs", "real_estate", "law", "religion", "history",
    "art", "books", "photography", "parenting", "relationships", "shopping", "food_delivery",
    "cryptocurrency", "stock_market", "space", "military", "crime", "medicine", "software",
    "hardware", "social_media", "news_media", "celebrities", "anime", "comics", "board_games",
    "camping", "fishing", "aviation", "trains", "architecture",
)  # fmt: skip


def wide_taxonomy(folder: Path) -> str:
    """GoEmotions-Ekman plus the topics, written as taxonomy=goemotions_ekman_wide."""
    base = yaml.safe_load((REPO / "conf/taxonomy/goemotions_ekman.yaml").read_text())
    base["name"] = "goemotions_ekman_wide"
    labels = dict(base["labels"])
    for topic in TOPICS:
        words = topic.replace("_", " ")
        labels[topic] = {"description": f"The comment is about {words}."}
    base["labels"] = labels
    (folder / "taxonomy").mkdir(parents=True, exist_ok=True)
    (folder / "taxonomy" / "goemotions_ekman_wide.yaml").write_text(yaml.safe_dump(base))
    return f"hydra.searchpath=[file://{folder}]"


def split() -> tuple[list[dict[str, object]], list[int], list[int]]:
    rows = [
        json.loads(line)
        for line in (REPO / "examples/goemotions_ekman/dev.jsonl").read_text().splitlines()
    ]
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    choose = sorted(order[int(len(order) * 0.6) : int(len(order) * 0.8)])
    report = sorted(order[int(len(order) * 0.8) :])
    return rows, choose, report


def recall(rows: list[dict[str, object]], shortlists: list[list[str]]) -> float:
    """The share of gold labels the shortlists keep (neutral, the none label, is always
    kept, so it is not counted)."""
    kept = total = 0
    for row, shortlist in zip(rows, shortlists, strict=True):
        gold = [x for x in row["labels"] if x != "neutral"]  # type: ignore[attr-defined]
        total += len(gold)
        kept += sum(label in shortlist for label in gold)
    return kept / total


def classify(rows_file: Path, out: Path, searchpath: str, cache: Path, *extra: str) -> float:
    command = [
        sys.executable, "-m", "framework", "classify", "+experiment=goemotions_ekman",
        searchpath, "taxonomy=goemotions_ekman_wide", f"input={rows_file}", f"output={out}",
        "sample.size=null", f"cache.path={cache}", f"hydra.run.dir={out.parent / out.stem}",
        *extra,
    ]  # fmt: skip
    started = time.monotonic()
    subprocess.run(command, check=True, cwd=REPO)
    return time.monotonic() - started


def main() -> None:
    from framework.config.load import compose, load_run_config
    from framework.config.schema import EmbeddingSettings
    from framework.labels.label_set import LabelSet
    from framework.learning.zero_shot import LabelPrototypes, label_texts
    from framework.providers.embeddings import Embedder

    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--cache", type=Path, default=REPO / ".labelwise" / "bench-cache")
    cli.add_argument("--out", type=Path, default=REPO / ".labelwise" / "bench-shortlist")
    cli.add_argument("--llm-rows", type=int, default=0)
    args = cli.parse_args()
    searchpath = wide_taxonomy(args.out)
    config = load_run_config(compose([searchpath, "taxonomy=goemotions_ekman_wide"]))
    labels = LabelSet.build(config.taxonomy, config.validation)
    settings = EmbeddingSettings(kind="local", model="multilingual-e5-small")
    embedder = Embedder(settings, cache_path=args.cache / "responses.sqlite", cache_mode="on")
    rows, choose, report = split()
    try:
        groups = label_texts(labels)
        prototypes = LabelPrototypes.build(
            labels, embedder.embed_now([t for group in groups.values() for t in group])
        )
        vectors = embedder.embed_now([str(row["text"]) for row in rows])
    finally:
        embedder.close()
    print(f"{len(labels.ids)} labels; gold labels kept by the shortlist:")
    print("| top_k | choice part | report part |")
    print("|---|---|---|")
    chosen = TOP_KS[-1]
    for k in TOP_KS:
        lists = [prototypes.shortlist(vectors[n], k) for n in range(len(rows))]
        on_choice = recall([rows[n] for n in choose], [lists[n] for n in choose])
        on_report = recall([rows[n] for n in report], [lists[n] for n in report])
        print(f"| {k} | {on_choice:.3f} | {on_report:.3f} |")
        if on_choice >= 0.95 and chosen == TOP_KS[-1]:
            chosen = k
    print(f"top_k chosen on the choice part: {chosen}")
    if args.llm_rows:
        llm_table(args, rows, report[: args.llm_rows], chosen, searchpath, labels.ids)


def llm_table(  # noqa: PLR0917 (a script's one call)
    args: argparse.Namespace,
    rows: list[dict[str, object]],
    picked: list[int],
    chosen: int,
    searchpath: str,
    ids: tuple[str, ...],
) -> None:
    """The local Qwen on the picked rows, offered every label and the shortlist."""
    rows_file = args.out / "rows.jsonl"
    rows_file.write_text("".join(json.dumps(rows[n]) + "\n" for n in picked))
    seven = [label for label in ids if label not in TOPICS]
    gold = np.array([[int(x in rows[n]["labels"]) for x in seven] for n in picked])  # type: ignore[operator]
    cache = args.out / "responses.sqlite"
    runs = {
        "all 57 labels offered": [],
        f"shortlist top_k={chosen}": [
            "embeddings=local",
            "zero_shot.use=shortlist",
            f"zero_shot.top_k={chosen}",
        ],
    }
    print(f"\nlocal Qwen 1.5B on {len(picked)} report rows (macro-F1 over the seven labels)")
    print("| offer | macro-F1 [95% CI] | rows given a topic label | seconds |")
    print("|---|---|---|---|")
    for name, extra in runs.items():
        out = args.out / f"{name.split()[0]}.jsonl"
        seconds = classify(rows_file, out, searchpath, cache, *extra)
        got = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
        answered = [got[str(rows[n]["id"])] for n in picked]
        predicted = np.array([[int(x in r["labels"]) for x in seven] for r in answered])
        topical = sum(any(x in TOPICS for x in r["labels"]) for r in answered)
        low, high = interval(gold, predicted)
        print(
            f"| {name} | {macro_f1(gold, predicted):.3f} [{low:.3f}, {high:.3f}] | "
            f"{topical} | {seconds:.0f} |"
        )


if __name__ == "__main__":
    main()
