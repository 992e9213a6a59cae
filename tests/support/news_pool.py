"""A made-up pool of news rows (topics named by plain cue words), so a fit takes
milliseconds and which rows are alike is plain to see; the overrides that learn from it.
Used by the trained model's, the cascade's, distillation's, the examples', the
embeddings' and tune's tests."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from framework.config.load import compose, load_run_config
from framework.config.schema import TrainedModelSettings
from framework.labels.label_set import LabelSet
from framework.learning.trained import TrainedModel, fit_model
from framework.testing import StubServer
from tests.support import write_jsonl

CUES = {
    "space": ["rocket", "orbit", "astronaut", "telescope", "moon"],
    "science": ["researchers", "study", "genome", "laboratory", "discovery"],
    "technology": ["software", "chip", "startup", "smartphone", "algorithm"],
    "climate": ["emissions", "warming", "drought", "carbon", "heatwave"],
    "none": ["football", "election", "bakery", "concert", "festival"],
}
FILLER = ["today", "report", "new", "week", "city", "people", "big", "after", "first", "says"]
LABELS = tuple(CUES)


def pool_rows(count: int, seed: int = 0) -> list[dict[str, object]]:
    """Rows of one or two topics, each named by two of its cue words among filler."""
    draw = random.Random(seed)
    rows = []
    for n in range(count):
        topics = draw.sample(LABELS[:4], draw.choice([1, 1, 2])) if n % 5 else ["none"]
        words = [w for t in topics for w in draw.sample(CUES[t], 2)] + draw.sample(FILLER, 4)
        draw.shuffle(words)
        rows.append({"id": f"p{n}", "text": " ".join(words), "labels": sorted(topics)})
    return rows


def text_of(request: dict[str, Any]) -> str:
    """The text a stub request asks about (the default prompt's <text> block)."""
    prompt = request["messages"][-1]["content"]
    return str(prompt.split("<text>\n", 1)[1].split("\n</text>", 1)[0])


def topics_of(text: str) -> list[str]:
    """The topics whose cue words the text has (what a teacher that knows them answers)."""
    words = set(text.split())
    found = sorted(label for label, cues in CUES.items() if label != "none" and words & set(cues))
    return found or ["none"]


def news_input(tmp_path: Path) -> Path:
    """30 rows of the pool's kind, ids apart from the pool's, as items.jsonl."""
    rows = pool_rows(30, seed=7)
    for row in rows:
        row["id"] = f"in-{row['id']}"
    return write_jsonl(tmp_path / "items.jsonl", rows)


def fitted(rows: list[dict[str, object]], folds: int = 5) -> TrainedModel:
    triples = [(str(r["id"]), str(r["text"]), list(r["labels"])) for r in rows]  # type: ignore[call-overload]
    return fit_model(triples, LABELS, TrainedModelSettings(folds=folds), pool_sha256="0" * 64)


def news_label_set() -> LabelSet:
    """The bundled news taxonomy's LabelSet (the pool's labels)."""
    config = load_run_config(compose(["taxonomy=news"]))
    return LabelSet.build(config.taxonomy, config.validation)


def trained_args(pool: Path, *extra: str) -> list[str]:
    return ["taxonomy=news", "validation=lenient", f"trained.pool={pool}", *extra]


def embedding_args(stub: StubServer, pool: Path, *extra: str) -> list[str]:
    """Examples by embedding likeness and a trained model on words and vectors, the
    embeddings from the stub's /v1/embeddings."""
    return [
        "taxonomy=news",
        "validation=lenient",
        "embeddings=openai_compatible",
        f"embeddings.api_base={stub.url}",
        "embeddings.model=stub-embed",
        "examples=similar",
        "examples.k=2",
        "examples.likeness=embeddings",
        f"examples.pool={pool}",
        "trained.use=ensemble",
        "trained.features=both",
        f"trained.pool={pool}",
        *extra,
    ]


# A routed run on the pool (tests/learning/test_route.py, test_route_estimate.py,
# tests/runner/test_routed_runs.py).
def route_args(pool: Path, *extra: str) -> list[str]:
    return trained_args(
        pool,
        "trained.use=ensemble",
        "route.tiers=[trained,llm,human]",
        "quality.precision=0.8",
        *extra,
    )


def mislabeled(count: int) -> list[dict[str, object]]:
    """The pool with every sixth row's labels wrong, so the model is right only mostly."""
    rows = pool_rows(count)
    topics = ["space", "science", "technology", "climate"]
    for n, row in enumerate(rows):
        if n % 6 == 1:
            row["labels"] = [topics[n % 4]]
    return rows


def noisy(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    """Every fourth row without a cue word, so the model is unsure of it."""
    for n, row in enumerate(rows):
        if n % 4 == 0:
            row["text"] = f"quokka marmalade xylophone {n}"
    return rows
