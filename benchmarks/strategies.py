"""Output strategies on GoEmotions-Ekman: scores before and after calibration, and speed.

    python benchmarks/strategies.py                        # local Qwen, 150 + 300 rows
    python benchmarks/strategies.py --variants per_label:logprobs,checklist
    python benchmarks/strategies.py --models smollm2-135m,qwen2.5-coder-1.5b
    python benchmarks/strategies.py provider=openai model=gpt-4o-mini

A variant is STRATEGY[:CONFIDENCE] (confidence: logprobs, self_consistency; none
if left out). Two disjoint samples of the dev split (fixed seed): thresholds
are calibrated on one (`labelwise calibrate`) and every score is taken on the
other. For each variant: `labelwise classify` on the test sample (macro/micro-F1
with 95% intervals, rows/s); then, for variants with a confidence, a run on the
calibration sample, `labelwise calibrate`, and the test sample again with
thresholds.path (answered from the cache: no new calls). Reference: fine-tuned
BERT-base, macro-F1 0.62-0.64.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

from framework.inputs.sampling import sample_rows

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"
POOL = (150, 300)  # the calibration and test rows drawn at the defaults


def labelwise(*args: str) -> None:
    command = [sys.executable, "-m", "framework", *args]
    print("$", " ".join(command[2:]), flush=True)
    subprocess.run(command, cwd=REPO, check=True)


def samples(data: Path, cal: int, test: int, seed: int, out: Path) -> tuple[Path, Path]:
    """Disjoint calibration and test samples from one shuffled pool of POOL rows, so a
    smaller --cal or --test takes the first rows of the larger one (runs compare)."""
    pool_cal, pool_test = max(cal, POOL[0]), max(test, POOL[1])
    with data.open(encoding="utf-8") as handle:
        rows = sample_rows(handle, pool_cal + pool_test, seed)
    random.Random(seed).shuffle(rows)
    paths = out / f"cal-{cal}.jsonl", out / f"test-{test}.jsonl"
    paths[0].write_text("".join(rows[:pool_cal][:cal]), encoding="utf-8")
    paths[1].write_text("".join(rows[pool_cal:][:test]), encoding="utf-8")
    return paths


def scores(run: Path) -> dict[str, float]:
    metrics = json.loads((run / "metrics.json").read_text())
    record = json.loads((run / "record.json").read_text())
    totals = record["totals"]
    return {
        "macro": metrics["macro"]["f1"],
        "macro_ci": metrics["macro_f1_ci"],
        "micro": metrics["micro"]["f1"],
        "micro_ci": metrics["micro_f1_ci"],
        "rows_per_s": totals["done"] / totals["elapsed"] if totals["calls"] else float("nan"),
        "calls": totals["calls"],
    }


def interval(ci: dict[str, float]) -> str:
    return f"[{ci['low']:.3f}, {ci['high']:.3f}]"


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--cal", type=int, default=150)
    cli.add_argument("--test", type=int, default=300)
    cli.add_argument("--seed", type=int, default=0)
    cli.add_argument("--data", type=Path, default=DATA)
    cli.add_argument("--out", type=Path, default=REPO / "outputs" / "benchmarks" / "strategies")
    cli.add_argument(
        "--variants",
        default="labels_array,checklist,per_label:logprobs,labels_array:self_consistency",
        help="comma-separated STRATEGY[:CONFIDENCE]",
    )
    cli.add_argument("--models", default="", help="comma-separated models (default: the preset's)")
    cli.add_argument("--table-only", action="store_true", help="tabulate the runs already made")
    args, overrides = cli.parse_known_args()
    run = labelwise if not args.table_only else (lambda *_: None)  # --table-only: read runs made
    args.out.mkdir(parents=True, exist_ok=True)
    cal, test = samples(args.data, args.cal, args.test, args.seed, args.out)
    common = ["+experiment=goemotions_ekman", "sample.size=null", "run.progress=log", *overrides]
    table = []
    models = args.models.split(",") if args.models else [None]
    for model, variant in [(m, v) for m in models for v in args.variants.split(",")]:
        strategy, _, confidence = variant.partition(":")
        settings = [f"strategy={strategy}", f"strategy.confidence={confidence or 'none'}"]
        if strategy == "per_label":  # one text a server, so each reuses the prompt it shares
            settings.append("run.concurrency=2")
        if model:
            settings.append(f"model={model}")
        name = f"{model}-{variant}".replace(":", "-") if model else variant.replace(":", "-")
        runs = {part: args.out / f"{name}-{part}" for part in ("test", "cal", "calibrated")}
        run("classify", *common, *settings, f"input={test}", f"hydra.run.dir={runs['test']}")
        label = f"{model} {variant}" if model else variant
        row = {"variant": label, "before": scores(runs["test"])}
        if confidence:
            run("classify", *common, *settings, f"input={cal}", f"hydra.run.dir={runs['cal']}")
            thresholds = args.out / f"{name}-thresholds.json"
            run("calibrate", str(runs["cal"]), "--out", str(thresholds))
            run(
                "classify",
                *common,
                *settings,
                f"input={test}",
                f"thresholds.path={thresholds}",
                f"hydra.run.dir={runs['calibrated']}",
            )
            row["after"] = scores(runs["calibrated"])
        table.append(row)
    lines = [
        f"GoEmotions-Ekman, calibration {args.cal} rows / test {args.test} rows (seed {args.seed})",
        "| strategy:confidence | macro-F1 | micro-F1 | calibrated macro-F1 | calibrated micro-F1 | rows/s |",
        "|---|---|---|---|---|---|",
    ]
    for row in table:
        before, after = row["before"], row.get("after")
        calibrated = (
            (
                f"{after['macro']:.3f} {interval(after['macro_ci'])} | "
                f"{after['micro']:.3f} {interval(after['micro_ci'])}"
            )
            if after
            else "- | -"
        )
        lines.append(
            f"| {row['variant']} | {before['macro']:.3f} {interval(before['macro_ci'])} | "
            f"{before['micro']:.3f} {interval(before['micro_ci'])} | {calibrated} | "
            f"{before['rows_per_s']:.2f} |"
        )
    report = "\n".join(lines)
    (args.out / "strategies.md").write_text(report + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
