"""Metrics: hand-checked tiny cases, agreement with scikit-learn, bootstrap intervals."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import numpy as np
import pytest
from sklearn.metrics import f1_score, hamming_loss, jaccard_score, precision_recall_fscore_support

from framework.evaluation.metrics import Metrics, NoGoldLabels, bootstrap_f1, compute_metrics
from framework.results import ResultRow

LABELS = ("a", "b", "c")


def row(id: str, gold: list[str] | None, labels: list[str], status: str = "ok") -> ResultRow:
    result: dict[str, Any] = {"id": id, "labels": labels, "status": status}
    if gold is not None:
        result["gold"] = gold
    return ResultRow.from_json(result)


# gold [a] -> [a]; [a, b] -> [a]; [c] -> [b]; [b] -> failed (scored as [])
TINY = [
    row("1", ["a"], ["a"]),
    row("2", ["a", "b"], ["a"]),
    row("3", ["c"], ["b"]),
    row("4", ["b"], ["c"], status="failed"),
]


def test_a_hand_checked_case() -> None:
    m = compute_metrics(TINY, LABELS, resamples=10)
    a, b, c = m.per_label
    assert (a.precision, a.recall, a.f1, a.support, a.predicted) == (1, 1, 1, 2, 2)
    assert (b.precision, b.recall, b.f1, b.support, b.predicted) == (0, 0, 0, 2, 1)
    # c is never predicted (the failed row's "c" does not count): 0 by zero_division=0
    assert (c.precision, c.recall, c.f1, c.support, c.predicted) == (0, 0, 0, 1, 0)
    # micro: tp 2, fp 1, fn 3
    assert m.micro.precision == pytest.approx(2 / 3)
    assert m.micro.recall == pytest.approx(2 / 5)
    assert m.micro.f1 == pytest.approx(0.5)
    assert m.macro.f1 == pytest.approx(1 / 3)
    assert m.weighted.f1 == pytest.approx((2 * 1 + 2 * 0 + 1 * 0) / 5)
    assert m.samples.f1 == pytest.approx((1 + 2 / 3 + 0 + 0) / 4)
    assert m.subset_accuracy == 0.25
    assert m.hamming_loss == pytest.approx(4 / 12)
    assert m.jaccard_samples == pytest.approx((1 + 0.5 + 0 + 0) / 4)
    assert m.jaccard_macro == pytest.approx((1 + 0 + 0) / 3)
    assert (m.rows, m.scored, m.failed, m.failed_rate) == (4, 4, 1, 0.25)
    assert m.none_rate is None


def test_rows_without_gold_are_counted_but_not_scored() -> None:
    m = compute_metrics([*TINY, row("5", None, ["a"])], LABELS, resamples=10)
    assert (m.rows, m.scored) == (5, 4)
    assert m.micro.f1 == pytest.approx(0.5)


def test_gold_from_a_mapping_replaces_the_rows_gold() -> None:
    rows = [row("1", None, ["a"]), row("2", ["c"], ["b"])]
    m = compute_metrics(rows, LABELS, gold={"1": ["a"], "9": ["b"]}, resamples=10)
    assert (m.rows, m.scored, m.subset_accuracy) == (2, 1, 1.0)


def test_none_rate_and_unknown_labels() -> None:
    rows = [row("1", ["c"], ["c"]), row("2", ["a"], ["c"]), row("3", ["zz"], ["a", "yy"])]
    m = compute_metrics(rows, LABELS, none_label="c", resamples=10)
    assert m.none_rate == pytest.approx(2 / 3)
    assert m.unknown_labels == ("yy", "zz")
    assert m.per_label[0].predicted == 1  # "yy" was ignored, "a" kept


def test_no_gold_anywhere_raises() -> None:
    with pytest.raises(NoGoldLabels):
        compute_metrics([row("1", None, ["a"])], LABELS)


def random_rows(count: int, labels: list[str], seed: int = 1) -> list[ResultRow]:
    rng = random.Random(seed)
    rows = []
    for n in range(count):
        gold = rng.sample(labels, rng.randint(1, 2))
        guess = gold if rng.random() < 0.5 else rng.sample(labels, rng.randint(0, 2))
        status = "failed" if rng.random() < 0.05 else "ok"
        rows.append(row(f"r{n:05d}", gold, list(guess), status))
    return rows


def binarized(rows: list[ResultRow], labels: list[str]) -> tuple[Any, Any]:
    ordered = sorted(rows, key=lambda r: r.id)
    truth = np.array([[int(x in (r.gold or ())) for x in labels] for r in ordered])
    guess = np.array([[int(r.ok and x in r.labels) for x in labels] for r in ordered])
    return truth, guess


def test_every_point_estimate_equals_sklearn_on_the_same_matrices() -> None:
    labels = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
    rows = random_rows(500, labels)
    m = compute_metrics(rows, labels, resamples=10)
    y, p = binarized(rows, labels)
    for average in ("micro", "macro", "weighted", "samples"):
        expected = precision_recall_fscore_support(y, p, average=average, zero_division=0)[:3]
        got = getattr(m, average)
        assert (got.precision, got.recall, got.f1) == pytest.approx(expected)
    per_f1 = f1_score(y, p, average=None, zero_division=0)
    assert [s.f1 for s in m.per_label] == pytest.approx(list(per_f1))
    assert m.hamming_loss == pytest.approx(hamming_loss(y, p))
    assert m.jaccard_samples == pytest.approx(
        jaccard_score(y, p, average="samples", zero_division=0)
    )
    assert m.jaccard_macro == pytest.approx(jaccard_score(y, p, average="macro", zero_division=0))


def test_bootstrap_equals_sklearn_f1_on_the_same_resamples() -> None:
    labels = ["a", "b", "c", "d"]
    y, p = binarized(random_rows(200, labels), labels)
    micro_ci, macro_ci = bootstrap_f1(y, p, resamples=60, seed=5)
    generator = np.random.default_rng(5)
    micro, macro = [], []
    for _ in range(60):
        idx = generator.integers(0, len(y), len(y))
        micro.append(f1_score(y[idx], p[idx], average="micro", zero_division=0))
        macro.append(f1_score(y[idx], p[idx], average="macro", zero_division=0))
    assert (micro_ci.low, micro_ci.high) == pytest.approx(tuple(np.percentile(micro, [2.5, 97.5])))
    assert (macro_ci.low, macro_ci.high) == pytest.approx(tuple(np.percentile(macro, [2.5, 97.5])))


def test_intervals_hold_the_estimate_and_repeat_with_the_seed() -> None:
    labels = ["a", "b", "c", "d", "e"]
    rows = random_rows(400, labels)
    first = compute_metrics(rows, labels, resamples=300, seed=3)
    assert first.micro_f1_ci.low <= first.micro.f1 <= first.micro_f1_ci.high
    assert first.macro_f1_ci.low <= first.macro.f1 <= first.macro_f1_ci.high
    assert first.micro_f1_ci.high - first.micro_f1_ci.low < 0.2
    shuffled = list(rows)
    random.Random(9).shuffle(shuffled)  # rows finish in any order; the intervals must not care
    assert compute_metrics(shuffled, labels, resamples=300, seed=3) == first
    other = compute_metrics(rows, labels, resamples=300, seed=4)
    assert other.macro_f1_ci != first.macro_f1_ci


def test_to_dict_is_json_and_reads_back() -> None:
    m = compute_metrics(TINY, LABELS, none_label="c", resamples=20)
    data = json.loads(json.dumps(m.to_dict()))
    assert data["zero_division"] == 0 and data["resamples"] == 20
    assert {"micro", "macro", "weighted", "samples", "per_label", "macro_f1_ci"} <= set(data)
    assert Metrics.from_dict(data) == m


def test_five_thousand_rows_with_a_thousand_resamples_is_fast() -> None:
    labels = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
    rows = random_rows(5426, labels)
    started = time.perf_counter()
    compute_metrics(rows, labels, none_label="neutral", resamples=1000)
    assert time.perf_counter() - started < 5
