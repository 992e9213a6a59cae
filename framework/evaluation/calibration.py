"""Per-label thresholds that maximise an F-score on a labeled dev set.

For each label, scikit-learn's precision_recall_curve gives precision and
recall at every distinct confidence on the dev rows; the threshold with the
best F-beta wins (ties go to the higher threshold: fewer false positives for
the same score). A label without positive gold rows keeps the default.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.results import ResultRow

if TYPE_CHECKING:
    from framework.run_record import RunRecord

__all__ = ["LabelThreshold", "beta_of", "calibrate", "f_beta_at", "thresholds_artifact"]


@dataclass(frozen=True)
class LabelThreshold:
    label: str
    threshold: float
    before: float  # F-beta at the default threshold
    after: float  # F-beta at the chosen threshold
    support: int


def beta_of(metric: str) -> float:
    """f1 -> 1, f0.5 -> 0.5, f2 -> 2."""
    try:
        beta = float(metric.lower().removeprefix("f"))
    except ValueError:
        raise ValueError(
            f"unknown metric {metric!r}; use f1, f0.5, f2 or another f<beta>"
        ) from None
    if beta <= 0:
        raise ValueError(f"metric {metric!r}: beta must be positive")
    return beta


def f_beta_at(
    truth: Sequence[bool], scores: Sequence[float], threshold: float, beta: float
) -> float:
    from sklearn.metrics import fbeta_score

    predicted = [score >= threshold for score in scores]
    return float(fbeta_score(truth, predicted, beta=beta, zero_division=0))


def calibrate(
    rows: Iterable[ResultRow],
    labels: Sequence[str],
    *,
    metric: str = "f1",
    default: float = 0.5,
) -> list[LabelThreshold]:
    """Thresholds from rows holding a `confidence` ({label: p}) and `gold`."""
    import numpy as np
    from sklearn.metrics import precision_recall_curve

    beta = beta_of(metric)
    scored = [r for r in rows if r.gold is not None and r.confidence]
    if not scored:
        raise ValueError("no rows with both a per-label confidence and gold labels")
    found = []
    for label in labels:
        truth = [label in (row.gold or ()) for row in scored]
        scores = [float((row.confidence or {}).get(label, 0.0)) for row in scored]
        before = f_beta_at(truth, scores, default, beta)
        if not any(truth):
            found.append(LabelThreshold(label, default, before, before, 0))
            continue
        precision, recall, cuts = precision_recall_curve(truth, scores)
        precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
        denominator = beta**2 * precision + recall
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(denominator > 0, (1 + beta**2) * precision * recall / denominator, 0.0)
        best = int(np.flatnonzero(f == f.max())[-1])
        found.append(LabelThreshold(label, float(cuts[best]), before, float(f[best]), sum(truth)))
    return found


def thresholds_artifact(
    results: Path,
    record: RunRecord | None,
    taxonomy: dict[str, Any],
    *,
    rows: list[ResultRow],
    chosen: list[Any],
    metric: str,
) -> dict[str, Any]:
    """The thresholds file (labelwise-thresholds format) of `chosen`, fit on `rows` of a
    run (`results`, its `record`) labeled with `taxonomy`."""
    from framework.digests import file_sha256
    from framework.labels.thresholds import FORMAT

    config = record.config if record is not None else {}
    return {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "metric": metric,
        "taxonomy": {k: taxonomy[k] for k in ("name", "version", "hash")},
        "strategy": config.get("strategy"),
        "model": record.model.model_dump() if record is not None else None,
        "dev": {
            "results": str(results.resolve()),
            "sha256": file_sha256(results),
            "rows": len(rows),
        },
        "thresholds": {c.label: round(c.threshold, 6) for c in chosen},
        "scores": {
            c.label: {
                "before": round(c.before, 4),
                "after": round(c.after, 4),
                "support": c.support,
            }
            for c in chosen
        },
    }
