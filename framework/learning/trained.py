"""A classifier trained on labeled rows, and its probabilities fused with the LLM's answer.

    model = fit_model(pool_rows, labels, config.trained, pool_sha256=...)  # or:
    model = load_model(config, labels)   # fit before; refused if of other labels or pool
    model.probabilities(item, vector)  # {label: p}; a row of the pool gets its fold's model
    fuse(model_p, llm_p, weight)   # weight * model + (1 - weight) * llm, per label

scikit-learn: TF-IDF of word 1-2-grams and character 2-5-grams (sublinear tf), one
logistic regression per label (one-vs-rest, balanced class weights). With
`trained.features=embeddings` the features are the embedding model's vectors instead,
with `both` the two side by side; `vector` is then the item's embedding (from
framework.providers.embeddings) and the model's inputs are (text, vector) pairs. Measured on the
GoEmotions-Ekman dev split (benchmarks/ensemble.py), this ten-line baseline beats a
1.5B local LLM alone by 0.12 macro-F1; fused with it, it gains about 0.01 more; with
all-MiniLM-L6-v2's vectors beside the TF-IDF (`both`), 0.07 more on its own
(benchmarks/embeddings.py).

Cross-fitting: the pool is cut into `folds` by a hash of each row's text; a model is fit
without each fold, and a row of the pool (found by its id or by its text) is scored by
the model that never saw it. Anything else is scored by the model fit on the whole
pool. So a run over the pool itself (an evaluation, a calibration) never reads a
row's own gold.

The model is kept in a skops file (framework.learning.trained_file: loading it runs no
code), named after the pool's sha256 and the settings, so a changed pool or setting
fits a new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Where a model's file is kept and how it is read (FORMAT and artifact_path named here
# too, for the modules that import them from here).
from framework.config.schema import RunConfig, TrainedModelSettings
from framework.errors import ConfigError
from framework.learning.ensemble import (
    best_cuts,
    on_cut_scale,
    pipelines,
    probabilities,
    texts_of,
    vectors_of,
    word_vectorizer,
)
from framework.learning.trained_file import (
    FORMAT,
    artifact_path,
    check_model,
    read_model,
    save_model,
)
from framework.records import Item

__all__ = [
    "FORMAT",
    "TrainedModel",
    "artifact_path",
    "fit_model",
    "fuse",
    "load_model",
    "text_digest",
]


def text_digest(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).lower().encode("utf-8", "replace")).hexdigest()


def _fold_of(text: str, folds: int) -> int:
    """By the text, so that copies of one text share a fold (no model sees its twin)."""
    return int(text_digest(text)[:8], 16) % folds


# The names an artifact of an earlier labelwise refers to its embedding pipelines by.
_texts_of, _vectors_of = texts_of, vectors_of


def _inputs(texts: Sequence[str], vectors: Any) -> Any:
    """What the pipeline takes: the texts, or (text, vector) pairs with embeddings."""
    return list(texts) if vectors is None else list(zip(texts, vectors, strict=True))


@dataclass
class TrainedModel:
    labels: tuple[str, ...]
    pool_sha256: str
    settings: dict[str, Any]
    full: list[Any]  # the pipelines fit on the whole pool (one, or one per feature set)
    by_fold: list[list[Any]]  # the pipelines fit without each fold
    fold_of_id: dict[str, int] = field(default_factory=dict)
    fold_of_text: dict[str, int] = field(default_factory=dict)
    rows: int = 0
    # The pool's own rows, each scored by the model fit without its fold (rows x labels):
    # an honest sample of the scores new rows get, which the cascade sets its band on.
    pool_scores: Any = None
    # The pool's rows as unit-length word TF-IDF vectors, and each row's text digest:
    # how like the pool a new text is (the cascade's out-of-depth check).
    # With embeddings, the pool's own embeddings (dense, unit length) instead.
    pool_vectors: Any = None
    pool_digests: tuple[str, ...] = ()
    features: str = "tfidf"  # trained.features; a class default, so older artifacts load
    # trained.cuts=cv: per label, the probability moved to 0.5 (the F1-best cut on the
    # pool's cross-fitted scores); None: the probabilities as they are.
    cuts: tuple[float, ...] | None = None

    @property
    def embedded(self) -> bool:
        """Whether it needs each item's embedding (trained.features embeddings or both)."""
        return self.features != "tfidf"

    def probabilities(self, item: Item, vector: Any = None) -> dict[str, float]:
        """Per label, from the model that never saw this row (`vector`: the item's
        embedding, for a model with embedding features)."""
        fold = self.fold_of_id.get(item.id, self.fold_of_text.get(text_digest(item.text), -1))
        members = self.full if fold < 0 else self.by_fold[fold]
        row = probabilities(members, _inputs([item.text], self._vectors(vector)))
        if self.cuts is not None:
            row = on_cut_scale(row, self.cuts)
        return {label: float(p) for label, p in zip(self.labels, row[0], strict=True)}

    def similarity(self, item: Item, vector: Any = None) -> float:
        """The cosine similarity of the item to the nearest row of the pool (its own row,
        or a copy of its text, left out): of word TF-IDF, or of embeddings for a model
        with trained.features=embeddings."""
        import numpy as np

        if self.features == "embeddings":
            similarities = np.asarray(self.pool_vectors @ self._vectors(vector)[0]).ravel()
        else:
            query = word_vectorizer(self.full).transform([item.text]).T
            similarities = (self.pool_vectors @ query).toarray().ravel()
        digest = text_digest(item.text)
        if digest in self.fold_of_text:
            similarities[[own == digest for own in self.pool_digests]] = 0.0
        return float(similarities.max()) if similarities.size else 0.0

    def _vectors(self, vector: Any) -> Any:
        if not self.embedded:
            return None
        if vector is None:
            raise ValueError(f"a model with trained.features={self.features} needs the vector")
        return [vector]

    def describe(self) -> dict[str, Any]:
        """What the run record keeps of it."""
        return {"pool_sha256": self.pool_sha256, "rows": self.rows, **self.settings}

    def save(self, path: Path) -> None:
        save_model(self, path)

    @classmethod
    def load(cls, path: Path, *, named: bool = False) -> TrainedModel:
        """The model of a file (`named`: by trained.artifact, not the cache folder)."""
        return cls(**read_model(path, named=named))


