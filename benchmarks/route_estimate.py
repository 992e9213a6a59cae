"""Does a routed run's estimate (record.json route.estimate) hold on rows it has not seen?

    python benchmarks/route_estimate.py --reps 40 --precision 0.6 --recall 0.3

GoEmotions-Ekman dev split only. The trained model of benchmarks/routing.py (word TF-IDF +
logistic regression) is fit on 1,400 rows; each seeded repetition certifies the route
[trained, human] on 2,600 others (as a run does: framework.learning.routing) and routes
the remaining 1,426 as an unlabeled run would, then estimates each label's precision and
recall of the machine-labeled rows with framework.learning.route_estimate (the method a
run uses) and sets the intervals against the realised figures on those rows. The LLM
tier is left out: a run does not estimate its part (docs/routing.md).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from routing import fit_trained, load

from framework.learning.certify import Floors
from framework.learning.route_estimate import (
    calibration_rates,
    estimate_output,
)
from framework.learning.routing import certify_route, route_rows


def one_repetition(seed: int, rest: np.ndarray, data: dict, args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(seed)
    order = rng.permutation(rest)
    calib, report = order[: args.calibrate], order[args.calibrate :]
    gold, trained, labels = data["gold"], data["trained"], data["labels"]
    floors = Floors.uniform(labels, precision=args.precision, recall=args.recall)
    route = certify_route(
        ["trained"],
        [trained[calib]],
        gold[calib],
        labels,
        [[0.5] * len(labels)],
        floors,
        alpha=args.alpha,
    )
    rates = calibration_rates(route[0], trained[calib], gold[calib], every_row_machine=False)
    routed = route_rows(route, [trained[report]])
    machine = routed.tier < 1
    truth = gold[report][machine]
    said = routed.present[machine]
    decisions = {
        label: {"trained": [int(said[:, n].sum()), int((~said[:, n]).sum())], "llm": [0, 0]}
        for n, label in enumerate(labels)
    }
    estimate = estimate_output(rates, {"decisions": decisions, "tiers": {}}, alpha=args.alpha)
    inside, widths = [], []
    for n, label in enumerate(labels):
        about = estimate["labels"][label]
        tp = int((said[:, n] & truth[:, n]).sum())
        p = tp / said[:, n].sum() if said[:, n].any() else None
        r = tp / truth[:, n].sum() if truth[:, n].any() else None
        ok = all(
            value is None or figure[1] - 1e-9 <= value <= figure[2] + 1e-9
            for value, figure in ((p, about["precision"]), (r, about["recall"]))
        )
        inside.append(ok)
        if p is not None:
            widths.append(about["precision"][2] - about["precision"][1])
    return {"inside": inside, "machine": float(machine.mean()), "widths": widths}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--fit", type=int, default=1400)
    parser.add_argument("--calibrate", type=int, default=2600)
    parser.add_argument("--precision", type=float, default=0.6)
    parser.add_argument("--recall", type=float, default=0.3)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    started = time.monotonic()
    texts, gold, labels = load()
    order = np.random.default_rng(0).permutation(len(texts))
    fit, rest = order[: args.fit], order[args.fit :]
    model = fit_trained([texts[n] for n in fit], gold[fit])
    trained = np.zeros(gold.shape)
    trained[rest] = model.predict_proba([texts[n] for n in rest])
    data = {"gold": gold, "trained": trained, "labels": labels}
    runs = [one_repetition(seed, rest, data, args) for seed in range(1, args.reps + 1)]
    inside = np.array([run["inside"] for run in runs])
    machine = np.array([run["machine"] for run in runs])
    print(f"python benchmarks/route_estimate.py {' '.join(sys.argv[1:])}")
    print(
        f"rows the trained tier settles: mean {machine.mean():.1%} "
        f"[{np.quantile(machine, 0.025):.1%}, {np.quantile(machine, 0.975):.1%}]"
    )
    for n, label in enumerate(labels):
        print(f"  {label:<10} intervals hold (P and R) in {inside[:, n].mean():.0%} of reps")
    widths = [w for run in runs for w in run["widths"]]
    if widths:
        print(f"precision interval width: median {np.median(widths):.3f}")
    print(
        f"every label's intervals hold: {inside.all(axis=1).mean():.0%} of {len(runs)} reps "
        f"({time.monotonic() - started:.0f} s)"
    )


if __name__ == "__main__":
    main()
