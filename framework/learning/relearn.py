"""Refit the trained model on a labeled pool's newest version and say, per label, what
changed: the estimated precision and recall before (the previous version's model) and
after (the new one's), both on the same rows, the new version's, each row scored by a
model that never saw its text (`scores_by_text`), at the 0.5 cut.

    found = relearn(LabeledPoolDir(path), labels)
    found.version, found.previous, found.before["joy"].recall, found.after["joy"].recall

The model of a version is kept in the pool's models/ folder (a skops file, as the
trained model's artifact is) and reused; a run can use it with
`trained.pool=POOL/versions/V.jsonl trained.artifact=POOL/models/V.skops`.
If the pool's HEAD moves while a model is fit (an import beside it), nothing is
written over and the command says to run again. A run's route is recertified on the
new version by framework.learning.recertify (`labelwise learn POOL --run RUN_DIR`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from framework.config.run_settings import TrainedModelSettings
from framework.digests import file_sha256
from framework.errors import ConfigError, InputError
from framework.learning.labeled_pool import LabeledPoolDir
from framework.learning.trained import TrainedModel, fit_model

__all__ = ["Estimate", "Relearned", "estimates_of", "relearn", "scores_by_text"]


@dataclass(frozen=True)
class Estimate:
    precision: float
    recall: float
    support: int  # rows of the pool holding the label


@dataclass
class Relearned:
    version: str
    previous: str | None
    rows: int
    after: dict[str, Estimate]
    before: dict[str, Estimate] = field(default_factory=dict)
    before_note: str = ""  # why there is no "before", if there is none


def relearn(
    pool: LabeledPoolDir,
    labels: Sequence[str],
    settings: TrainedModelSettings | None = None,
) -> Relearned:
    settings = settings or TrainedModelSettings()
    head = pool.head()
    if head.version is None:
        raise InputError(
            f"{pool.path} holds no labeled pool yet; add rows with labelwise review import "
            "EXPORT --to gold.jsonl --pool DIR, or labelwise learn DIR --add FILE"
        )
    model, rows = _model_of(pool, head.version, labels, settings)
    newest = pool.rows(head.version)
    found = Relearned(head.version, head.previous, rows, _estimates(model, newest))
    if head.previous is None:
        found.before_note = "the first version: nothing before it"
    else:
        try:
            earlier, _ = _model_of(pool, head.previous, labels, settings)
            found.before = _estimates(earlier, newest)  # the same rows as after
        except ConfigError as error:
            found.before_note = f"no model of the previous version ({error})"
    now = pool.head().version
    if now != head.version:
        raise InputError(
            f"the pool {pool.path} changed while learning (version {head.version} became "
            f"{now}); its new version is kept: run labelwise learn again"
        )
    return found


def _model_of(
    pool: LabeledPoolDir, version: str, labels: Sequence[str], settings: TrainedModelSettings
) -> tuple[TrainedModel, int]:
    """The version's model: the one kept in models/, else fit now and kept."""
    path, source = pool.model_file(version), pool.version_file(version)
    digest = file_sha256(source)
    if path.is_file():
        model = TrainedModel.load(path, named=True)
        if model.pool_sha256 == digest and tuple(model.labels) == tuple(labels):
            return model, model.rows
    rows = pool.rows(version)
    triples = [(str(r["id"]), str(r.get("text") or ""), list(r.get("labels") or [])) for r in rows]
    try:
        model = fit_model(triples, labels, settings, pool_sha256=digest)
    except ConfigError as error:
        said = str(error).removeprefix("trained.pool: ")
        raise ConfigError(f"{source} (version {version}): {said}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return model, len(triples)


def scores_by_text(model: TrainedModel, texts: Sequence[str]) -> Any:
    """rows x labels: each text scored by a model of `model` that never saw it: the one
    fit without the text's fold if the model's pool holds the text (folds go by the
    text's hash, so a row's fold is the same in every version of a pool), else the one
    fit on the whole pool. By text, never by id: an id of another pool names another
    row. In batches, one per fold (TrainedModel.probabilities scores one row a call)."""
    import numpy as np

    from framework.learning.ensemble import on_cut_scale, probabilities
    from framework.learning.trained import text_digest

    if model.embedded:
        raise ConfigError(
            f"trained.features={model.features}: the model needs each row's embedding; "
            "recertifying and relabeling use trained.features=tfidf for now"
        )
    scores = np.zeros((len(texts), len(model.labels)), dtype=float)
    folds = [model.fold_of_text.get(text_digest(text), -1) for text in texts]
    for fold in sorted(set(folds)):
        rows = [n for n, f in enumerate(folds) if f == fold]
        members = model.full if fold < 0 else model.by_fold[fold]
        scores[rows] = probabilities(members, [texts[n] for n in rows])
    if model.cuts is not None:
        scores = on_cut_scale(scores, model.cuts)
    return scores


def estimates_of(
    scores: Any, gold: Sequence[Sequence[str]], labels: Sequence[str], cuts: Sequence[float]
) -> dict[str, Estimate]:
    """Per label, precision and recall of `scores` (rows x labels) at `cuts` on `gold`."""
    import numpy as np
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.preprocessing import MultiLabelBinarizer

    kept = [[x for x in row if x in labels] for row in gold]
    y = MultiLabelBinarizer(classes=list(labels)).fit_transform(kept)
    predicted = (np.asarray(scores) >= np.asarray(cuts) - 1e-12).astype(int)
    precision, recall, _, support = precision_recall_fscore_support(
        y, predicted, average=None, zero_division=0
    )
    return {
        label: Estimate(float(precision[n]), float(recall[n]), int(support[n]))
        for n, label in enumerate(labels)
    }


def _estimates(model: TrainedModel, rows: Sequence[Mapping[str, Any]]) -> dict[str, Estimate]:
    texts = [str(r.get("text") or "") for r in rows]
    gold = [list(r.get("labels") or []) for r in rows]
    labels = list(model.labels)
    return estimates_of(scores_by_text(model, texts), gold, labels, [0.5] * len(labels))
