"""The distilled cascade on GoEmotions-Ekman: no gold given to the run.

    python benchmarks/distill.py                         # local Qwen 1.5B, about 25 min
    python benchmarks/distill.py --model smollm2-135m

The input is --rows rows of the shipped dev split (the first of a seed-0 shuffle, so the
500 score rows of benchmarks/ensemble.py among them) with their gold labels taken out.
Each recipe is `labelwise classify +experiment=goemotions_ekman` on it; the results are
scored afterwards against the gold the runs never saw: over every row, and over the
rows outside the distillation sample (the ones the cascade decides).

  1. the distilled cascade, llm_share 0.3, on an empty cache: the LLM labels a sample
     of --sample rows, the model fit on its answers labels the rest, asking the LLM
     about the rows it is unsure of (real wall time)
  2. the LLM on every row (the cache answers the rows 1 asked; its rows/s is measured
     on the calls it makes, and its wall time for every row is rows / that rate)
  3. the distilled cascade at llm_share 0.1 and 0.5, and at 0.3 refit every 100 rows
     (their calls are in the cache: the wall time given is their LLM rows at 2's rate
     plus their own time)
  4. the cascade from the gold pool (the dev split, cross-fitted), llm_share 0.3, for
     comparison: that one has gold, the distilled ones none
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
sys.path.insert(0, str(REPO))

from framework.evaluation.metrics import compute_metrics  # noqa: E402
from framework.labels.taxonomy import label_ids  # noqa: E402
from framework.results import read_result_rows  # noqa: E402
from framework.runner.drivers.distill import SAMPLE_REASON as SAMPLE  # noqa: E402


def write_input(out: Path, count: int) -> tuple[Path, dict[str, list[str]]]:
    rows = [json.loads(line) for line in DEV.read_text(encoding="utf-8").splitlines() if line]
    order = list(range(len(rows)))
    random.Random(0).shuffle(order)
    chosen = [rows[n] for n in sorted(order[:count])]
    path = out / "input-without-gold.jsonl"
    path.write_text(
        "".join(json.dumps({"id": r["id"], "text": r["text"]}) + "\n" for r in chosen),
        encoding="utf-8",
    )
    return path, {str(r["id"]): list(r["labels"]) for r in chosen}


def classify(folder: Path, source: Path, model: str, *extra: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "framework", "classify", "+experiment=goemotions_ekman"]
    command += [f"input={source}", "sample.size=null", f"model={model}", "run.progress=off"]
    command += [f"hydra.run.dir={folder}", *extra]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{folder.name} failed:\n{done.stderr[-3000:]}")
    record: dict[str, Any] = json.loads((folder / "record.json").read_text())
    return record


def sampled_ids(folder: Path) -> set[str]:
    """The ids of a distilled run's sample (the same for every share: one seed)."""
    results = Path(json.loads((folder / "record.json").read_text())["results"])
    return {r.id for r in read_result_rows(results) if r.extra.get("sent_because") == SAMPLE}


def scores(folder: Path, gold: dict[str, list[str]], labels: list[str], sampled: set[str]) -> Any:
    """Macro- and micro-F1 over every row, and over the rows outside the sample."""
    results = Path(json.loads((folder / "record.json").read_text())["results"])
    rows = list(read_result_rows(results))
    rest = [r for r in rows if r.id not in sampled]
    return compute_metrics(rows, labels, gold=gold), compute_metrics(rest, labels, gold=gold)


def cell(metrics: Any) -> str:
    ci = metrics.macro_f1_ci
    return f"{metrics.macro.f1:.3f} [{ci.low:.3f}, {ci.high:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    stamp = f"{datetime.now():%Y-%m-%d_%H-%M-%S}"
    out = args.out or REPO / "outputs" / "benchmarks" / f"distill-{args.model}-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("LABELWISE_CACHE_DIR", str(out / "cache"))
    source, gold = write_input(out, args.rows)
    from framework.config.load import compose, load_run_config

    taxonomy = load_run_config(compose(["+experiment=goemotions_ekman"])).taxonomy
    labels = list(label_ids(taxonomy))
    distill = ["trained.use=cascade", f"trained.distill.sample={args.sample}"]

    records: dict[str, dict[str, Any]] = {}
    records["distilled cascade, llm_share 0.3"] = classify(
        out / "distilled-0.3", source, args.model, *distill, "cascade.llm_share=0.3"
    )
    records["LLM on every row"] = classify(out / "llm", source, args.model)
    llm = records["LLM on every row"]["totals"]
    rate = llm["calls"] / llm["elapsed"] if llm["calls"] else None  # the uncached calls
    for share in (0.1, 0.5):
        records[f"distilled cascade, llm_share {share}"] = classify(
            out / f"distilled-{share}", source, args.model, *distill, f"cascade.llm_share={share}"
        )
    records["distilled cascade, llm_share 0.3, refit_every 100"] = classify(
        out / "distilled-0.3-refit100",
        source,
        args.model,
        *distill,
        "cascade.llm_share=0.3",
        "trained.distill.refit_every=100",
    )
    gold_pool = ["trained.use=cascade", f"trained.pool={DEV}", "cascade.llm_share=0.3"]
    records["cascade from the gold pool, llm_share 0.3"] = classify(
        out / "gold-cascade-0.3", source, args.model, *gold_pool
    )

    folders = {
        "LLM on every row": "llm",
        "distilled cascade, llm_share 0.1": "distilled-0.1",
        "distilled cascade, llm_share 0.3": "distilled-0.3",
        "distilled cascade, llm_share 0.5": "distilled-0.5",
        "distilled cascade, llm_share 0.3, refit_every 100": "distilled-0.3-refit100",
        "cascade from the gold pool, llm_share 0.3": "gold-cascade-0.3",
    }
    print(
        f"GoEmotions-Ekman dev split, {args.model}: {args.rows} rows (seed 0), gold withheld "
        f"from the runs; distillation sample {args.sample} rows (trained.distill.seed 0)\n"
    )
    print(
        "| recipe | macro-F1, all rows [95% CI] | macro-F1, rows outside the sample | "
        "micro-F1, all | rows to the LLM | wall time |"
    )
    print("|---|---|---|---|---|---|")
    sampled = sampled_ids(out / "distilled-0.3")
    for name, folder in folders.items():
        record = records[name]
        totals = record["totals"]
        every, rest = scores(out / folder, gold, labels, sampled)
        rows = totals["ok"] + totals["failed"]
        to_llm = totals.get("by_path", {}).get("llm", rows)
        if name == "distilled cascade, llm_share 0.3" or rate is None:
            wall = f"{totals['elapsed']:,.0f} s"
        elif name == "LLM on every row":
            wall = f"~{rows / rate:,.0f} s (at {rate:.2f} calls/s)"
        else:
            wall = f"~{to_llm / rate + totals['elapsed']:,.0f} s"
        print(
            f"| {name} | {cell(every)} | {cell(rest)} | "
            f"{every.micro.f1:.3f} | {to_llm:,} ({to_llm / rows:.0%}) | {wall} |"
        )
    fits = records["distilled cascade, llm_share 0.3"]["trained"]["distill"]["fits"]
    print(f"\n(the 0.3 run's model: {fits[-1]['rows']} LLM answers, band {fits[-1]['cascade']})")
    print(f"(run folders in {out})")


if __name__ == "__main__":
    main()
