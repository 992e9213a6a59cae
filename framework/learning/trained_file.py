"""Where a trained model's file is kept, and how it is written and read.

    path = artifact_path(config, labels)  # trained.artifact, or a name in the cache folder
    check_model(config, labels, path, model)   # refused if of other labels or another pool

The file is a skops archive (framework.learning.artifacts: loading it runs no code) of
the fitted pipelines, the pool's scores and vectors, and the rest as one JSON text. It
is named after the pool's sha256 and the settings (and the format, so a format of an
earlier labelwise is never read: the model is fit anew); its pool hash goes into the
run's identity and record, and a model fit on another pool than trained.pool is
refused, so record.json never names one pool with another's hash.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.config.schema import RunConfig, TrainedModelSettings
from framework.digests import file_sha256
from framework.errors import ConfigError
from framework.learning.artifacts import SUFFIX, load_artifact, save_artifact
from framework.providers.embeddings import embedding_digest
from framework.resources import cache_dir

if TYPE_CHECKING:
    from framework.learning.trained import TrainedModel

__all__ = [
    "FORMAT",
    "TRUSTED",
    "artifact_path",
    "check_model",
    "legacy_artifacts",
    "pool_sha256",
    "read_model",
    "save_model",
    "settings_digest",
]

FORMAT = "labelwise-trained/3"  # /2 was a joblib pickle, never loaded now
# The names beyond scikit-learn's and numpy's that a trained model's file may hold: the
# two functions its embedding pipelines call and its vectorizer, all labelwise's own.
TRUSTED = (
    "framework.learning.ensemble.texts_of",
    "framework.learning.ensemble.vectors_of",
    "framework.learning.trained._texts_of",  # the names of files written before 0.9
    "framework.learning.trained._vectors_of",
    "framework.learning.tfidf.CompactTfidf",
)


def settings_digest(
    settings: TrainedModelSettings, labels: Sequence[str], embedding: str | None = None
) -> str:
    what: dict[str, Any] = {
        "folds": settings.folds,
        "C": settings.C,
        "labels": list(labels),
        "format": FORMAT,
    }
    if settings.features != "tfidf":  # only then: the artifacts from before keep their names
        what.update(features=settings.features, embedding=embedding)
    if settings.combine != "one":
        what["combine"] = settings.combine
    if settings.cuts != "fixed":
        what["cuts"] = settings.cuts
    return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:12]


def artifact_path(config: RunConfig, labels: Sequence[str]) -> Path:
    """Where the run's trained model is (trained.artifact, else one named by the pool's
    and the settings' hashes in the cache folder)."""
    settings = config.trained
    if settings.artifact:
        return Path(settings.artifact).expanduser()
    embedding = embedding_digest(config.embeddings) if settings.features != "tfidf" else None
    digest = settings_digest(settings, labels, embedding)
    name = f"trained-{pool_sha256(config)[:16]}-{digest}{SUFFIX}"
    return cache_dir() / "models" / name


def legacy_artifacts(config: RunConfig) -> list[Path]:
    """The pickled models an earlier labelwise fit on the run's pool in the cache folder
    (never loaded: the run fits its model anew)."""
    if config.trained.artifact:
        return []
    return sorted((cache_dir() / "models").glob(f"trained-{pool_sha256(config)[:16]}-*.joblib"))


def check_model(config: RunConfig, labels: Sequence[str], path: Path, model: TrainedModel) -> None:
    """Refuse the model of `path` unless it knows the taxonomy's labels and was fit on
    trained.pool (so record.json never names one pool with another's hash)."""
    explicit = bool(config.trained.artifact)
    redo = (
        "remove trained.artifact to fit the model from trained.pool"
        if explicit
        else "delete the artifact to fit a new one"
    )
    if tuple(model.labels) != tuple(labels):
        raise ConfigError(
            f"trained.artifact: the trained model knows the labels {', '.join(model.labels)}, "
            f"the taxonomy has {', '.join(labels)}; {redo}"
        )
    fit_with, asked = _model_settings(model.settings), _model_settings(_asked(config))
    if not explicit and fit_with["embedding"] is None:  # written before models named it:
        fit_with["embedding"] = asked["embedding"]  # the file's name holds it
    differ = [key for key in asked if fit_with[key] != asked[key]]
    if differ:

        def said(values: dict[str, Any]) -> str:
            return ", ".join(_SAID[key].format(values[key]) for key in differ)

        raise ConfigError(
            f"trained.artifact: {path} was fit with {said(fit_with)}; this run asks for "
            f"{said(asked)}; {redo}"
        )
    pool = pool_sha256(config)
    if model.pool_sha256 != pool:
        raise ConfigError(
            f"trained.artifact: {path} was fit on another pool (sha256 "
            f"{model.pool_sha256[:16]}...) than trained.pool={config.trained.pool} "
            f"({pool[:16]}...); {redo}"
            + (", or set trained.pool to the file it was fit on" if explicit else "")
        )


_SAID = {
    "features": "trained.features={}",
    "combine": "trained.combine={}",
    "cuts": "trained.cuts={}",
    "embedding": "the vectors of embedding model {} (embeddings.*)",
}


