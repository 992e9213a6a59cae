"""Which labels a chart shows: all of a small taxonomy, the most frequent of a large one.

    shown = most_frequent(labels, counts)          # at most CHART_LABELS, in taxonomy order
    listed = listed_labels(labels, counts)         # a table's rows: at most TABLE_LABELS
    note = shown_note(len(shown), len(labels), "in gold or predicted")

A heatmap grows with the square of its labels: 10,000 labels made 100 million
cells (9.5 GB before it failed), and a chart of 10,000 bars is no chart to read.
So the reports draw at most CHART_LABELS labels, the most frequent, and list at
most TABLE_LABELS in a table (of a large taxonomy, those that occur), and say so;
metrics.json keeps every label.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

__all__ = [
    "CHART_LABELS",
    "TABLE_LABELS",
    "listed_labels",
    "listed_note",
    "most_frequent",
    "shown_note",
]

CHART_LABELS = 40
TABLE_LABELS = 1000


def most_frequent(
    labels: Sequence[str], counts: Mapping[str, int], limit: int = CHART_LABELS
) -> list[str]:
    """The `limit` labels with the largest counts (ties: the earlier label), in the order
    given; every label when there are no more than `limit`."""
    if len(labels) <= limit:
        return list(labels)
    chosen = heapq.nlargest(limit, range(len(labels)), key=lambda n: (counts.get(labels[n], 0), -n))
    return [labels[n] for n in sorted(chosen)]


def listed_labels(
    labels: Sequence[str], counts: Mapping[str, int], limit: int = TABLE_LABELS
) -> list[str]:
    """The rows of a per-label table: every label of a small taxonomy (CHART_LABELS or
    fewer); of a large one, those that occur, at most `limit` (the most frequent), in the
    order given. A table of 10,000 zeros helps nobody."""
    if len(labels) <= CHART_LABELS:
        return list(labels)
    return most_frequent([label for label in labels if counts.get(label, 0) > 0], counts, limit)


def shown_note(shown: int, total: int, counted: str) -> str:
    """A sentence for the page when a chart leaves labels out; "" when it shows all."""
    if shown >= total:
        return ""
    return (
        f"The charts show the {shown} most frequent of the {total:,} labels ({counted}); "
        "metrics.json holds every label."
    )


def listed_note(listed: int, total: int) -> str:
    """A sentence for the page when a table leaves labels out; "" when it lists all."""
    if listed >= total:
        return ""
    most = " most frequent" if listed >= TABLE_LABELS else ""
    return f"The table lists the {listed:,}{most} labels that occur (in gold or predicted)."
