"""Threshold calibration: the chosen thresholds maximise F-beta on the dev rows."""

from __future__ import annotations

import pytest

from framework.evaluation.calibration import beta_of, calibrate, f_beta_at
from framework.results import ResultRow


def rows(pairs: list[tuple[float, bool]]) -> list[ResultRow]:
    return [
        ResultRow(str(n), (), confidence={"x": p}, gold=("x",) if positive else ())
        for n, (p, positive) in enumerate(pairs)
    ]


def test_the_threshold_that_separates_the_classes_wins() -> None:
    data = rows([(0.1, False), (0.2, False), (0.3, True), (0.35, True), (0.4, True), (0.05, False)])
    (found,) = calibrate(data, ["x"])
    assert found.threshold == pytest.approx(0.3)
    assert found.before == 0.0 and found.after == pytest.approx(1.0) and found.support == 3


def test_f_beta_moves_the_threshold() -> None:
    data = rows([(0.9, True), (0.8, True), (0.7, False), (0.6, True), (0.5, False), (0.2, True)])
    recall = calibrate(data, ["x"], metric="f2")[0]
    precision = calibrate(data, ["x"], metric="f0.5")[0]
    assert recall.threshold < precision.threshold
    truth, scores = [True, True, False, True, False, True], [0.9, 0.8, 0.7, 0.6, 0.5, 0.2]
    for found, beta in ((recall, 2.0), (precision, 0.5)):
        best = max(f_beta_at(truth, scores, t, beta) for t in scores)
        assert found.after == pytest.approx(best)


def test_a_label_never_in_the_gold_keeps_the_default() -> None:
    (found,) = calibrate(rows([(0.9, False), (0.1, False)]), ["x"], default=0.5)
    assert found.threshold == 0.5 and found.support == 0


def test_rows_without_confidence_cannot_be_calibrated() -> None:
    with pytest.raises(ValueError, match="no rows with both a per-label confidence and gold"):
        calibrate([ResultRow("1", (), gold=("x",))], ["x"])


def test_metric_names() -> None:
    assert beta_of("f1") == 1 and beta_of("F0.5") == 0.5 and beta_of("f2") == 2
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        beta_of("accuracy")
