"""Does a second stage that sees every label's first-stage probabilities (a model of
label co-occurrence) beat the shipped average of the TF-IDF and embedding models?

    python benchmarks/trained_stacking.py                # seeds 0 1 2
    python benchmarks/trained_stacking.py --seeds 0 --cache /tmp/bench-cache

The shipped dev split only. Each seed cuts it into a fit part (60%), a choice part
(20%) and a report part (20%). First stage: the presets' two models (TF-IDF, and the
local embedding model's vectors; C=1), cross-fitted 5-fold on the fit part. Second
stage, fit on those cross-fitted probabilities (logits):
    average      the shipped rule: the two models' mean (trained.combine=average)
    stack own    per label, a logistic regression on that label's two probabilities
    stack all    per label, a logistic regression on all labels' probabilities from
                 both models (what co-occurrence adds)
Each with per-label cuts chosen on cross-fitted scores of the fit part (trained.cuts=cv).
A recipe is chosen on the choice part; every recipe is shown on the report part too,
so a choice can be checked against rows it never read. Nothing here calls an LLM.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from trained_models import embed, interval, load, macro_f1  # noqa: E402

from framework.learning.ensemble import best_cuts, pipelines  # noqa: E402

FOLDS = 5


def logits(probabilities: np.ndarray) -> np.ndarray:
    p = np.clip(probabilities.reshape(len(probabilities), -1), 1e-4, 1 - 1e-4)
    return np.log(p / (1 - p))


def first_stage(inputs: list[Any], y: np.ndarray, parts: dict[str, np.ndarray]) -> dict[str, Any]:
    """rows x models x labels: cross-fitted on the fit part, fit on all of it elsewhere."""
    fit = parts["fit"]
    makes = pipelines("both", "average", 1.0)
    folds = np.arange(len(fit)) % FOLDS
    held = np.zeros((len(fit), len(makes), y.shape[1]))
    for k in range(FOLDS):
        train, test = fit[folds != k], fit[folds == k]
        for j, make in enumerate(makes):
            model = make().fit([inputs[n] for n in train], y[train])
            held[folds == k, j] = model.predict_proba([inputs[n] for n in test])
    fitted = [make().fit([inputs[n] for n in fit], y[fit]) for make in makes]
    found = {"fit": held, "folds": folds}
    for name in ("choose", "report"):
        rows = [inputs[n] for n in parts[name]]
        found[name] = np.stack([model.predict_proba(rows) for model in fitted], axis=1)
    return found


def stacked(first: dict[str, Any], y_fit: np.ndarray, every_label: bool) -> dict[str, Any]:
    """Per label, a regression on the first stage's logits: scores for each part, the
    fit part's cross-fitted (for the cuts)."""
    from sklearn.linear_model import LogisticRegression

    labels = y_fit.shape[1]

    def columns(n: int) -> Any:
        return slice(None) if every_label else [n, labels + n]

    def learner() -> Any:
        return LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000)

    features = logits(first["fit"])
    held = np.zeros(y_fit.shape)
    for k in range(FOLDS):
        train, test = first["folds"] != k, first["folds"] == k
        for n in range(labels):
            model = learner().fit(features[train][:, columns(n)], y_fit[train, n])
            held[test, n] = model.predict_proba(features[test][:, columns(n)])[:, 1]
    models = [learner().fit(features[:, columns(n)], y_fit[:, n]) for n in range(labels)]
    scores = {"fit": held}
    for name in ("choose", "report"):
        x = logits(first[name])
        scores[name] = np.stack(
            [model.predict_proba(x[:, columns(n)])[:, 1] for n, model in enumerate(models)], 1
        )
    return scores


def one_seed(inputs: list[Any], y: np.ndarray, seed: int) -> dict[str, tuple[float, ...]]:
    order = np.random.default_rng(seed).permutation(len(y))
    cut = [int(0.6 * len(y)), int(0.8 * len(y))]
    parts = dict(zip(("fit", "choose", "report"), np.split(order, cut), strict=True))
    first = first_stage(inputs, y, parts)
    recipes = {
        "average": {name: first[name].mean(axis=1) for name in ("fit", "choose", "report")},
        "stack own": stacked(first, y[parts["fit"]], every_label=False),
        "stack all": stacked(first, y[parts["fit"]], every_label=True),
    }
    found = {}
    for name, scores in recipes.items():
        cuts = best_cuts(scores["fit"], y[parts["fit"]])
        choose = macro_f1(y[parts["choose"]], scores["choose"] >= cuts)
        predicted = scores["report"] >= cuts
        low, high = interval(y[parts["report"]], predicted, seed)
        found[name] = (choose, macro_f1(y[parts["report"]], predicted), low, high)
    return found


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    cli.add_argument("--cache", type=Path, default=REPO / ".labelwise" / "bench-cache")
    args = cli.parse_args()
    started = time.monotonic()
    texts, y = load()
    vectors = embed(texts, args.cache)
    inputs = list(zip(texts, vectors, strict=True))
    print("| seed | recipe | choice part | report part [95% CI] | chosen |")
    print("|---|---|---|---|---|")
    for seed in args.seeds:
        found = one_seed(inputs, y, seed)
        chosen = max(found, key=lambda name: found[name][0])
        for name, (choose, report, low, high) in found.items():
            mark = "yes" if name == chosen else ""
            print(
                f"| {seed} | {name} | {choose:.3f} | {report:.3f} [{low:.3f}, {high:.3f}] | {mark} |"
            )
    print(f"\n({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
