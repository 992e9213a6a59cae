"""What the HTML report shows of a run's rows, gathered in two streamed passes.

    digest = digest_rows(lambda: read_result_rows(results), labels, gold=None)
    digest.confusion[g][p]     # rows whose gold holds shown[g] and whose prediction shown[p]
    digest.errors              # the worst `limit` errors: missed and extra labels, confidence

The first pass counts each label, keeps the confidences for the histograms (a
sample of at most `CONFIDENCE_SAMPLE` a label) and at most `limit` error and
failed rows. The heatmaps (confusion, co-occurrence) hold the `chart_labels`
most frequent labels only (framework.evaluation.chart_labels), counted in the
second pass: memory grows with the labels, not with their square.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from framework.evaluation.chart_labels import CHART_LABELS, most_frequent
from framework.records import Usage
from framework.results import ResultRow

__all__ = ["ErrorRow", "RunDigest", "digest_rows", "row_confidence"]

CONFIDENCE_SAMPLE = 5000
NOTHING = "(nothing)"  # the column of rows predicted with no label (or failed)
NO_LABEL = "(no label)"  # the row of rows whose gold is empty


@dataclass(frozen=True)
class ErrorRow:
    """A row whose prediction is not its gold (or that failed), as the report shows it."""

    id: str
    gold: tuple[str, ...]
    predicted: tuple[str, ...]
    missed: tuple[str, ...]  # in gold, not predicted
    extra: tuple[str, ...]  # predicted, not in gold
    status: str
    error: str | None
    confidence: float | None  # how sure the model was of what it got wrong
    label_confidence: dict[str, float] | None


@dataclass
class RunDigest:
    labels: tuple[str, ...]
    shown: tuple[str, ...] = ()  # the labels of the heatmaps: the most frequent ones
    rows: int = 0
    with_gold: int = 0
    failed: int = 0
    predicted_counts: dict[str, int] = field(default_factory=dict)
    gold_counts: dict[str, int] = field(default_factory=dict)
    # over `shown`: gold (+ none) x predicted (+ none); gold pairs, or predicted without gold
    confusion: list[list[int]] = field(default_factory=list)
    cooccurrence: list[list[int]] = field(default_factory=list)
    confidences: dict[str, list[float]] = field(default_factory=dict)
    errors: list[ErrorRow] = field(default_factory=list)
    error_count: int = 0
    failed_rows: list[ResultRow] = field(default_factory=list)
    error_kinds: dict[str, int] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)  # every row's tokens, prompt-cache counts too
    cost: float | None = 0.0  # None when a row's cost is unknown

    @property
    def confusion_rows(self) -> list[str]:
        return [*self.shown, NO_LABEL]

    @property
    def confusion_columns(self) -> list[str]:
        return [*self.shown, NOTHING]

    @property
    def counts(self) -> dict[str, int]:
        """Rows with each label, in gold or predicted (what the charts choose labels by)."""
        found = dict(self.predicted_counts)
        for label, count in self.gold_counts.items():
            found[label] = found.get(label, 0) + count
        return found


def row_confidence(row: ResultRow, missed: Sequence[str], extra: Sequence[str]) -> float | None:
    """How sure the model was of its mistakes: p of an extra label, 1 - p of a missed one
    (the largest of them); None when the row has no per-label confidence."""
    if not row.confidence:
        return None
    sure = [float(row.confidence.get(label, 0.0)) for label in extra]
    sure += [1.0 - float(row.confidence.get(label, 0.0)) for label in missed]
    return max(sure) if sure else None


def digest_rows(
    rows: Callable[[], Iterable[ResultRow]],
    labels: Sequence[str],
    *,
    gold: Mapping[str, Sequence[str]] | None = None,
    limit: int = 1000,
    chart_labels: int = CHART_LABELS,
) -> RunDigest:
    """Counts, confusion, co-occurrence, confidences and the worst `limit` errors.
    `rows` gives the rows afresh for each of the two passes."""
    found = _count(rows(), labels, gold=gold, limit=limit)
    found.shown = tuple(most_frequent(labels, found.counts, chart_labels))
    _count_pairs(found, rows(), gold=gold)
    return found


def _count(
    rows: Iterable[ResultRow],
    labels: Sequence[str],
    *,
    gold: Mapping[str, Sequence[str]] | None,
    limit: int,
) -> RunDigest:
    found = RunDigest(tuple(labels))
    known = frozenset(labels)
    heap: list[tuple[tuple[float, int, str], int, ErrorRow]] = []
    for number, row in enumerate(rows):
        found.rows += 1
        found.usage += row.usage
        if found.cost is not None and row.attempts:
            found.cost = None if row.cost is None else found.cost + row.cost
        predicted = [label for label in row.predicted if label in known]
        for label in predicted:
            found.predicted_counts[label] = found.predicted_counts.get(label, 0) + 1
        _keep_confidence(found, row)
        if not row.ok:
            found.failed += 1
            kind = row.error_kind or "unknown"
            found.error_kinds[kind] = found.error_kinds.get(kind, 0) + 1
            if len(found.failed_rows) < limit:
                found.failed_rows.append(row)
        expected = gold.get(row.id) if gold is not None else row.gold
        if expected is None:
            continue
        found.with_gold += 1
        truth = [label for label in dict.fromkeys(expected) if label in known]
        for label in truth:
            found.gold_counts[label] = found.gold_counts.get(label, 0) + 1
        error = _error(row, tuple(truth), tuple(predicted))
        if error is None:
            continue
        found.error_count += 1
        union = set(truth) | set(predicted)
        jaccard = len(set(truth) & set(predicted)) / len(union) if union else 1.0
        key = (-jaccard, len(error.missed) + len(error.extra), row.id)
        entry = (key, -number, error)
        if len(heap) < limit:
            heapq.heappush(heap, entry)
        elif entry > heap[0]:
            heapq.heapreplace(heap, entry)
    found.errors = [entry[2] for entry in sorted(heap, reverse=True)]
    return found


def _count_pairs(
    found: RunDigest, rows: Iterable[ResultRow], *, gold: Mapping[str, Sequence[str]] | None
) -> None:
    """The heatmaps over `found.shown`: a row's labels outside it are left out (a row whose
    gold or prediction is empty still counts as "(no label)" or "(nothing)")."""
    index = {label: n for n, label in enumerate(found.shown)}
    size = len(index)
    found.confusion = [[0] * (size + 1) for _ in range(size + 1)]
    gold_pairs = [[0] * size for _ in range(size)]
    predicted_pairs = [[0] * size for _ in range(size)]
    known = frozenset(found.labels)
    for row in rows:
        said = [label for label in row.predicted if label in known]
        predicted = [index[label] for label in said if label in index]
        _pairs(predicted_pairs, predicted)
        expected = gold.get(row.id) if gold is not None else row.gold
        if expected is None:
            continue
        truth = [label for label in dict.fromkeys(expected) if label in known]
        shown = [index[label] for label in truth if label in index]
        _pairs(gold_pairs, shown)
        _confuse(found.confusion, shown, predicted, size, empty=(not truth, not said))
    found.cooccurrence = gold_pairs if found.with_gold else predicted_pairs


def _error(row: ResultRow, truth: tuple[str, ...], predicted: tuple[str, ...]) -> ErrorRow | None:
    if row.ok and set(truth) == set(predicted):
        return None
    said, expected = set(predicted), set(truth)
    missed = tuple(label for label in truth if label not in said)
    extra = tuple(label for label in predicted if label not in expected)
    return ErrorRow(
        id=row.id,
        gold=truth,
        predicted=predicted,
        missed=missed,
        extra=extra,
        status=row.status,
        error=row.error,
        confidence=row_confidence(row, missed, extra),
        label_confidence=dict(row.confidence) if row.confidence else None,
    )


def _pairs(matrix: list[list[int]], present: list[int]) -> None:
    for a in present:
        for b in present:
            matrix[a][b] += 1


def _confuse(
    matrix: list[list[int]],
    truth: list[int],
    predicted: list[int],
    size: int,
    *,
    empty: tuple[bool, bool],
) -> None:
    """Count a row in the cells of its gold (rows) and predicted (columns) labels shown; an
    empty gold or prediction counts in the last row or column."""
    rows = [size] if empty[0] else truth
    columns = [size] if empty[1] else predicted
    for g in rows:
        for p in columns:
            matrix[g][p] += 1


def _keep_confidence(found: RunDigest, row: ResultRow) -> None:
    for label, value in (row.confidence or {}).items():
        kept = found.confidences.setdefault(label, [])
        if len(kept) < CONFIDENCE_SAMPLE:
            kept.append(float(value))
