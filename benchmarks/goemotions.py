"""GoEmotions (Ekman grouping) on a fixed sample: macro/micro-F1 with 95% intervals, speed.

    python benchmarks/goemotions.py                       # 300 rows, the local model
    python benchmarks/goemotions.py --size 150 model=smollm2-135m
    python benchmarks/goemotions.py --size 1000 provider=openai model=gpt-4o-mini

Runs `labelwise classify +experiment=goemotions_ekman` (any further arguments
are passed on as overrides) on a sample of --size rows drawn with --seed from
the dev split, written beside the run so the run's record names its exact
input. Prints the scores, the wall time and rows/s. Reference: fine-tuned
BERT-base, macro-F1 0.62-0.64.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from framework.inputs.sampling import sample_rows

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--size", type=int, default=300, help="rows in the sample (default 300)")
    cli.add_argument("--seed", type=int, default=0, help="sample seed (default 0)")
    cli.add_argument("--data", type=Path, default=DATA, help="the dev.jsonl to sample from")
    cli.add_argument("--out", type=Path, help="run folder (default: outputs/benchmarks/...)")
    args, overrides = cli.parse_known_args()
    if not args.data.is_file():
        print(f"no data at {args.data}; give --data PATH/dev.jsonl", file=sys.stderr)
        return 2
    stamp = f"{datetime.now():%Y-%m-%d_%H-%M-%S}"
    out = args.out or REPO / "outputs" / "benchmarks" / f"goemotions-{args.size}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    sample = out / f"sample-{args.size}-seed{args.seed}.jsonl"
    with args.data.open("rb") as source:
        lines = sample_rows((line for line in source if line.strip()), args.size, args.seed)
    sample.write_bytes(b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines))

    command = [
        sys.executable,
        "-m",
        "framework",
        "classify",
        "+experiment=goemotions_ekman",
        f"input={sample}",
        "sample.size=null",
        f"hydra.run.dir={out}",
        *overrides,
    ]
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(command, cwd=REPO, env=env)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        print(f"classify failed with exit status {done.returncode}", file=sys.stderr)
        return done.returncode
    report(out, len(lines), wall)
    return 0


def report(out: Path, rows: int, wall: float) -> None:
    record = json.loads((out / "record.json").read_text(encoding="utf-8"))
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    totals = record["totals"]
    macro, micro = metrics["macro_f1_ci"], metrics["micro_f1_ci"]
    print(
        f"\nGoEmotions-Ekman, {rows} rows, {record['model']['provider']}/{record['model']['name']}"
        f" ({record['output_mode']['mode']})"
    )
    print(f"  macro-F1  {metrics['macro']['f1']:.3f}  [{macro['low']:.3f}, {macro['high']:.3f}]")
    print(f"  micro-F1  {metrics['micro']['f1']:.3f}  [{micro['low']:.3f}, {micro['high']:.3f}]")
    print(
        f"  exact match {metrics['subset_accuracy']:.3f}; failed rows {metrics['failed']}; "
        f"'neutral' predicted on {metrics['none_rate']:.1%}"
    )
    print(
        f"  {wall:.1f} s wall ({totals['elapsed']:.1f} s classifying), "
        f"{totals['rows_per_s'] or 0:.2f} rows/s, {totals['calls']} calls, "
        f"{totals['total_tokens']:,} tokens"
    )
    print(f"  report: {out / 'report.md'}")


if __name__ == "__main__":
    raise SystemExit(main())
