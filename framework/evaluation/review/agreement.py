"""Per-label agreement between people, and between people and machines.

    read = annotations_of(tasks)               # every annotator's labels of every task
    raters = raters_of(read, run_rows)         # + "llm", "trained" from a run's rows
    found = agreement(raters, labels, bootstrap=500, seed=0)
    found[0].comparison, found[0].label, found[0].alpha, found[0].low, found[0].high

Each label is a yes/no question put to every rater of every task; its agreement is
Krippendorff's alpha (the `krippendorff` package, nominal), with a percentile bootstrap
interval over tasks. Comparisons (COMPARISONS), each made where its raters exist:

  annotators         every annotator of a task with several annotations
  annotator vs llm   the task's latest annotation (the gold review import keeps) and
                     the run's LLM (its `sources.llm` answer, else the row's labels)
  llm vs trained     the run's LLM and its trained model (`sources.trained` >= 0.5)

Alpha is undefined for a label no rater ever gave or every rater always gave (None).
What cannot be read is counted by reason, never guessed: tasks without a row_id,
cancelled, empty or repeated annotations (one annotator twice: the latest kept), and
labels outside the taxonomy (the annotation left out).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from framework.evaluation.review.tasks import FROM_NAME
from framework.results import ResultRow

__all__ = [
    "COMPARISONS",
    "Annotations",
    "LabelAgreement",
    "agreement",
    "annotations_of",
    "krippendorff_alpha",
    "raters_of",
]

Ratings = dict[str, frozenset[str]]  # row id -> the labels one rater gave
ANNOTATOR, LLM, TRAINED = "annotator", "llm", "trained"


@dataclass
class Annotations:
    by_row: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)  # id -> who -> set
    latest: dict[str, frozenset[str]] = field(default_factory=dict)  # id -> latest annotation
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    stamps: set[str] = field(default_factory=set)  # the tasks' taxonomy hashes

    @property
    def annotators(self) -> list[str]:
        return sorted({who for raters in self.by_row.values() for who in raters})


@dataclass(frozen=True)
class LabelAgreement:
    comparison: str
    label: str
    alpha: float | None
    low: float | None
    high: float | None
    units: int  # tasks with at least two of the comparison's raters

    def to_json(self) -> dict[str, Any]:
        return {
            "comparison": self.comparison,
            "label": self.label,
            "alpha": self.alpha,
            "interval": [self.low, self.high],
            "units": self.units,
        }


def annotations_of(tasks: Iterable[Any], known: Sequence[str] | None = None) -> Annotations:
    """Every annotator's labels of every task of a Label Studio JSON export."""
    found = Annotations()
    allowed = set(known) if known is not None else None
    for task in tasks:
        data = task.get("data") if isinstance(task, Mapping) else None
        row_id = data.get("row_id") if isinstance(data, Mapping) else None
        if row_id is None or row_id == "" or isinstance(row_id, bool | dict | list):
            found.skipped["tasks without a row_id"] += 1
            continue
        assert isinstance(data, Mapping)
        if data.get("taxonomy_hash"):
            found.stamps.add(str(data["taxonomy_hash"]))
        raters: dict[str, tuple[str, frozenset[str]]] = {}
        for number, annotation in enumerate(task.get("annotations") or []):
            read = _labels_of(annotation, allowed)
            if isinstance(read, str):
                found.skipped[read] += 1
                continue
            who = _annotator(annotation, number)
            when = str(annotation.get("updated_at") or annotation.get("created_at") or "")
            if who in raters:
                found.skipped["repeated annotations by one annotator (the latest kept)"] += 1
                if raters[who][0] > when:
                    continue
            raters[who] = (when, read)
        if raters:
            row = str(row_id)
            found.by_row[row] = {who: labels for who, (_, labels) in raters.items()}
            found.latest[row] = max(raters.values(), key=lambda pair: pair[0])[1]
    return found


