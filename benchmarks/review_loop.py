"""The review loop on GoEmotions-Ekman (the shipped dev split only): the review queue
against random picks for active learning, audit on noisy gold, and agreement.

    python benchmarks/review_loop.py                 # all three, 3 seeds, ~1-2 min
    python benchmarks/review_loop.py --parts audit

active     per seed: 1,500 rows held out (never picked, never fit on); a 300-row labeled
           start; 5 rounds, each picking 100 rows of the rest for people to label (played
           by the gold) by framework.evaluation.review.queue.pick_rows (the trained
           model's probabilities as the row's source) or at random; the model refit each
           round. The model is the audit's cheap TF-IDF one (word 1-2-grams, liblinear
           logistic regression per label), so a run stays short on a shared machine.
           Macro-F1 on the held-out rows after the last round, with a 95% bootstrap
           interval (1,000 resamples of those rows), and the paired difference
           queue - random on the same resamples.
audit      per seed: 10% of the rows get wrong gold (half a label flipped to another,
           half a label dropped from a row holding two or more, else flipped); `audit`'s
           ranking (cleanlab on cross-fitted probabilities) against a random ranking:
           precision and recall of its top 10%.
agreement  a Label Studio export of 600 rows with two annotators simulated from gold
           (each flips each label's answer with probability 0.05 independently);
           per-label alpha from framework.evaluation.review.agreement against the
           krippendorff package called on the same matrix, and scikit-learn's Cohen's
           kappa beside it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEV = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"
sys.path.insert(0, str(REPO))

from framework.evaluation.review.agreement import (  # noqa: E402
    agreement,
    annotations_of,
    raters_of,
)
from framework.evaluation.review.audit import audit_gold, cheap_model  # noqa: E402
from framework.evaluation.review.queue import pick_rows  # noqa: E402
from framework.results import ResultRow  # noqa: E402


def load() -> tuple[list[dict[str, Any]], list[str]]:
    rows = [json.loads(line) for line in DEV.read_text().splitlines() if line]
    labels = sorted({label for row in rows for label in row["labels"]})
    return rows, labels


def matrix(rows: list[dict[str, Any]], labels: list[str]) -> Any:
    import numpy as np

    return np.array([[int(label in row["labels"]) for label in labels] for row in rows])


def macro_f1_interval(y: Any, predicted: dict[str, Any], draws: int, seed: int) -> dict[str, Any]:
    import numpy as np
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(y), size=(draws, len(y)))
    found: dict[str, Any] = {}
    resampled = {}
    for name, p in predicted.items():
        point = f1_score(y, p, average="macro", zero_division=0)
        values = np.array([f1_score(y[i], p[i], average="macro", zero_division=0) for i in picks])
        resampled[name] = values
        found[name] = (round(point, 4), *np.round(np.percentile(values, [2.5, 97.5]), 4))
    diff = resampled["queue"] - resampled["random"]
    found["_diff"] = diff
    found["queue - random"] = (
        round(found["queue"][0] - found["random"][0], 4),
        *np.round(np.percentile(diff, [2.5, 97.5]), 4),
    )
    return found


def active(rows: list[dict[str, Any]], labels: list[str], seeds: int, draws: int) -> dict[str, Any]:
    import numpy as np

    results = {}
    for seed in range(seeds):
        order = list(range(len(rows)))
        random.Random(seed).shuffle(order)
        held, rest = order[:1500], order[1500:]
        texts = [row["text"] for row in rows]
        y = matrix(rows, labels)
        predicted = {}
        for strategy in ("queue", "random"):
            labeled, unlabeled = list(rest[:300]), list(rest[300:])
            draw = random.Random(seed + 100)
            for _ in range(5):
                model = cheap_model().fit([texts[n] for n in labeled], y[labeled])
                if strategy == "queue":
                    scores = model.predict_proba([texts[n] for n in unlabeled])
                    result_rows = [
                        ResultRow(
                            str(n),
                            tuple(label for label, p in zip(labels, s, strict=True) if p >= 0.5),
                            extra={
                                "sources": {
                                    "trained": dict(zip(labels, map(float, s), strict=True))
                                }
                            },
                        )
                        for n, s in zip(unlabeled, scores, strict=True)
                    ]
                    picked = {
                        int(p.row.id) for p in pick_rows(result_rows, labels, budget=100, seed=seed)
                    }
                else:
                    picked = set(draw.sample(unlabeled, 100))
                labeled += sorted(picked)
                unlabeled = [n for n in unlabeled if n not in picked]
            model = cheap_model().fit([texts[n] for n in labeled], y[labeled])
            predicted[strategy] = (model.predict_proba([texts[n] for n in held]) >= 0.5).astype(int)
        results[f"seed {seed}"] = macro_f1_interval(y[held], predicted, draws, seed)
    for name in ("queue", "random", "queue - random"):
        results.setdefault("mean over seeds", {})[name] = round(
            float(np.mean([results[f"seed {s}"][name][0] for s in range(seeds)])), 4
        )
    # The mean difference's interval: each seed's resampled differences, averaged.
    mean_diff = np.mean([results[f"seed {s}"].pop("_diff") for s in range(seeds)], axis=0)
    results["mean over seeds"]["queue - random interval"] = [
        round(float(x), 4) for x in np.percentile(mean_diff, [2.5, 97.5])
    ]
    return results


def corrupt(rows: list[dict[str, Any]], labels: list[str], seed: int) -> tuple[list[Any], set[str]]:
    draw = random.Random(seed)
    noisy, wrong = [], set()
    chosen = set(draw.sample(range(len(rows)), len(rows) // 10))
    for n, row in enumerate(rows):
        held = list(row["labels"])
        if n in chosen:
            wrong.add(row["id"])
            if len(held) >= 2 and draw.random() < 0.5:
                held.remove(draw.choice(held))  # dropped
            else:
                out = draw.choice(held)
                held[held.index(out)] = draw.choice([x for x in labels if x not in held])
        noisy.append((row["id"], row["text"], held))
    return noisy, wrong


def audit(rows: list[dict[str, Any]], labels: list[str], seeds: int) -> dict[str, Any]:
    results = {}
    for seed in range(seeds):
        noisy, wrong = corrupt(rows, labels, seed)
        ranked = [row.id for row in audit_gold(noisy, labels)]
        shuffled = [row_id for row_id, _, _ in noisy]
        random.Random(seed + 1000).shuffle(shuffled)  # not the corruption's own stream
        top = len(ranked) // 10
        results[f"seed {seed}"] = {
            name: {
                "precision": round(len(set(order[:top]) & wrong) / top, 4),
                "recall": round(len(set(order[:top]) & wrong) / len(wrong), 4),
            }
            for name, order in (("audit", ranked), ("random", shuffled))
        }
    return results


def agreement_figures(rows: list[dict[str, Any]], labels: list[str]) -> dict[str, Any]:
    import krippendorff
    import numpy as np
    from sklearn.metrics import cohen_kappa_score

    draw = random.Random(7)
    sample = draw.sample(rows, 600)

    def noisy(truth: list[str]) -> list[str]:
        return sorted(x for x in labels if (x in truth) != (draw.random() < 0.05))

    tasks = [
        {
            "id": n,
            "data": {"row_id": row["id"], "text": row["text"]},
            "annotations": [
                {
                    "completed_by": who,
                    "result": [
                        {
                            "from_name": "labels",
                            "value": {"choices": noisy(row["labels"]) or ["neutral"]},
                        }
                    ],
                }
                for who in (1, 2)
            ],
        }
        for n, row in enumerate(sample)
    ]
    read = annotations_of(tasks, labels)
    ours = {f.label: f for f in agreement(raters_of(read), labels, bootstrap=300)}
    found = {}
    for label in labels:
        a = [int(label in read.by_row[r["id"]]["annotator 1"]) for r in sample]
        b = [int(label in read.by_row[r["id"]]["annotator 2"]) for r in sample]
        direct = krippendorff.alpha(
            reliability_data=np.array([a, b]), level_of_measurement="nominal"
        )
        item = ours[label]
        found[label] = {
            "alpha": round(item.alpha or 0.0, 4),
            "interval": [round(item.low or 0.0, 4), round(item.high or 0.0, 4)],
            "krippendorff package": round(float(direct), 4),
            "cohen kappa": round(float(cohen_kappa_score(a, b)), 4),
            "skipped": sum(read.skipped.values()),
        }
    return found


def main() -> None:
    cli = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    cli.add_argument("--parts", default="active,audit,agreement")
    cli.add_argument("--seeds", type=int, default=3)
    cli.add_argument("--draws", type=int, default=1000, help="bootstrap resamples")
    args = cli.parse_args()
    rows, labels = load()
    report: dict[str, Any] = {"rows": len(rows), "labels": labels}
    for part in args.parts.split(","):
        started = time.perf_counter()
        if part == "active":
            report[part] = active(rows, labels, args.seeds, args.draws)
        elif part == "audit":
            report[part] = audit(rows, labels, args.seeds)
        elif part == "agreement":
            report[part] = agreement_figures(rows, labels)
        report[f"{part} seconds"] = round(time.perf_counter() - started, 1)
        print(json.dumps({part: report[part]}), flush=True)
    out = REPO / "outputs" / "benchmarks" / "review_loop.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"-> {out}")


if __name__ == "__main__":
    main()
