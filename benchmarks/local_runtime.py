"""The local model's runtime before and after: rows/s, output tokens an answer, macro-F1.

    python benchmarks/local_runtime.py                          # 60 rows, 2 rounds, ~15 min
    python benchmarks/local_runtime.py --rows 30 --rounds 3 --variants new,1x2
    python benchmarks/local_runtime.py --variants new,answer_first   # the prompt's share

Runs `labelwise classify +experiment=goemotions_ekman` (Qwen2.5-Coder-1.5B, the
goemotions_ekman taxonomy) on the same --rows GoEmotions-Ekman dev rows (drawn with --seed)
once per variant and round, the variants alternating within each round, each a whole
process from launch to exit (start-up, model load and the prompt's first evaluation
included; cache off). Variants:

    old           llama-cpp-python built from source (the [local-source] extra), the layout
                  today's default had: 2 processes of 1 thread, json_object with the schema
    new           xllamacpp (the [local] extra) with the compact grammar, auto layout
    new_pretty    xllamacpp with llama.cpp's own grammar from the schema (pretty-printed)
    1x2, 1x2s2    xllamacpp in 1 process of 2 threads, with 1 or 2 slots (the layout)
    answer_first  new, with a copy of the prompt that ends at the text (the answer form
                  stated before it), to show what the ~30 tokens after the text cost

Prints, per variant, the median rows/s over the rounds and each round's, output tokens
an answer, macro-F1 with its bootstrap 95% interval, and how many rows' labels match the
first variant's (same labels within the model's noise?). Needs both runtimes installed
(pip install -e ".[local-source]" beside ".[local,qwen]"). The machine is shared and
noisy: alternate, take medians, and read the load average printed with each run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from framework.inputs.sampling import sample_rows

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"
# new_pretty: the same xllamacpp server, the request as compiled (no compact grammar).
PRETTY = (
    "import dataclasses, sys; from framework.providers.local import runtimes as r; "
    "r.RUNTIMES['xllamacpp'] = dataclasses.replace(r.RUNTIMES['xllamacpp'], "
    "compact_answers=False); from framework.cli.main import main; sys.argv[0] = 'labelwise'; "
    "sys.exit(main())"
)
VARIANTS: dict[str, list[str]] = {
    "old": ["provider.local.runtime=llama_cpp_python", "provider.local.parallel=2"],
    "new": ["provider.local.runtime=xllamacpp"],
    "new_pretty": ["provider.local.runtime=xllamacpp"],
    "1x2": ["provider.local.runtime=xllamacpp", "provider.local.parallel=1"],
    "1x2s2": ["provider.local.runtime=xllamacpp", "provider.local.parallel=1", "+slots"],
    "answer_first": ["provider.local.runtime=xllamacpp", "+template"],
}


@dataclass
class Outcome:
    variant: str
    rows_per_s: list[float] = field(default_factory=list)
    tokens: list[float] = field(default_factory=list)
    macro: list[tuple[float, float, float]] = field(default_factory=list)
    labels: dict[str, list[str]] = field(default_factory=dict)  # the last round's


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--rows", type=int, default=60)
    cli.add_argument("--rounds", type=int, default=2)
    cli.add_argument("--seed", type=int, default=7)
    cli.add_argument("--variants", default="old,new,new_pretty")
    cli.add_argument("--out", type=Path)
    args = cli.parse_args()
    variants = args.variants.split(",")
    unknown = [name for name in variants if name not in VARIANTS]
    if unknown:
        print(f"unknown variants {unknown}; known: {', '.join(VARIANTS)}", file=sys.stderr)
        return 2
    stamp = f"{datetime.now():%Y-%m-%d_%H-%M-%S}"
    out = args.out or REPO / "outputs" / "benchmarks" / f"local-runtime-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    sample = out / f"sample-{args.rows}-seed{args.seed}.jsonl"
    with DATA.open("rb") as source:
        lines = sample_rows((line for line in source if line.strip()), args.rows, args.seed)
    sample.write_bytes(b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines))
    template = answer_first_template(out)
    outcomes = {name: Outcome(name) for name in variants}
    for round_number in range(args.rounds):
        order = variants if round_number % 2 == 0 else variants[::-1]  # alternate
        for name in order:
            run = out / f"{name}-{round_number}"
            wall = classify(name, sample, run, template)
            record(outcomes[name], run, len(lines), wall)
            rows_per_s = outcomes[name].rows_per_s[-1]
            load = os.getloadavg()[0]
            print(f"round {round_number} {name:>12}: {rows_per_s:.3f} rows/s, load {load:.1f}")
    print_table(list(outcomes.values()), len(lines))
    return 0


def classify(name: str, sample: Path, run: Path, template: Path) -> float:
    overrides = [o for o in VARIANTS[name] if not o.startswith("+")]
    if "+slots" in VARIANTS[name]:
        overrides.append("provider.local.slots=2")
    if "+template" in VARIANTS[name]:
        overrides.append(f"prompt.template={template}")
    head = ["-c", PRETTY] if name == "new_pretty" else ["-m", "framework"]
    command = [
        sys.executable,
        *head,
        "classify",
        "+experiment=goemotions_ekman",
        f"input={sample}",
        "sample.size=null",
        "cache.mode=off",
        "run.progress=off",
        f"hydra.run.dir={run}",
        *overrides,
    ]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{name} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall


def record(outcome: Outcome, run: Path, rows: int, wall: float) -> None:
    totals = json.loads((run / "record.json").read_text(encoding="utf-8"))["totals"]
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    outcome.rows_per_s.append(rows / wall)
    outcome.tokens.append(totals["usage"]["completion_tokens"] / max(1, totals["calls"]))
    ci = metrics["macro_f1_ci"]
    outcome.macro.append((metrics["macro"]["f1"], ci["low"], ci["high"]))
    results = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    outcome.labels = {row["id"]: sorted(row["labels"]) for row in results}


def print_table(outcomes: list[Outcome], rows: int) -> None:
    first = outcomes[0]
    print(f"\nGoEmotions-Ekman, {rows} dev rows, qwen2.5-coder-1.5b, whole process")
    print(
        "variant       rows/s (median; each round)     tokens/answer  macro-F1 [95% CI]   same labels"
    )
    for outcome in outcomes:
        median = statistics.median(outcome.rows_per_s)
        each = ", ".join(f"{value:.3f}" for value in outcome.rows_per_s)
        macro, low, high = outcome.macro[-1]
        same = sum(outcome.labels.get(i) == labels for i, labels in first.labels.items())
        print(
            f"{outcome.variant:<12}  {median:.3f} ({each}){'':<6} "
            f"{statistics.median(outcome.tokens):5.1f}          "
            f"{macro:.3f} [{low:.3f}, {high:.3f}]  {same}/{len(first.labels)}"
        )
    for outcome in outcomes[1:]:
        ratio = statistics.median(outcome.rows_per_s) / statistics.median(first.rows_per_s)
        print(f"{outcome.variant} / {first.variant}: {ratio:.2f}x rows/s")


def answer_first_template(out: Path) -> Path:
    """multilabel.v2 with its closing answer instruction moved before the text: what the
    tokens after the text cost (each row evaluates them again; those before are cached)."""
    text = (REPO / "prompts" / "multilabel.v2.jinja").read_text(encoding="utf-8")
    head, sep, tail = text.partition("<text>\n{{ text }}\n</text>\n")
    if not sep or not tail.startswith("\nAnswer with only"):
        raise SystemExit("multilabel.v2 changed; adjust answer_first_template")
    template = out / "answer_first.jinja"
    template.write_text(f"{head}{tail.strip()}\n\n{sep.rstrip()}\n", encoding="utf-8")
    return template


if __name__ == "__main__":
    raise SystemExit(main())