def _labels_of(annotation: Any, allowed: set[str] | None) -> frozenset[str] | str:
    """The annotation's labels, or the reason it is skipped."""
    if not isinstance(annotation, Mapping):
        return "annotations that are not objects"
    if annotation.get("was_cancelled"):
        return "cancelled annotations"
    result = annotation.get("result")
    if not isinstance(result, list) or not result:
        return "empty annotations"
    labels: set[str] = set()
    for item in result:
        value = item.get("value") if isinstance(item, Mapping) else None
        if not isinstance(item, Mapping) or item.get("from_name", FROM_NAME) != FROM_NAME:
            continue
        choices = value.get("choices") if isinstance(value, Mapping) else None
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            return "annotations with malformed choices"
        labels.update(choices)
    if allowed is not None and labels - allowed:
        return "annotations with labels outside the taxonomy"
    return frozenset(labels)


def _annotator(annotation: Mapping[str, Any], number: int) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, Mapping):
        who = who.get("email") or who.get("id")
    return f"annotator {who}" if who not in (None, "") else f"annotation {number + 1}"


def raters_of(read: Annotations, rows: Iterable[ResultRow] | None = None) -> dict[str, Ratings]:
    """Per rater (each annotator, `annotator` the latest annotation, `llm`, `trained`)
    the labels it gave each row; a run's rows add the machines."""
    from framework.evaluation.review.queue import sources_of

    raters: dict[str, Ratings] = {who: {} for who in read.annotators}
    for row_id, given in read.by_row.items():
        for who, labels in given.items():
            raters[who][row_id] = labels
    raters[ANNOTATOR] = dict(read.latest)
    for row in rows or ():
        if not row.ok:
            continue
        sources = sources_of(row)
        llm = sources.get("llm")
        raters.setdefault(LLM, {})[row.id] = (
            frozenset(k for k, p in llm.items() if p >= 0.5) if llm else frozenset(row.labels)
        )
        if "trained" in sources:
            raters.setdefault(TRAINED, {})[row.id] = frozenset(
                k for k, p in sources["trained"].items() if p >= 0.5
            )
    return raters


def _comparisons(raters: Mapping[str, Ratings]) -> dict[str, list[str]]:
    people = [who for who in raters if who.startswith(("annotator ", "annotation "))]
    return {
        "annotators": people,
        "annotator vs llm": [ANNOTATOR, LLM],
        "llm vs trained": [LLM, TRAINED],
    }


COMPARISONS = ("annotators", "annotator vs llm", "llm vs trained")


def krippendorff_alpha(matrix: Any) -> float | None:
    """Nominal alpha of a raters x units matrix (0/1, NaN missing); None if undefined."""
    import krippendorff
    import numpy as np

    values = matrix[~np.isnan(matrix)]
    if values.size == 0 or np.all(values == values[0]):
        return None  # one value only: alpha is undefined
    try:
        alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    except (ValueError, ZeroDivisionError):
        return None
    return alpha if np.isfinite(alpha) else None


def agreement(
    raters: Mapping[str, Ratings], labels: Sequence[str], *, bootstrap: int = 500, seed: int = 0
) -> list[LabelAgreement]:
    """Per comparison (COMPARISONS, those with raters) and per label, alpha and its
    95% percentile bootstrap interval over the units."""
    import numpy as np

    draw = np.random.default_rng(seed)
    found = []
    for comparison, names in _comparisons(raters).items():
        present = [name for name in names if raters.get(name)]
        if len(present) < 2 or len(present) < len(names):
            continue
        units = sorted(
            row
            for row in {r for name in present for r in raters[name]}
            if sum(row in raters[name] for name in present) >= 2
        )
        if not units:
            continue
        picks = draw.integers(0, len(units), size=(bootstrap, len(units)))
        for label in labels:
            matrix = np.array(
                [
                    [
                        float(label in raters[name][row]) if row in raters[name] else np.nan
                        for row in units
                    ]
                    for name in present
                ]
            )
            alpha = krippendorff_alpha(matrix)
            resampled = [krippendorff_alpha(matrix[:, pick]) for pick in picks]
            kept = [a for a in resampled if a is not None]
            low, high = (
                (float(np.percentile(kept, 2.5)), float(np.percentile(kept, 97.5)))
                if alpha is not None and kept
                else (None, None)
            )
            found.append(LabelAgreement(comparison, label, alpha, low, high, len(units)))
    return found
