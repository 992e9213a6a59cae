"""The examples pool's index: its labeled rows, vectorised for likeness, kept in a file.

    index = build_index(pool_rows, pool_sha256=...)     # framework.learning.prepare, once
    index.save(index_path(config)); index = load_index(config)
    index.likeness(item, vector)   # cosine to every pool row, the item's own rows at -1

Likeness is the cosine of word TF-IDF (1-2-grams, sublinear tf; scikit-learn), or with
`examples.likeness=embeddings` of the embedding model's vectors. The index is a skops
file (framework.learning.artifacts: loading it runs no code), named after the pool's
sha256 (and the embedding model's identity) in the cache folder; an index of another
pool than examples.pool is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framework.config.schema import ExamplesSettings, RunConfig
from framework.digests import file_sha256
from framework.errors import ConfigError
from framework.learning.artifacts import SUFFIX, load_artifact, save_artifact
from framework.learning.trained import text_digest
from framework.providers.embeddings import embedding_digest
from framework.records import Item
from framework.resources import cache_dir

__all__ = [
    "FORMAT",
    "ExampleIndex",
    "build_index",
    "by_embeddings",
    "index_path",
    "legacy_indexes",
    "load_index",
    "pool_sha256",
]

FORMAT = "labelwise-examples/2"  # /1 was a joblib pickle, never loaded now
# The names beyond scikit-learn's and numpy's an index's file may hold: labelwise's own.
TRUSTED = ("framework.learning.tfidf.CompactTfidf",)


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
    return cache_dir() / "models" / f"{name}-{FORMAT[-1]}{SUFFIX}"


def legacy_indexes(config: RunConfig) -> list[Path]:
    """The pickled indexes an earlier labelwise built of the run's pool in the cache
    folder (never loaded: the run builds its index anew)."""
    return sorted((cache_dir() / "models").glob(f"examples-{pool_sha256(config)[:16]}*.joblib"))


def load_index(config: RunConfig) -> ExampleIndex:
    """The run's examples index, built before by the runner, if it is of examples.pool."""
    path = index_path(config)
    index = ExampleIndex.load(path)
    if index.pool_sha256 != pool_sha256(config):
        raise ConfigError(
            f"examples.pool: {path} is the index of another pool (sha256 "
            f"{index.pool_sha256[:16]}...); delete it and run again to build a new one"
        )
    return index


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
        rows = {"ids": self.ids, "texts": self.texts, "labels": self.labels}
        about = json.dumps({"pool_sha256": self.pool_sha256, "rows": rows})
        save_artifact(
            path, FORMAT, {"about": about, "vectorizer": self.vectorizer, "vectors": self.vectors}
        )

    @classmethod
    def load(cls, path: Path) -> ExampleIndex:
        import scipy.sparse

        return load_artifact(
            path,
            FORMAT,
            [*TRUSTED, scipy.sparse.csr_matrix],
            _index_from,
            key="examples.pool",
            what="examples index",
            missing=f"its index {path} is missing; `labelwise classify` and `labelwise plan` "
            "build it on first use; from Python, call "
            "framework.learning.prepare.prepare_run(config) before Classifier(config)",
            remake="build a new one",
            legacy="delete it: labelwise builds the index anew from examples.pool",
        )


def _index_from(state: dict[str, Any]) -> ExampleIndex:
    """An ExampleIndex from a file's state, checked to be one (else TypeError/ValueError)."""
    from framework.learning.tfidf import CompactTfidf

    about = json.loads(state["about"])
    rows, vectorizer, vectors = about["rows"], state["vectorizer"], state["vectors"]
    ids = tuple(str(i) for i in rows["ids"])
    texts = tuple(str(t) for t in rows["texts"])
    labels = tuple(tuple(str(label) for label in given) for given in rows["labels"])
    if not (len(ids) == len(texts) == len(labels) == vectors.shape[0]):
        raise ValueError("rows")
    if vectorizer is not None and not isinstance(vectorizer, CompactTfidf):
        raise TypeError("vectorizer")
    return ExampleIndex(
        pool_sha256=str(about["pool_sha256"]),
        ids=ids,
        texts=texts,
        labels=labels,
        digests=tuple(text_digest(t) for t in texts),
        vectorizer=vectorizer,
        vectors=vectors,
    )


def build_index(
    rows: Iterable[tuple[str, str, Sequence[str]]],
    *,
    pool_sha256: str,
    embed: Callable[[Sequence[str]], Any] | None = None,
) -> ExampleIndex:
    """The pool's (id, text, labels) rows, vectorised for likeness: by word TF-IDF, or
    by `embed` (texts -> rows of unit length) when given."""
    from framework.learning.tfidf import CompactTfidf

    ids, texts, labels = [], [], []
    for row_id, text, row_labels in rows:
        ids.append(row_id)
        texts.append(text)
        labels.append(tuple(row_labels))
    if not texts:
        raise ConfigError("examples.pool: no row has gold labels; examples show labeled rows")
    if not any(text.strip() for text in texts):
        raise ConfigError(
            f"examples.pool: the texts of all {len(texts)} labeled rows are empty; examples "
            "show labeled texts"
        )
    if embed is not None:
        vectorizer, vectors = None, embed(texts)
    else:
        vectorizer = CompactTfidf(ngram_range=(1, 2), sublinear_tf=True)
        try:
            vectors = vectorizer.fit_transform(texts)
        except ValueError as error:  # scikit-learn's words for texts without a word
            if "vocabulary" not in str(error):
                raise
            raise ConfigError(
                "examples.pool: its texts hold no words to compare a text with; give "
                "labeled texts with words, or examples.selection=fixed"
            ) from None
    return ExampleIndex(
        pool_sha256=pool_sha256,
        ids=tuple(ids),
        texts=tuple(texts),
        labels=tuple(labels),
        digests=tuple(text_digest(t) for t in texts),
        vectorizer=vectorizer,
        vectors=vectors,
    )


def by_embeddings(settings: ExamplesSettings) -> bool:
    """Whether the run's selection ranks the pool by embeddings (fixed ranks nothing)."""
    return settings.likeness == "embeddings" and settings.selection not in ("none", "fixed")
