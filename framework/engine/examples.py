"""Labeled rows shown in the prompt: picked for each text from the examples pool.

    index = build_index(pool_rows, pool_sha256=...)     # framework.runner.examples, once
    picker = ExamplePicker(index, config.examples, label_set)
    picker.pick(item, vector)     # the pool's rows to show, best first (never the item's own)
    picker.preface(item, vector)  # the rendered block that goes ahead of the prompt

Likeness is the cosine of word TF-IDF (1-2-grams, sublinear tf; scikit-learn), or with
`examples.likeness=embeddings` of the embedding model's vectors (`vector`, the item's,
comes from framework.providers.embeddings; the pool's are in the index). The
selections are `fixed` (k rows drawn with a seed, the same for every text), `similar`
(the k most like the text), `per_label` (for each label the k most like it that have
it) and `mmr` (maximal marginal relevance: greedy, each next row the one most like the
text and least like those already picked, weighed by mmr_lambda). A pool row with the
item's id or the item's text (normalised) is never picked, so a run over the pool
itself never shows a row its own answer.

The index is a joblib artifact written by labelwise (a pickle: load only your own),
named after the pool's sha256 (and the embedding model's identity) in the cache folder;
its pool hash is in the run's identity and record, and the examples shown are in each
request, so in its cache key.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from framework.config.schema import ExamplesSettings, RunConfig
from framework.digests import file_sha256
from framework.engine.artifacts import load_artifact, save_artifact
from framework.engine.prompt import find_template, neutralise_delimiters
from framework.engine.trained import text_digest
from framework.errors import ConfigError
from framework.labels.label_set import LabelSet
from framework.providers.embeddings import embedding_digest
from framework.records import Item
from framework.resources import cache_dir

__all__ = [
    "FORMAT",
    "ExampleIndex",
    "ExamplePicker",
    "build_index",
    "by_embeddings",
    "examples_settings",
    "index_path",
    "pool_sha256",
]

FORMAT = "labelwise-examples/1"
_CANDIDATES = 64  # mmr weighs this many of the rows most like the text


def pool_sha256(config: RunConfig) -> str:
    pool = Path(config.examples.pool or "").expanduser()
    if not pool.is_file():
        raise ConfigError(
            f"examples.pool: {pool} is not a file; give the labeled rows (JSONL, CSV or "
            "Parquet with id, text and labels) the prompts show as examples"
        )
    return file_sha256(pool)


def index_path(config: RunConfig) -> Path:
    """Where the pool's index is kept: the cache folder, named by the pool's hash (and,
    when likeness is by embeddings, the embedding model's)."""
    name = f"examples-{pool_sha256(config)[:16]}"
    if by_embeddings(config.examples):
        name += f"-{embedding_digest(config.embeddings)}"
    return cache_dir() / "models" / f"{name}-{FORMAT[-1]}.joblib"


@dataclass
class ExampleIndex:
    pool_sha256: str
    ids: tuple[str, ...]
    texts: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    digests: tuple[str, ...]
    vectorizer: Any  # word TF-IDF, rows of unit length; None when by embeddings
    vectors: Any  # the pool's rows of unit length (sparse TF-IDF, or dense embeddings)

    @property
    def by_embeddings(self) -> bool:
        return self.vectorizer is None

    def likeness(self, item: Item, vector: Any = None) -> Any:
        """Cosine of the item (its words, or its embedding `vector`) to every pool row;
        the item's own rows at -1."""
        import numpy as np

        if self.by_embeddings:
            if vector is None:
                raise ValueError("an index by embeddings needs the item's vector")
            scores = np.asarray(self.vectors @ vector, dtype=float).ravel()
        else:
            query = self.vectorizer.transform([item.text])
            scores = (self.vectors @ query.T).toarray().ravel()
        digest = text_digest(item.text)
        own = np.fromiter(
            (i == item.id or d == digest for i, d in zip(self.ids, self.digests, strict=True)),
            dtype=bool,
            count=len(self.ids),
        )
        scores[own] = -1.0
        return scores

    def save(self, path: Path) -> None:
        save_artifact(path, FORMAT, "index", self)

    @classmethod
    def load(cls, path: Path) -> ExampleIndex:
        return load_artifact(
            path,
            FORMAT,
            "index",
            cls,
            key="examples.pool",
            what="examples index",
            missing=f"its index {path} is missing; `labelwise classify` and `labelwise plan` "
            "build it on first use; from Python, call "
            "framework.runner.prepare.prepare_run(config) before Classifier(config)",
            remake="build a new one",
        )


def build_index(
    rows: Iterable[tuple[str, str, Sequence[str]]],
    *,
    pool_sha256: str,
    embed: Callable[[Sequence[str]], Any] | None = None,
) -> ExampleIndex:
    """The pool's (id, text, labels) rows, vectorised for likeness: by word TF-IDF, or
    by `embed` (texts -> rows of unit length) when given."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    ids, texts, labels = [], [], []
    for row_id, text, row_labels in rows:
        ids.append(row_id)
        texts.append(text)
        labels.append(tuple(row_labels))
    if not texts:
        raise ConfigError("examples.pool: no row has gold labels; examples show labeled rows")
    if embed is not None:
        vectorizer, vectors = None, embed(texts)
    else:
        vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        vectors = vectorizer.fit_transform(texts)
    return ExampleIndex(
        pool_sha256=pool_sha256,
        ids=tuple(ids),
        texts=tuple(texts),
        labels=tuple(labels),
        digests=tuple(text_digest(t) for t in texts),
        vectorizer=vectorizer,
        vectors=vectors,
    )


class ExamplePicker:
    """Picks a text's examples and renders them as the block ahead of its prompt."""

    def __init__(self, index: ExampleIndex, settings: ExamplesSettings, labels: LabelSet) -> None:
        self.index = index
        self.settings = settings
        self.labels = labels  # the taxonomy's, and the key an answer names each by
        try:
            self.path = find_template(settings.template)
        except ConfigError as error:
            raise ConfigError(f"examples.template: {error}") from None
        env = ImmutableSandboxedEnvironment(
            undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
        )
        try:
            self.template = env.from_string(self.path.read_text(encoding="utf-8"))
        except Exception as error:
            raise ConfigError(f"examples.template: {self.path}: {error}") from None
        order = list(range(len(index.ids)))
        random.Random(settings.seed).shuffle(order)
        self.fixed_order = order

    @property
    def digest(self) -> str:
        """What decides the block for a text: the template, the settings, the pool."""
        what = {
            "template": hashlib.sha256(self.path.read_bytes()).hexdigest(),
            "settings": examples_settings(self.settings),
            "pool_sha256": self.index.pool_sha256,
        }
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()

    def pick(self, item: Item, vector: Any = None) -> list[int]:
        """Indices of the pool rows to show, best first (`vector`: the item's embedding,
        when likeness is by embeddings)."""
        settings, index = self.settings, self.index
        k = settings.k
        if settings.selection == "fixed":
            digest = text_digest(item.text)
            others = (
                n
                for n in self.fixed_order
                if index.ids[n] != item.id and index.digests[n] != digest
            )
            return list(islice(others, k))
        import numpy as np

        likeness = index.likeness(item, vector)
        ranked = [int(n) for n in np.argsort(-likeness, kind="stable") if likeness[n] >= 0]
        if settings.selection == "similar":
            return ranked[:k]
        if settings.selection == "per_label":
            picked: list[int] = []
            for label in self.labels.ids:
                having = [n for n in ranked if label in index.labels[n] and n not in picked]
                picked.extend(having[:k])
            return sorted(picked, key=lambda n: (-likeness[n], n))
        return self._mmr(ranked[:_CANDIDATES], likeness, k)

    def _mmr(self, candidates: list[int], likeness: Any, k: int) -> list[int]:
        """Greedy maximal marginal relevance: each next row the most like the text and the
        least like the rows already picked, weighed by mmr_lambda."""
        import numpy as np

        if not candidates:
            return []
        weight = self.settings.mmr_lambda
        rows = self.index.vectors[candidates]
        between = rows @ rows.T
        between = between.toarray() if hasattr(between, "toarray") else np.asarray(between)
        relevance = likeness[candidates]
        nearest = np.zeros(len(candidates))  # each candidate's likeness to the rows picked
        left = np.ones(len(candidates), dtype=bool)
        picked = []
        for _ in range(min(k, len(candidates))):
            score = np.where(left, weight * relevance - (1 - weight) * nearest, -np.inf)
            best = int(np.argmax(score))  # the first of equals: the one more like the text
            picked.append(best)
            left[best] = False
            nearest = np.maximum(nearest, between[best])
        return [candidates[c] for c in picked]

    def preface(self, item: Item, vector: Any = None) -> str | None:
        """The examples block for the item's prompt (None when the pool has none to show)."""
        chosen = self.pick(item, vector)
        if not chosen:
            return None
        cut, known = self.settings.max_chars, set(self.labels.ids)
        examples = [
            {
                "text": neutralise_delimiters(_cut(self.index.texts[n], cut)),
                "labels": [
                    self.labels.key(label) for label in self.index.labels[n] if label in known
                ],
            }
            for n in chosen
        ]
        return str(self.template.render(examples=examples)).strip()


def by_embeddings(settings: ExamplesSettings) -> bool:
    """Whether the run's selection ranks the pool by embeddings (fixed ranks nothing)."""
    return settings.likeness == "embeddings" and settings.selection not in ("none", "fixed")


def examples_settings(settings: ExamplesSettings) -> dict[str, Any]:
    """The settings that decide the examples shown, as the run's identity keeps them:
    likeness only when it is not the default, so runs from before it keep their identity."""
    exclude = {"pool"} | ({"likeness"} if settings.likeness == "tfidf" else set())
    return settings.model_dump(exclude=exclude)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
