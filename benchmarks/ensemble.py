"""The trained model beside the LLM, and the cascade, on GoEmotions-Ekman.

    python benchmarks/ensemble.py                          # local Qwen 1.5B
    python benchmarks/ensemble.py --model smollm2-135m

From the shipped dev split: a score set (--score rows, seed 0) and a calibration set
(--calibrate rows, seed 1, drawn from the rest: no row in both). The trained model's
pool is the whole dev split, cross-fitted (a row is scored by the model fit without
its fold), so no row is scored by a model that saw its gold. Thresholds are fit on
the calibration set only (`labelwise calibrate`), then applied to the score set.
Every run is `labelwise classify +experiment=goemotions_ekman`; the LLM's answers
are cached, so the runs after the first of each set make no call. Prints macro- and
micro-F1 with 95% bootstrap intervals, LLM calls and rows/s per recipe.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEV = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"


def split(out: Path, score: int, calibrate: int) -> tuple[Path, Path]:
    lines = [line for line in DEV.read_text(encoding="utf-8").splitlines() if line.strip()]
    order = list(range(len(lines)))
    random.Random(0).shuffle(order)
    scored = sorted(order[:score])
    rest = order[score:]
    random.Random(1).shuffle(rest)
    calibration = sorted(rest[:calibrate])
    files = []
    for name, rows in (("score", scored), ("calibrate", calibration)):
        path = out / f"{name}.jsonl"
        path.write_text("".join(lines[n] + "\n" for n in rows), encoding="utf-8")
        files.append(path)
    return files[0], files[1]


def classify(folder: Path, source: Path, model: str, *extra: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "framework", "classify", "+experiment=goemotions_ekman"]
    command += [f"input={source}", "sample.size=null", f"model={model}", "run.progress=off"]
    command += [f"hydra.run.dir={folder}", *extra]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{folder.name} failed:\n{done.stderr[-3000:]}")
    record = json.loads((folder / "record.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    return {"totals": record["totals"], "metrics": metrics}


def calibrate(folder: Path) -> Path:
    out = folder / "thresholds.json"
    command = [sys.executable, "-m", "framework", "calibrate", str(folder), "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"calibrating {folder.name} failed:\n{done.stderr[-2000:]}")
    return out


def line(name: str, run: dict[str, Any]) -> str:
    m, t = run["metrics"], run["totals"]
    macro, micro = m["macro"]["f1"], m["micro"]["f1"]
    mci, uci = m["macro_f1_ci"], m["micro_f1_ci"]
    speed = t.get("rows_per_s")
    rows = t["ok"] + t["failed"]
    to_llm = t.get("by_path", {}).get("llm", 0 if name.startswith("trained model alone") else rows)
    return (
        f"| {name} | {macro:.3f} [{mci['low']:.3f}, {mci['high']:.3f}] | "
        f"{micro:.3f} [{uci['low']:.3f}, {uci['high']:.3f}] | {to_llm:,} ({to_llm / rows:.0%}) | "
        f"{t['calls']:,} | {'-' if speed is None else f'{speed:,.2f}'} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--score", type=int, default=500)
    parser.add_argument("--calibrate", type=int, default=300)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    stamp = f"{datetime.now():%Y-%m-%d_%H-%M-%S}"
    out = args.out or REPO / "outputs" / "benchmarks" / f"ensemble-{args.model}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    # $LABELWISE_CACHE_DIR set: an earlier --out's cache/ answers the LLM's calls again.
    os.environ.setdefault("LABELWISE_CACHE_DIR", str(out / "cache"))
    score, calibration = split(out, args.score, args.calibrate)
    pool = [f"trained.pool={DEV}"]
    ensemble = ["trained.use=ensemble", *pool]
    alone = ["trained.use=alone", *pool]

    runs: dict[str, dict[str, Any]] = {}
    # The calibration set: the LLM (its calls are cached for the runs after it) and the
    # trained model, each calibrated here only.
    classify(out / "calibrate-ensemble", calibration, args.model, *ensemble)
    ensemble_thresholds = calibrate(out / "calibrate-ensemble")
    classify(out / "calibrate-trained", calibration, args.model, *alone)
    trained_thresholds = calibrate(out / "calibrate-trained")
    # The score set.
    runs["LLM alone"] = classify(out / "score-llm", score, args.model)
    runs["trained model alone, thresholds 0.5"] = classify(
        out / "score-trained", score, args.model, *alone
    )
    runs["trained model alone, calibrated"] = classify(
        out / "score-trained-cal",
        score,
        args.model,
        *alone,
        f"thresholds.path={trained_thresholds}",
    )
    runs["ensemble (weight 0.6), thresholds 0.5"] = classify(
        out / "score-ensemble", score, args.model, *ensemble
    )
    runs["ensemble (weight 0.6), calibrated"] = classify(
        out / "score-ensemble-cal",
        score,
        args.model,
        *ensemble,
        f"thresholds.path={ensemble_thresholds}",
    )
    cascade = ["trained.use=cascade", *pool]
    for thresholds, name, suffix in (
        ([], "thresholds 0.5", ""),
        ([f"thresholds.path={ensemble_thresholds}"], "calibrated", "-cal"),
    ):
        for share in (0.1, 0.3, 0.5):
            runs[f"cascade llm_share={share}, {name}"] = classify(
                out / f"score-cascade-{share}{suffix}",
                score,
                args.model,
                *cascade,
                f"cascade.llm_share={share}",
                *thresholds,
            )
    print(f"GoEmotions-Ekman dev split, {args.model}: score {args.score} rows (seed 0), ")
    print(f"thresholds fit on {args.calibrate} other rows; pool: the dev split, cross-fitted\n")
    print("| recipe | macro-F1 [95% CI] | micro-F1 [95% CI] | rows to the LLM | calls | rows/s |")
    print("|---|---|---|---|---|---|")
    for name, run in runs.items():
        print(line(name, run))
    print(
        f"\n(run folders in {out}; the LLM's answers are cached after the first score-set run, "
        "so the later runs show 0 calls and the speed of cached answers: each ensemble makes "
        "the LLM-alone run's calls, each cascade a call for each row it sends to the LLM)"
    )


if __name__ == "__main__":
    main()
