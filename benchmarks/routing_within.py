"""benchmarks/routing.py --target within: the trained tier certified against the strong
tier, so that the output stays within --delta of sending every row to the strong tier.

    python benchmarks/routing.py --target within --delta 0.02             # --by rows
    python benchmarks/routing.py --target within --delta 0.02 --by label

Same split, tiers and repetitions as benchmarks/routing.py; no people: the strong tier
(its decisions: the gold labels with --perturbed of the rows perturbed, fused with the
model) decides what the trained tier does not, and is the reference the calibration
rows certify against, with the gold labels.
- --by rows (framework.learning.certify_within_rows): the trained tier decides a whole
  row when every label's probability is at least the certified margin from 0.5, so
  macro-F1 stays within delta; the strong tier decides every label of the other rows.
- --by label (framework.learning.certify_within): each label's own margin keeps its F1
  within delta; the strong tier is asked for a row whenever a label is left open and
  decides the labels left open (the route's rule, framework.learning.routing).
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from routing import PRICE_IN, PRICE_OUT, oracle_share, strong_answers

from framework.learning.certify_within import certify_within, deciding_all, within_shortfalls
from framework.learning.certify_within_rows import certify_within_rows, decide_rows
from framework.learning.routing import route_rows


def per_label_f1(pred: np.ndarray, gold: np.ndarray) -> np.ndarray:
    tp = (pred & gold).sum(0)
    denominator = pred.sum(0) + gold.sum(0)
    return np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 1.0)


def within_repetition(
    seed: int, rest: np.ndarray, data: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    order = rng.permutation(rest)
    calib, report = order[: args.calibrate], order[args.calibrate :]
    gold, trained, tokens, labels = data["gold"], data["trained"], data["tokens"], data["labels"]
    strong = strong_answers(gold, rng, args.perturbed)
    fused = args.fuse * trained + (1 - args.fuse) * strong
    decided = fused >= 0.5  # the strong tier's decisions: the reference
    centers = [0.5] * len(labels)
    certify = (trained[calib], decided[calib], gold[calib], labels, centers)
    found: dict[str, Any] = {}
    if args.by == "rows":
        certificate = certify_within_rows("trained", *certify, delta=args.delta, alpha=args.alpha)
        taken, present = decide_rows(certificate, trained[report], decided[report])
        asked = ~taken
        found["margin"] = certificate.margin
        found["short"] = [] if certificate.shortfall() is None else [certificate.need]
        found["certified"] = [certificate.margin is not None] * len(labels)
    else:
        cheap = certify_within("trained", *certify, delta=args.delta, alpha=args.alpha)
        route = [cheap, deciding_all("strong", labels, centers)]
        routed = route_rows(route, [trained[report], fused[report]])
        taken, present = routed.tier == 0, routed.present
        asked = (routed.settled_by != 0).any(axis=1)
        found["short"] = within_shortfalls(
            decided[calib], gold[calib], labels, delta=args.delta, alpha=args.alpha
        )
        found["certified"] = [rule.hi is not None or rule.lo is not None for rule in cheap.rules]
    truth = gold[report]
    cost_row = tokens[report] * PRICE_IN + 12 * PRICE_OUT
    f1_strong, f1_routed = per_label_f1(decided[report], truth), per_label_f1(present, truth)
    return found | {
        "taken": float(taken.mean()),
        "cost_ratio": float(cost_row[asked].sum() / cost_row.sum()),
        "f1_routed": float(f1_routed.mean()),
        "f1_strong": float(f1_strong.mean()),
        "label_gap": f1_strong - f1_routed,
        "oracle_share": oracle_share(trained[report], decided[report], truth, args.delta),
    }


def report_within(
    runs: list[dict[str, Any]], labels: list[str], args: argparse.Namespace, took: float
) -> None:
    what = "macro-F1 (whole rows)" if args.by == "rows" else "each label's F1"
    print(
        f"routing --target within --by {args.by}: dev split, fit {args.fit} / calibrate "
        f"{args.calibrate} / report the rest, {len(runs)} repetitions, {what} within "
        f"{args.delta} of the strong tier, alpha {args.alpha}, strong tier "
        f"{args.perturbed:.0%} perturbed ({took:.0f} s)"
    )
    if args.by == "label":
        report_labels(runs, labels)
    else:
        margins = [run["margin"] for run in runs if run["margin"] is not None]
        shown = f"median {np.median(margins):.2f}" if margins else "none"
        short = [need for run in runs for need in run["short"]]
        print(f"\ncertified margin: {shown} ({len(margins)} of {len(runs)} repetitions)")
        if short:
            print(
                f"too few calibration rows in {len(short)} repetitions: {int(np.median(short))} needed"
            )
    gap = np.array([run["f1_strong"] - run["f1_routed"] for run in runs])
    for name, values in (
        ("rows the trained tier decides", np.array([run["taken"] for run in runs])),
        ("cost / all-strong", np.array([run["cost_ratio"] for run in runs])),
        ("macro-F1 all-strong", np.array([run["f1_strong"] for run in runs])),
        ("macro-F1 gap (strong - routed)", gap),
    ):
        low, high = np.percentile(values, [2.5, 97.5])
        print(
            f"{name}: {values.mean():.4f} [{low:.4f}, {high:.4f}] "
            f"(min {values.min():.4f}, max {values.max():.4f})"
        )
    print(f"macro-F1 gap <= {args.delta}: {(gap <= args.delta).mean():.0%} of repetitions")
    gaps = np.array([run["label_gap"] for run in runs])
    print(
        f"every label's F1 gap <= {args.delta}: {(gaps <= args.delta).all(axis=1).mean():.0%} "
        "of repetitions"
    )
    oracle = np.array([run["oracle_share"] for run in runs])
    print(
        f"oracle bound: at most {np.median(oracle):.0%} of rows (median; range "
        f"{oracle.min():.0%}-{oracle.max():.0%}) within {args.delta} macro-F1, knowing the truth"
    )


def report_labels(runs: list[dict[str, Any]], labels: list[str]) -> None:
    certified = np.array([run["certified"] for run in runs])
    gaps = np.array([run["label_gap"] for run in runs])
    print("\n| label | certified (reps) | F1 gap strong - routed, mean [max] | rows needed |")
    print("|---|---|---|---|")
    for n, label in enumerate(labels):
        needs = [s.need for run in runs for s in run["short"] if s.label == label]
        need = f"{int(np.median(needs))} (median, {len(needs)} reps short)" if needs else "-"
        print(
            f"| {label} | {certified[:, n].mean():.0%} | {gaps[:, n].mean():.4f} "
            f"[{gaps[:, n].max():.4f}] | {need} |"
        )
