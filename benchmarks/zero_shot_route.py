"""The zero-shot scorer as a certified route tier, on GoEmotions-Ekman's dev split.

    python benchmarks/zero_shot_route.py --cache /tmp/h38b/dev-e5.npz        # 40 reps
    python benchmarks/zero_shot_route.py --cache /tmp/h38b/dev-e5.npz --recall 0.8

--cache FILE: the dev split's multilingual-e5-small vectors (embeddings=local) and the
taxonomy's prototypes, kept in one .npz file; made on the first run (about 3 minutes
on 2 cores), read on later ones. The shipped dev split only.

Seed 0 cuts the split once into a fit part (1,400 rows: the trained model, word TF-IDF
+ logistic regression, as benchmarks/routing.py fits it) and the rest; each seeded
repetition r reshuffles the rest into a calibration part (2,600 rows: the cosine scale
is fit on its texts and the tiers certified on it) and a report part (1,426 rows,
never seen). Reported per route ([zero_shot, human] and [trained, zero_shot, human])
and per cosine scale (cdf: each label's empirical CDF over the calibration texts;
softmax: a softmax over labels at temperature 0.01): the share of report rows the
machine tiers settle entirely, the share the zero-shot tier settles, and, for each
label, the realised precision of the machine's "present" decisions against the floor
(the share of repetitions where every label with 10 or more such decisions meets it,
and the lowest label's realised precision). The route [trained, human] is the baseline.
Means over the repetitions with the 2.5-97.5% range in brackets.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

DEV = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"


def load() -> tuple[list[str], np.ndarray, Any]:
    from framework.config.load import compose, load_run_config
    from framework.labels.label_set import LabelSet

    config = load_run_config(compose(["taxonomy=goemotions_ekman"]))
    labels = LabelSet.build(config.taxonomy, config.validation)
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    gold = np.array([[label in row["labels"] for label in labels.ids] for row in rows])
    return [row["text"] for row in rows], gold, labels


def vectors(texts: list[str], labels: Any, cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """The texts' vectors and the label texts' (in label_texts order), from --cache."""
    from framework.learning.zero_shot import label_texts

    if cache.exists():
        saved = np.load(cache)
        return saved["texts"], saved["labels"]
    from framework.config.schema import EmbeddingSettings
    from framework.providers.embeddings import Embedder

    settings = EmbeddingSettings(kind="local", model="multilingual-e5-small")
    embedder = Embedder(settings, cache_path=cache.with_suffix(".sqlite"), cache_mode="on")
    try:
        label_vectors = embedder.embed_now([t for g in label_texts(labels).values() for t in g])
        text_vectors = embedder.embed_now(texts)
    finally:
        embedder.close()
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, texts=text_vectors, labels=label_vectors)
    return np.asarray(text_vectors), np.asarray(label_vectors)


def one_repetition(seed: int, data: dict[str, Any], args: argparse.Namespace) -> list[dict]:
    from framework.learning.certify import Floors
    from framework.learning.routing import certify_route, route_rows
    from framework.learning.zero_shot_scale import CosineScale

    order = np.random.default_rng(seed).permutation(data["rest"])
    calib, report = order[: args.calibrate], order[args.calibrate :]
    gold, cosines, trained, labels = data["gold"], data["cosines"], data["trained"], data["ids"]
    found = []
    for recall in args.recall:
        floors = Floors.uniform(labels, precision=args.precision, recall=recall)
        for kind in ("cdf", "softmax"):
            # the scale is fit on the calibration texts, never on their labels
            scale = CosineScale.fit(data["prototypes"], cosines[calib], texts_digest="", kind=kind)
            tiers = {
                "trained": (trained, [0.5] * len(labels)),
                "zero_shot": (scale.scores(cosines), list(scale.centers)),
            }
            for names in (["zero_shot"], ["trained", "zero_shot"], ["trained"]):
                if names == ["trained"] and kind != "cdf":
                    continue  # no cosine in it: once is enough
                scores = [tiers[name][0] for name in names]
                route = certify_route(
                    names,
                    [s[calib] for s in scores],
                    gold[calib],
                    labels,
                    [tiers[name][1] for name in names],
                    floors,
                    alpha=args.alpha,
                )
                routed = route_rows(route, [s[report] for s in scores])
                machine = routed.tier < len(names)
                truth = gold[report][machine]
                said = routed.present[machine]
                precision = {}
                for n, label in enumerate(labels):
                    if said[:, n].sum() >= args.least:
                        precision[label] = float(
                            (said[:, n] & truth[:, n]).sum() / said[:, n].sum()
                        )
                found.append(
                    {
                        "recall": recall,
                        "kind": kind,
                        "route": "+".join(names),
                        "machine": float(machine.mean()),
                        "zero_shot": float(
                            (routed.tier == len(names) - 1).mean() if "zero_shot" in names else 0
                        ),
                        "precision": precision,
                    }
                )
    return found


def main() -> None:
    from benchmarks.routing import fit_trained
    from framework.learning.zero_shot import LabelPrototypes

    cli = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    cli.add_argument("--cache", type=Path, default=Path("/tmp/labelwise-dev-e5.npz"))
    cli.add_argument("--reps", type=int, default=40)
    cli.add_argument("--precision", type=float, default=0.8)
    cli.add_argument("--recall", type=float, nargs="+", default=[0.5, 0.8])
    cli.add_argument("--alpha", type=float, default=0.05)
    cli.add_argument("--calibrate", type=int, default=2600)
    cli.add_argument("--least", type=int, default=10, help="decisions a label needs to count")
    args = cli.parse_args()
    texts, gold, labels = load()
    text_vectors, label_vectors = vectors(texts, labels, args.cache)
    prototypes = LabelPrototypes.build(labels, label_vectors)
    order = np.random.default_rng(0).permutation(len(texts))
    fit, rest = order[:1400], order[1400:]
    model = fit_trained([texts[i] for i in fit], gold[fit])
    data = {
        "gold": gold,
        "ids": list(labels.ids),
        "prototypes": prototypes,
        "cosines": text_vectors @ prototypes.vectors.T,
        "trained": np.asarray(model.predict_proba(texts)),
        "rest": rest,
    }
    runs: dict[tuple[float, str, str], list[dict]] = {}
    for seed in range(1, args.reps + 1):
        for one in one_repetition(seed, data, args):
            runs.setdefault((one["recall"], one["kind"], one["route"]), []).append(one)
    print(
        f"precision floor {args.precision}, alpha {args.alpha}, {args.reps} repetitions, "
        f"{args.calibrate} calibration rows, {len(rest) - args.calibrate} report rows\n"
    )
    print(
        "| recall floor | scale | route | rows settled, no call | by the zero-shot tier "
        "| every label's realised precision >= floor | lowest realised precision |"
    )
    print("|---|---|---|---|---|---|---|")
    for (recall, kind, route), reps in runs.items():
        lowest = [min(r["precision"].values()) for r in reps if r["precision"]]
        held = [all(p >= args.precision for p in r["precision"].values()) for r in reps]
        print(
            f"| {recall} | {kind} | {route.replace('+', ', ')} | {_share([r['machine'] for r in reps])} "
            f"| {_share([r['zero_shot'] for r in reps])} | {np.mean(held):.0%} of {len(reps)} "
            f"| {_spread(lowest)} |"
        )


def _share(values: list[float]) -> str:
    low, high = np.percentile(values, [2.5, 97.5])
    return f"{np.mean(values):.1%} [{low:.1%}-{high:.1%}]"


def _spread(values: list[float]) -> str:
    if not values:
        return "no decision"
    low, high = np.percentile(values, [2.5, 97.5])
    return f"{np.median(values):.3f} [{low:.3f}-{high:.3f}]"


if __name__ == "__main__" and sys.argv[1:2] == ["--embed-only"]:
    texts, gold, labels = load()
    vectors(texts, labels, Path(sys.argv[2]))
    sys.exit(0)
if __name__ == "__main__":
    main()