def _asked(config: RunConfig) -> dict[str, Any]:
    """The settings a model for this run is fit with, as a model's record names them."""
    settings = config.trained
    asked: dict[str, Any] = {"features": settings.features, "combine": settings.combine}
    asked["cuts"] = {} if settings.cuts == "cv" else None  # as a model's record has them
    if settings.features != "tfidf":
        asked["embedding"] = embedding_digest(config.embeddings)
    return asked


def _model_settings(described: dict[str, Any]) -> dict[str, Any]:
    """What decides a model's answers beyond its pool: the features, the vectors' model,
    the combination and whether cuts were chosen (defaults where a record omits them)."""
    features = described.get("features", "tfidf")
    return {
        "features": features,
        "combine": described.get("combine", "one"),
        "cuts": "cv" if described.get("cuts") is not None else "fixed",
        "embedding": described.get("embedding") if features != "tfidf" else None,
    }


def pool_sha256(config: RunConfig) -> str:
    pool = Path(config.trained.pool or "").expanduser()
    if not pool.is_file():
        raise ConfigError(
            f"trained.pool: {pool} is not a file; give the labeled rows (JSONL, CSV or "
            "Parquet with id, text and labels) the trained model learns from"
        )
    return file_sha256(pool)


def save_model(model: TrainedModel, path: Path) -> None:
    """Write the model to a skops file (atomically)."""
    about = {
        "labels": list(model.labels),
        "pool_sha256": model.pool_sha256,
        "settings": model.settings,
        "rows": model.rows,
        "features": model.features,
        "fold_of_id": model.fold_of_id,
        "fold_of_text": model.fold_of_text,
        "pool_digests": list(model.pool_digests),
    }
    if model.cuts is not None:
        about["cuts"] = list(model.cuts)

    state = {
        "full": _kept(model.full),
        "by_fold": [_kept(members) for members in model.by_fold],
        "about": json.dumps(about),
    }
    save_artifact(
        path, FORMAT, {**state, "scores": model.pool_scores, "vectors": model.pool_vectors}
    )


def read_model(path: Path, *, named: bool = False) -> dict[str, Any]:
    """The fields of the TrainedModel in a file (`named`: by trained.artifact, not the
    cache folder); loading it runs no code."""
    import scipy.sparse

    return load_artifact(
        path,
        FORMAT,
        [*TRUSTED, scipy.sparse.csr_matrix],
        _fields_from,
        key="trained.artifact",
        what="trained model",
        missing=f"no trained model at {path}; `labelwise classify` and `labelwise plan` "
        "fit it on first use; from Python, call "
        "framework.learning.prepare.prepare_run(config) before Classifier(config)",
        remake="fit a new one",
        legacy="remove trained.artifact to fit the model from trained.pool, or set it to "
        "a new path to fit the model and keep it there"
        if named
        else None,
    )


def _fields_from(state: dict[str, Any]) -> dict[str, Any]:
    """A TrainedModel's fields from a file's state, checked (else TypeError/ValueError)."""
    about = json.loads(state["about"])
    labels, rows = about["labels"], about["rows"]
    folds = about["settings"]["folds"]
    full, scores = _members(state["full"]), state["scores"]
    by_fold = [_members(members) for members in state["by_fold"]]
    if not (isinstance(labels, list) and all(isinstance(label, str) for label in labels)):
        raise TypeError("labels")
    if len(by_fold) != folds or any(len(members) != len(full) for members in by_fold):
        raise TypeError("pipelines")
    cuts = about.get("cuts")
    if cuts is not None and (
        len(cuts) != len(labels) or not all(isinstance(c, float) and 0 < c < 1 for c in cuts)
    ):
        raise ValueError("cuts")
    if scores.shape != (rows, len(labels)) or state["vectors"].shape[0] != rows:
        raise ValueError("pool scores")
    return {
        "labels": tuple(labels),
        "pool_sha256": str(about["pool_sha256"]),
        "settings": dict(about["settings"]),
        "full": full,
        "by_fold": by_fold,
        "fold_of_id": {str(k): int(v) for k, v in about["fold_of_id"].items()},
        "fold_of_text": {str(k): int(v) for k, v in about["fold_of_text"].items()},
        "rows": int(rows),
        "pool_scores": scores,
        "pool_vectors": state["vectors"],
        "pool_digests": tuple(str(d) for d in about["pool_digests"]),
        "features": str(about["features"]),
        "cuts": None if cuts is None else tuple(cuts),
    }


def _kept(members: list[Any]) -> Any:
    """A model of one pipeline is kept as that pipeline, as earlier versions wrote it."""
    return members[0] if len(members) == 1 else list(members)


def _members(kept: Any) -> list[Any]:
    """The pipelines of a file's model: one, or a list of them (else TypeError)."""
    from sklearn.pipeline import Pipeline

    members = kept if isinstance(kept, list) else [kept]
    if not members or not all(isinstance(member, Pipeline) for member in members):
        raise TypeError("pipelines")
    return members
