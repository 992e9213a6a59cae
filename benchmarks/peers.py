"""labelwise against instructor on GoEmotions-Ekman: the same rows, model, prompt and scoring.

    python benchmarks/peers.py                            # 300 rows, the local Qwen 1.5B
    python benchmarks/peers.py --input rows.jsonl --out outputs/benchmarks/peers-mine
    python benchmarks/peers.py --api-base http://127.0.0.1:8000/v1 --model NAME
    python benchmarks/peers.py --systems labelwise       # rerun one system, tabulate both

Needs the peer venv (benchmarks/README.md):
    python3.11 -m venv benchmarks/.venv-peers
    benchmarks/.venv-peers/bin/pip install instructor==1.17.0 openai==3.3.0

Without --api-base the model's llama.cpp servers are started here for
instructor exactly as `provider=local` starts them (same GGUF, same
provider.local settings: 2 processes of 1 thread), then stopped before
labelwise starts its own. With --api-base both systems use that server.
Both get labelwise's rendered prompt (messages), temperature/max_tokens/seed
from the model config, --concurrency rows in flight, no cache. instructor runs
in its own venv (benchmarks/peers_instructor.py): Mode.JSON, a response model
`labels: list[Literal[...]]`, its default re-asks. Both are scored with
framework.evaluation.metrics.compute_metrics against the input's gold labels, over the
same ids (a row a system did not return counts as failed). Writes
DIR/instructor/, DIR/labelwise/ and DIR/peers.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from framework.config.load import compose, load_run_config
from framework.config.schema import RunConfig
from framework.engine.prompt import PromptRenderer
from framework.evaluation.metrics import Metrics, compute_metrics
from framework.inputs.sampling import sample_rows
from framework.labels.label_set import LabelSet
from framework.labels.taxonomy import label_ids

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"
DEFAULT_INPUT = REPO / "outputs" / "benchmarks" / "strategies" / "test-300.jsonl"
PEER_PYTHON = REPO / "benchmarks" / ".venv-peers" / "bin" / "python"
PEER_SCRIPT = REPO / "benchmarks" / "peers_instructor.py"
SYSTEMS = ("instructor", "labelwise")
SAMPLE_SIZE, SAMPLE_SEED = 300, 0


@dataclass(frozen=True)
class Outcome:
    """One system's scores and speed on the input."""

    system: str
    metrics: Metrics
    rows_per_s: float | None
    calls: int
    elapsed: float | None
    tokens: int
    setup: str  # how it asked: library version, output mode, re-asks


def labelwise_overrides(model: str, api_base: str | None) -> list[str]:
    """What selects provider and model, the same for the prompt rendered here and the run."""
    if api_base is None:
        return ["+experiment=goemotions_ekman", "provider=local", f"model={model}"]
    # json_object with the schema: what labelwise sends the llama.cpp server (provider=local)
    return [
        "+experiment=goemotions_ekman",
        "provider=openai_compatible",
        f"provider.api_base={api_base}",
        f"model.name={model}",
        "provider.output_mode=json_object",
    ]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")