def load_model(config: RunConfig, labels: Sequence[str]) -> TrainedModel:
    """The run's trained model, fit before by the runner, if it knows the taxonomy's
    labels and was fit on trained.pool."""
    path = artifact_path(config, labels)
    model = TrainedModel.load(path, named=bool(config.trained.artifact))
    check_model(config, labels, path, model)
    return model


def fit_model(
    rows: Iterable[tuple[str, str, Sequence[str]]],
    labels: Sequence[str],
    settings: TrainedModelSettings,
    *,
    pool_sha256: str,
    every_label: bool = True,
    embed: Callable[[Sequence[str]], Any] | None = None,
    embedding: str | None = None,
) -> TrainedModel:
    """Fit on (id, text, gold labels) rows: the full model and one without each fold.
    `every_label` False lets a label no row has be learnt as never present (a distilled
    model, whose teacher may give some label to no row of the sample). `embed` (texts
    -> rows of unit length) gives the vectors when trained.features uses embeddings;
    `embedding` names the model that made them (its digest, kept so an artifact is never
    used with another model's vectors)."""
    ids, texts, gold = [], [], []
    for row_id, text, row_labels in rows:
        ids.append(row_id)
        texts.append(text)
        gold.append([label for label in row_labels if label in labels])
    if len(texts) < 2 * settings.folds:
        raise ConfigError(
            f"trained.pool: {len(texts)} labeled rows are too few to fit and cross-fit "
            f"({settings.folds} folds); give a larger pool"
        )
    if settings.features != "embeddings" and not any(text.strip() for text in texts):
        raise ConfigError(
            f"trained.pool: the texts of all {len(texts)} labeled rows are empty; the "
            "trained model learns from the words of labeled texts"
        )
    from sklearn.preprocessing import MultiLabelBinarizer

    y = MultiLabelBinarizer(classes=list(labels)).fit_transform(gold)
    absent = absent_labels(y, labels)
    if absent and every_label:
        raise ConfigError(
            f"trained.pool: no row is labeled {', '.join(absent)}; every label needs "
            "examples for the trained model to learn it"
        )
    import numpy as np

    features = settings.features
    if features != "tfidf" and embed is None:
        raise ValueError(f"trained.features={features} needs embed, the texts' vectors")
    vectors = None if features == "tfidf" or embed is None else embed(texts)
    inputs = _inputs(texts, vectors)
    folds = [_fold_of(text, settings.folds) for text in texts]
    full = _fit(settings, inputs, y)
    by_fold = []
    pool_scores = np.zeros(y.shape, dtype=float)
    for fold in range(settings.folds):
        keep = [n for n, f in enumerate(folds) if f != fold]
        held = [n for n, f in enumerate(folds) if f == fold]
        members = _fit(settings, [inputs[n] for n in keep], y[keep])
        by_fold.append(members)
        if held:
            pool_scores[held] = probabilities(members, [inputs[n] for n in held])
    cuts = None
    if settings.cuts == "cv":  # chosen on the cross-fitted scores: no row's own gold
        cuts = tuple(round(float(cut), 6) for cut in best_cuts(pool_scores, y))
        pool_scores = on_cut_scale(pool_scores, cuts)
    if features == "embeddings":
        likeness = np.asarray(vectors)  # rows of unit length
    else:  # TfidfVectorizer rows are unit length
        likeness = word_vectorizer(full).transform(texts)
    return TrainedModel(
        labels=tuple(labels),
        pool_sha256=pool_sha256,
        settings=_described(settings, labels, cuts, embedding),
        full=full,
        by_fold=by_fold,
        fold_of_id=dict(zip(ids, folds, strict=True)),
        fold_of_text={text_digest(t): f for t, f in zip(texts, folds, strict=True)},
        rows=len(texts),
        pool_scores=pool_scores,
        pool_vectors=likeness,
        pool_digests=tuple(text_digest(t) for t in texts),
        features=features,
        cuts=cuts,
    )


