"""What a run needs made before its classifier is built, each once, kept in the cache
folder by its pool's hash: the trained model (fit from trained.pool) and the examples
index (built from examples.pool).

    prepare_run(config)                  # fits or builds what is missing, else nothing
    with Classifier(config) as classifier: ...

A pool is read with the run's columns (JSONL, CSV or Parquet, framework.inputs.pools);
rows without gold labels, unreadable lines and labels outside the taxonomy are left out
and counted (a warning each). A pickled artifact an earlier labelwise left in the cache
folder is never loaded: the artifact is made anew, with a note. Fitting the default
model on the 5,426-row GoEmotions-Ekman dev split takes some 30 s on 2 cores (six fits:
the whole pool and one without each of five folds); indexing it, about a second; later
runs load the artifacts in well under a second.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from framework.config.schema import RunConfig
from framework.errors import ConfigError
from framework.inputs.pools import LabeledPool, read_labeled
from framework.labels.taxonomy import label_ids
from framework.learning import example_index, trained_file
from framework.learning.artifacts import LEGACY_NOTE
from framework.learning.trained import TrainedModel, fit_model
from framework.providers.embeddings import Embedder, embedding_digest

__all__ = ["ensure_example_index", "ensure_trained_model", "fit_and_save", "prepare_run"]

log = logging.getLogger("labelwise")


def prepare_run(config: RunConfig) -> None:
    """Fit or build, unless already there, every artifact the config's run loads."""
    ensure_trained_model(config)
    ensure_example_index(config)


def ensure_trained_model(config: RunConfig) -> Path | None:
    """The artifact of the run's trained model (trained.use), fit now if there is none;
    None when the run uses no trained model, or one distilled during the run (the
    distillation driver fits that one)."""
    if config.trained.use == "off" or config.distill.sample is not None:
        return None
    labels = label_ids(config.taxonomy)
    path = trained_file.artifact_path(config, labels)
    if path.is_file():
        return path
    if trained_file.legacy_artifacts(config):
        log.info(LEGACY_NOTE)
    started = time.perf_counter()
    source = config.trained.pool or ""
    pool = _read_pool(config, "trained.pool", source, labels, "the trained model learns from")
    fit_and_save(config, pool.rows, path)
    log.info(
        "trained model fit on %d rows of %s in %.1f s%s -> %s", *_made(pool, source, started), path
    )
    return path


def ensure_example_index(config: RunConfig) -> Path | None:
    """The artifact of the run's examples index (examples.selection), built now if there
    is none; None when the run shows no examples."""
    if config.examples.selection == "none":
        return None
    path = example_index.index_path(config)
    if path.is_file():
        return path
    if example_index.legacy_indexes(config):
        log.info(LEGACY_NOTE)
    started = time.perf_counter()
    source = config.examples.pool or ""
    pool = _read_pool(config, "examples.pool", source, label_ids(config.taxonomy), "examples show")
    embedder = Embedder.for_run(config) if example_index.by_embeddings(config.examples) else None
    try:
        embed = None if embedder is None else embedder.embed_now
        sha256 = example_index.pool_sha256(config)
        example_index.build_index(pool.rows, pool_sha256=sha256, embed=embed).save(path)
    finally:
        if embedder is not None:
            embedder.close()
    log.info(
        "examples index of %d rows of %s built in %.1f s%s -> %s",
        *_made(pool, source, started),
        path,
    )
    return path


def fit_and_save(
    config: RunConfig,
    rows: Sequence[tuple[str, str, Sequence[str]]],
    path: Path,
    *,
    every_label: bool = True,
) -> TrainedModel:
    """Fit the run's trained model on (id, text, labels) rows of its pool and save it
    (with trained.features embeddings or both, the pool's texts embedded first)."""
    embedder = Embedder.for_run(config) if config.trained.features != "tfidf" else None
    try:
        model = fit_model(
            rows,
            label_ids(config.taxonomy),
            config.trained,
            pool_sha256=trained_file.pool_sha256(config),
            every_label=every_label,
            embed=None if embedder is None else embedder.embed_now,
            embedding=None if embedder is None else embedding_digest(config.embeddings),
        )
    finally:
        if embedder is not None:
            embedder.close()
    model.save(path)
    return model


def _read_pool(
    config: RunConfig, key: str, source: str, labels: Sequence[str], use: str
) -> LabeledPool:
    """The labeled rows of the pool `key` names, its warnings said; a ConfigError when
    it has none (`use` says what they are for)."""
    pool = read_labeled(Path(source), config.columns, set(labels))
    if not pool.rows:
        raise ConfigError(
            f"{key}: {source} has no rows with gold labels (column "
            f"{config.columns.labels!r}); {use} labeled rows"
        )
    for warning in pool.warnings(key):
        log.warning(warning)
    return pool


def _made(pool: LabeledPool, source: str, started: float) -> tuple[int, str, float, str]:
    """What the log line of a fit or an index says: rows, pool, seconds, rows left out."""
    skipped = f" ({pool.unlabeled} rows without gold left out)" if pool.unlabeled else ""
    return len(pool.rows), source, time.perf_counter() - started, skipped
