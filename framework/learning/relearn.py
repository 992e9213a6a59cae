"""Refit the trained model on a labeled pool's newest version and say, per label, what
changed: the estimated precision and recall before (the previous version's model) and
after (the new one's), each from the cross-fitted scores of its own pool (every row
scored by a model that never saw it), at the 0.5 cut.

    found = relearn(LabeledPoolDir(path), labels)
    found.version, found.previous, found.before["joy"].recall, found.after["joy"].recall

The model of a version is kept in the pool's models/ folder (a skops file, as the
trained model's artifact is) and reused; a run can use it with
`trained.pool=POOL/versions/V.jsonl trained.artifact=POOL/models/V.skops`.
If the pool's HEAD moves while a model is fit (an import beside it), nothing is
written over and the command says to run again.

Follow-ups (issue 33's route): recalibrating the route's per-label thresholds and its
certification on the new pool, and relabeling in place the rows whose decision the new
model changes, are not done here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from framework.config.run_settings import TrainedModelSettings
from framework.digests import file_sha256
from framework.errors import ConfigError, InputError
from framework.learning.labeled_pool import LabeledPoolDir
from framework.learning.trained import TrainedModel, fit_model

__all__ = ["Estimate", "Relearned", "relearn"]


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
    found = Relearned(head.version, head.previous, rows, _estimates(model, pool, head.version))
    if head.previous is None:
        found.before_note = "the first version: nothing before it"
    else:
        try:
            earlier, _ = _model_of(pool, head.previous, labels, settings)
            found.before = _estimates(earlier, pool, head.previous)
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


def _estimates(model: TrainedModel, pool: LabeledPoolDir, version: str) -> dict[str, Estimate]:
    import numpy as np
    from sklearn.metrics import precision_recall_fscore_support
    from sklearn.preprocessing import MultiLabelBinarizer

    rows = pool.rows(version)
    gold = [[x for x in r.get("labels") or [] if x in model.labels] for r in rows]
    y = MultiLabelBinarizer(classes=list(model.labels)).fit_transform(gold)
    predicted = (np.asarray(model.pool_scores) >= 0.5).astype(int)
    precision, recall, _, support = precision_recall_fscore_support(
        y, predicted, average=None, zero_division=0
    )
    return {
        label: Estimate(float(precision[n]), float(recall[n]), int(support[n]))
        for n, label in enumerate(model.labels)
    }