def _described(
    settings: TrainedModelSettings,
    labels: Sequence[str],
    cuts: Sequence[float] | None,
    embedding: str | None,
) -> dict[str, Any]:
    """The settings the record keeps (those left at their first defaults only when set,
    so the records of earlier runs read the same)."""
    described: dict[str, Any] = {"folds": settings.folds, "C": settings.C}
    if settings.features != "tfidf":
        described["features"] = settings.features
        if embedding:
            described["embedding"] = embedding
    if settings.combine != "one":
        described["combine"] = settings.combine
    if cuts is not None:
        described["cuts"] = dict(zip(labels, cuts, strict=True))
    return described


def _fit(settings: TrainedModelSettings, inputs: list[Any], y: Any) -> list[Any]:
    import warnings

    with warnings.catch_warnings():  # a label on no row (or every row) is predicted constant
        warnings.filterwarnings("ignore", message="Label .* is present in all training")
        try:
            return [
                make().fit(inputs, y)
                for make in pipelines(settings.features, settings.combine, settings.C)
            ]
        except ValueError as error:  # scikit-learn's words for texts with no words
            if "vocabulary" not in str(error) and "no terms remain" not in str(error):
                raise
            raise ConfigError(
                "trained.pool: its texts hold too few words to learn from (no word is in "
                "two texts); give more labeled rows, or texts with words"
            ) from None


def absent_labels(y: Any, labels: Sequence[str]) -> list[str]:
    """The labels no row of a label matrix (rows x labels) has."""
    return [label for n, label in enumerate(labels) if not y[:, n].any()]


def fuse(model: Mapping[str, float], llm: Mapping[str, float], weight: float) -> dict[str, float]:
    """Per label: `weight` of the trained model's probability, the rest the LLM's."""
    return {
        label: round(weight * p + (1.0 - weight) * float(llm.get(label, 0.0)), 4)
        for label, p in model.items()
    }
