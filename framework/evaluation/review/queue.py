"""The rows of a run worth a person's time: a review queue of a budget of rows.

    picked = pick_rows(rows, labels, budget=100, seed=0)
    picked[0].row, picked[0].score, picked[0].why    # a ResultRow, 0.93, "uncertain: ..."

Each row gets a score: the weighted sum of the signals of SIGNALS, each in [0, 1] with
the reason it gives. A new signal is one entry of that table. Today's signals:

  failed         the row failed: nobody has its labels yet                     (weight 1.0)
  uncertainty    per source (the trained model's probability, the LLM's confidence,
                 the fused confidence), the mean over labels of 1 - |2p - 1| (a
                 probability at 0.5 scores 1, one at 0 or 1 scores 0); the largest
                 over sources. The mean, not the largest label's: on the dev split it
                 beat random picks where the largest did not (docs/review-loop.md)
                                                                                 (weight 1.0)
  disagreement   per label, the largest gap between two sources' probabilities
                 (trained vs LLM, or two LLMs); needs two sources                (weight 1.0)

Rare-label coverage is a stage of the pick, not a score: `coverage` of the budget
(a fifth by default) is shared among the labels, rarest first (by how many rows of the
run hold them), each taking its best-scored rows among those that hold it or that some
source gives at least 0.3; so every label gets rows, however rare. The rest of the
budget goes to the best scores. Ties are broken by a seeded shuffle: the same rows,
seed and budget pick the same queue.

Follow-up (issue 33, the route with certified per-label thresholds): a signal
`uncertified` (the rows the route could not certify) belongs in SIGNALS once results
rows say so.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from framework.results import ResultRow

__all__ = ["SIGNALS", "Picked", "Signal", "pick_rows", "sources_of"]

COVERAGE_FLOOR = 0.3  # a source's probability that makes a row a candidate for a label


@dataclass(frozen=True)
class Signal:
    """One reason to review a row: a score in [0, 1] and the words that say why."""

    weight: float
    measure: Callable[[ResultRow, Mapping[str, Mapping[str, float]]], tuple[float, str]]


@dataclass(frozen=True)
class Picked:
    row: ResultRow
    score: float
    why: str  # the reasons, strongest first ("uncertain: joy trained 0.51; ...")
    signals: dict[str, float]


def sources_of(row: ResultRow) -> dict[str, dict[str, float]]:
    """Per source (trained, llm, zero_shot, ..., and the row's own confidence), its
    probability per label. A row with neither gives its labels as 0/1 answers."""
    found: dict[str, dict[str, float]] = {}
    sources = row.extra.get("sources")
    if isinstance(sources, Mapping):
        for name, scores in sources.items():
            if isinstance(scores, Mapping):
                found[str(name)] = {str(k): float(v) for k, v in scores.items() if _is_number(v)}
    if row.confidence:
        name = row.confidence_method or "confidence"
        found.setdefault(name, {k: float(v) for k, v in row.confidence.items() if _is_number(v)})
    return found


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _failed(row: ResultRow, sources: Mapping[str, Mapping[str, float]]) -> tuple[float, str]:
    return (0.0, "") if row.ok else (1.0, f"failed: {row.error or 'no reason recorded'}")


def _uncertainty(row: ResultRow, sources: Mapping[str, Mapping[str, float]]) -> tuple[float, str]:
    best, said = 0.0, ""
    for name, scores in sources.items():
        if not scores:
            continue
        each = {label: 1.0 - abs(2.0 * p - 1.0) for label, p in scores.items()}
        value = sum(each.values()) / len(each)
        if value > best:
            label = max(each, key=lambda k: (each[k], k))
            best = value
            said = (
                f"uncertain: {name} {value:.2f} over its labels (most: {label} {scores[label]:.2f})"
            )
    return best, said


def _disagreement(row: ResultRow, sources: Mapping[str, Mapping[str, float]]) -> tuple[float, str]:
    best, said = 0.0, ""
    names = sorted(sources)
    for n, first in enumerate(names):
        for second in names[n + 1 :]:
            for label in sources[first].keys() & sources[second].keys():
                a, b = sources[first][label], sources[second][label]
                if abs(a - b) > best:
                    best = abs(a - b)
                    said = f"disagree: {label} {first} {a:.2f} vs {second} {b:.2f}"
    return best, said


# name -> signal. A new signal (issue 33's `uncertified`, say) is one entry here.
SIGNALS: dict[str, Signal] = {
    "failed": Signal(1.0, _failed),
    "uncertainty": Signal(1.0, _uncertainty),
    "disagreement": Signal(1.0, _disagreement),
}


def score_row(row: ResultRow, signals: Mapping[str, Signal] = SIGNALS) -> Picked:
    """The row's score (the weighted sum of its signals) and why."""
    sources = sources_of(row)
    measured = {name: signal.measure(row, sources) for name, signal in signals.items()}
    score = sum(signals[name].weight * value for name, (value, _) in measured.items())
    reasons = sorted(
        ((signals[name].weight * value, said) for name, (value, said) in measured.items() if said),
        reverse=True,
    )
    return Picked(
        row,
        round(score, 4),
        "; ".join(said for _, said in reasons),
        {name: round(value, 4) for name, (value, _) in measured.items()},
    )


def pick_rows(
    rows: Iterable[ResultRow],
    labels: Sequence[str],
    *,
    budget: int,
    seed: int = 0,
    coverage: float = 0.2,
    signals: Mapping[str, Signal] = SIGNALS,
) -> list[Picked]:
    """The `budget` rows most worth reviewing, in the order picked (see the module)."""
    scored = [score_row(row, signals) for row in rows]
    random.Random(seed).shuffle(scored)  # ties broken by the seed, never by file order
    scored.sort(key=lambda picked: -picked.score)  # stable: the shuffle orders equal scores
    chosen: dict[str, Picked] = {}
    held = Counter(label for picked in scored for label in picked.row.predicted)
    quota = round(budget * coverage)
    per_label = max(1, quota // max(1, len(labels))) if quota else 0
    for label in sorted(labels, key=lambda name: (held[name], name)):  # rarest first
        if len(chosen) >= min(quota, budget):
            break
        candidates = [
            picked for picked in scored if picked.row.id not in chosen and _holds(picked.row, label)
        ]
        for picked in candidates[:per_label]:
            note = f"covers rare label {label} ({held[label]} rows of the run hold it)"
            why = f"{note}; {picked.why}" if picked.why else note
            chosen[picked.row.id] = Picked(picked.row, picked.score, why, picked.signals)
    for picked in scored:
        if len(chosen) >= budget:
            break
        chosen.setdefault(picked.row.id, picked)
    return list(chosen.values())


def _holds(row: ResultRow, label: str) -> bool:
    if label in row.predicted:
        return True
    return any(scores.get(label, 0.0) >= COVERAGE_FLOOR for scores in sources_of(row).values())