def choose_input(given: Path | None, out: Path) -> Path:
    """--input, else the strategies benchmark's test sample, else a fresh 300-row sample."""
    if given is not None:
        return given.resolve()
    if DEFAULT_INPUT.is_file():
        return DEFAULT_INPUT
    sample = out / f"sample-{SAMPLE_SIZE}-seed{SAMPLE_SEED}.jsonl"
    with DATA.open(encoding="utf-8") as handle:
        lines = sample_rows((line for line in handle if line.strip()), SAMPLE_SIZE, SAMPLE_SEED)
    out.mkdir(parents=True, exist_ok=True)
    sample.write_text("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    return sample


def peer_input(rows: Sequence[dict[str, Any]], config: RunConfig, path: Path) -> None:
    """Each row with the messages labelwise sends for it (text cut as labelwise cuts it)."""
    renderer = PromptRenderer(config.prompt, LabelSet.build(config.taxonomy, config.validation))
    limit = config.prompt.max_text_chars
    write_jsonl(
        path,
        [
            {
                "id": str(row["id"]),
                "gold": row.get("labels"),
                "messages": list(
                    renderer.render(str(row["text"])[:limit] if limit else str(row["text"]))
                ),
            }
            for row in rows
        ],
    )


@contextmanager
def local_servers(config: RunConfig) -> Iterator[Any]:
    """The model's llama.cpp servers, started as labelwise's provider=local starts them."""
    from framework.providers.local.models import resolve_model_file
    from framework.providers.local.server import LocalServer

    if config.model.gguf is None:
        raise SystemExit(f"model {config.model.name} has no GGUF file; pick one from conf/model/")
    model_file = resolve_model_file(config.model.gguf, name=config.model.name)
    settings = config.provider.local
    server = LocalServer(model_file, settings, alias=config.model.name, logprobs=settings.logprobs)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def run_instructor(
    config: RunConfig, input_path: Path, out: Path, api_base: str | None, concurrency: int
) -> None:
    if not PEER_PYTHON.is_file():
        raise SystemExit(f"no peer venv at {PEER_PYTHON}; see benchmarks/README.md")
    out.mkdir(parents=True, exist_ok=True)
    peer_rows = out / "input.jsonl"
    peer_input(read_jsonl(input_path), config, peer_rows)
    model = config.model
    labels = list(LabelSet.build(config.taxonomy, config.validation).ids)
    sampling = {
        "--temperature": model.temperature,
        "--max-tokens": model.max_tokens,
        "--seed": model.seed,
    }

    def command(bases: Sequence[str]) -> list[str]:
        return [
            str(PEER_PYTHON),
            str(PEER_SCRIPT),
            *(f"--api-base={b}" for b in bases),
            "--model",
            model.name,
            "--input",
            str(peer_rows),
            "--output",
            str(out / "results.jsonl"),
            "--labels",
            ",".join(labels),
            "--concurrency",
            str(concurrency),
            *(f"{flag}={value}" for flag, value in sampling.items() if value is not None),
        ]

    startup = 0.0
    if api_base is not None:
        run(command([api_base]))
    else:
        with local_servers(config) as server:
            startup = server.startup_seconds or 0.0
            run(command(server.urls))
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    # labelwise's elapsed includes starting its servers (it starts them on the first call)
    summary["server_startup"] = startup
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")


def run_labelwise(overrides: Sequence[str], input_path: Path, out: Path, concurrency: int) -> None:
    if out.exists():  # a run folder with results would resume: no calls, no timing
        print(f"removing the previous run {out}", flush=True)
        shutil.rmtree(out)
    run(
        [
            sys.executable,
            "-m",
            "framework",
            "classify",
            *overrides,
            f"input={input_path}",
            "sample.size=null",
            f"hydra.run.dir={out}",
            "cache.mode=off",
            f"run.concurrency={concurrency}",
            "run.progress=log",
        ]
    )


def run(command: Sequence[str]) -> None:
    print("$", " ".join(command), flush=True)
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    done = subprocess.run(list(command), cwd=REPO, env=env)
    if done.returncode != 0:
        raise SystemExit(f"exit status {done.returncode}: {' '.join(command[:4])} ...")


def outcome(system: str, out: Path, gold: dict[str, list[str]], config: RunConfig) -> Outcome:
    """Score a system's results over every input id; an id it did not return counts as failed."""
    results = {str(row["id"]): row for row in read_jsonl(out / "results.jsonl")}
    rows = [
        results.get(key) or {"id": key, "labels": [], "status": "failed", "error": "no result"}
        for key in gold
    ]
    metrics = compute_metrics(
        rows, label_ids(config.taxonomy), none_label=config.taxonomy.none_label, gold=gold
    )
    if system == "labelwise":
        record = json.loads((out / "record.json").read_text(encoding="utf-8"))
        totals = record["totals"]
        elapsed, calls, tokens = totals["elapsed"], totals["calls"], totals["total_tokens"]
        setup = (
            f"labelwise {record['versions'].get('labelwise', '?')}, output mode "
            f"{record['output_mode']['mode']}, validation max_retries "
            f"{record['config']['validation']['max_retries']}"
        )
    else:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        elapsed = summary["elapsed"] + summary.get("server_startup", 0.0)
        calls, tokens = summary["calls"], summary["prompt_tokens"] + summary["completion_tokens"]
        setup = (
            f"instructor {summary['versions']['instructor']} (openai "
            f"{summary['versions']['openai']}), Mode.{summary['mode']}, "
            f"max_retries {summary['max_retries']}"
        )
    rate = len(results) / elapsed if elapsed else None
    return Outcome(system, metrics, rate, calls, elapsed, tokens, setup)


def table(outcomes: Sequence[Outcome], title: str) -> str:
    def f1(value: float, low: float, high: float) -> str:
        return f"{value:.3f} [{low:.3f}, {high:.3f}]"

    lines = [
        title,
        "",
        "| system | macro-F1 [95% CI] | micro-F1 [95% CI] | exact match | failed rows | rows/s | calls |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        m = o.metrics
        rate = f"{o.rows_per_s:.2f}" if o.rows_per_s is not None else "-"
        lines.append(
            f"| {o.system} | {f1(m.macro.f1, m.macro_f1_ci.low, m.macro_f1_ci.high)} | "
            f"{f1(m.micro.f1, m.micro_f1_ci.low, m.micro_f1_ci.high)} | "
            f"{m.subset_accuracy:.3f} | {m.failed} | {rate} | {o.calls} |"
        )
    lines.append("")
    for o in outcomes:
        elapsed = f"{o.elapsed:.1f} s" if o.elapsed is not None else "-"
        lines.append(f"- {o.setup}: {o.metrics.scored} rows scored, {elapsed}, {o.tokens:,} tokens")
    lines.append(
        "- rows/s: rows over the seconds from the first row to the last answer, including "
        "the start of local servers (labelwise starts them on its first call)"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--input", type=Path, help=f"JSONL rows with gold (default: {DEFAULT_INPUT})")
    cli.add_argument(
        "--model",
        default="qwen2.5-coder-1.5b",
        help="a conf/model/ name, or with --api-base the name the server answers to",
    )
    cli.add_argument("--out", type=Path, default=REPO / "outputs" / "benchmarks" / "peers")
    cli.add_argument("--api-base", help="an OpenAI-compatible server already running")
    cli.add_argument("--concurrency", type=int, default=2, help="rows in flight, both systems")
    cli.add_argument(
        "--systems",
        default=",".join(SYSTEMS),
        help="which to run (default both); the table holds every system with results in --out",
    )
    args = cli.parse_args(argv)
    systems = [s for s in args.systems.split(",") if s]
    if unknown := set(systems) - set(SYSTEMS):
        cli.error(f"--systems: unknown {', '.join(sorted(unknown))}; known: {', '.join(SYSTEMS)}")

    out = args.out.resolve()
    input_path = choose_input(args.input, out)
    overrides = labelwise_overrides(args.model, args.api_base)
    config = load_run_config(compose(overrides))
    gold = {str(row["id"]): list(row.get("labels") or []) for row in read_jsonl(input_path)}
    print(f"{len(gold)} rows from {input_path}", flush=True)
    for system in systems:
        began = time.perf_counter()
        if system == "instructor":
            run_instructor(config, input_path, out / system, args.api_base, args.concurrency)
        else:
            run_labelwise(overrides, input_path, out / system, args.concurrency)
        print(f"{system}: {time.perf_counter() - began:.1f} s wall", flush=True)

    present = [s for s in SYSTEMS if (out / s / "results.jsonl").is_file()]
    outcomes = [outcome(system, out / system, gold, config) for system in present]
    where = args.api_base or f"local {config.model.name} (provider.local: "
    if args.api_base is None:
        local = config.provider.local
        where += f"{local.parallel or 'auto'} processes, n_threads {local.n_threads or 'all'})"
    title = (
        f"GoEmotions-Ekman, {len(gold)} rows ({input_path.name}), {where}, "
        f"{args.concurrency} rows in flight, {datetime.now():%Y-%m-%d %H:%M}"
    )
    report = table(outcomes, title)
    (out / "peers.md").write_text(report + "\n", encoding="utf-8")
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
