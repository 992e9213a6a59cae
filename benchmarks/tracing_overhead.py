"""What tracing and tracking cost a run (issue 36's figures), whole processes against
the loopback stub, alternating round by round; medians over the rounds.

    python benchmarks/tracing_overhead.py                 # 1,000 rows at 128 in flight, 3 rounds
    python benchmarks/tracing_overhead.py --rows 5000 --rounds 5

tracing   rows/s of `labelwise classify` with tracing=none against tracing=otel (every
          row, and tracing.rows=0.1: one row in ten), its spans
          (a run, a row and a call span a row) exported over OTLP/HTTP to a receiver in
          another process that decodes them (tests/support/otlp_receiver.py); target: under
          5% fewer rows/s
tracking  seconds of a whole run with tracking=none against tracking=mlflow (a folder
          store in the work folder); target: under 1 s more a run

The machine's load average is printed before and after: on a shared machine the figures
move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from throughput import overrides, start_stub, write_input  # noqa: E402

RECEIVER = """
import sys, time
from tests.support.otlp_receiver import OtlpReceiver
with OtlpReceiver() as receiver:
    print(receiver.url, flush=True)
    sys.stdin.read()
    print(len(receiver.spans), flush=True)
"""


def run_once(args: list[str], run: Path, env: dict[str, str]) -> tuple[float, float]:
    """(seconds of the whole process, rows/s inside the run)."""
    started = time.perf_counter()
    done = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{args} failed: {done.stderr[-2000:]}")
    if "warning" in done.stderr.lower() and "tracking" in done.stderr:
        raise SystemExit(f"tracking did not log: {done.stderr[-1000:]}")
    return seconds, float(json.loads((run / "record.json").read_text())["totals"]["rows_per_s"])


def classify(work: Path, api_base: str, concurrency: int, run: Path, *extra: str) -> list[str]:
    output = work / f"{run.name}.jsonl"
    return [
        sys.executable, "-m", "framework", "classify",
        f"input={work / 'in.jsonl'}", f"output={output}", f"hydra.run.dir={run}",
        *overrides(api_base, concurrency, "off", work / "cache.sqlite"), *extra,
    ]  # fmt: skip


def compare(
    name: str,
    variants: dict[str, list[str]],
    rounds: int,
    make: object,
    *,
    work: Path,
    env: dict[str, str],
) -> dict[str, list[tuple[float, float]]]:
    seen: dict[str, list[tuple[float, float]]] = {v: [] for v in variants}
    names = list(variants)
    for round_ in range(rounds):
        for variant in names if round_ % 2 == 0 else names[::-1]:
            run = work / f"{name}-{variant}-{round_}"
            seen[variant].append(run_once(make(run, *variants[variant]), run, env))  # type: ignore[operator]
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--tracking-rows", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
          f"{os.cpu_count()} cores")  # fmt: skip
    started = time.perf_counter()
    stub, api_base = start_stub(args.latency)
    receiver = subprocess.Popen(
        [sys.executable, "-c", RECEIVER], cwd=REPO, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert receiver.stdout is not None and receiver.stdin is not None
    endpoint = receiver.stdout.readline().strip()
    try:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            write_input(work / "in.jsonl", args.rows)
            env = {**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}

            def make(run: Path, *extra: str) -> list[str]:
                return classify(work, api_base, args.concurrency, run, *extra)

            traced = compare(
                "tracing",
                {
                    "off": [],
                    "otel": ["tracing=otel"],
                    "otel-rows0.1": ["tracing=otel", "tracing.rows=0.1"],
                },
                args.rounds,
                make,
                work=work,
                env=env,
            )
            print(
                f"\ntracing: {args.rows:,} rows, {args.concurrency} in flight, stub "
                f"{args.latency * 1000:.0f} ms, median of {args.rounds} alternating rounds"
            )
            rates = {}
            for variant, runs in traced.items():
                process = statistics.median(args.rows / s for s, _ in runs)
                inside = statistics.median(r for _, r in runs)
                rates[variant] = (process, inside)
                print(f"  {variant:<13} {process:8,.0f} rows/s (process) "
                      f"{inside:8,.0f} rows/s (in run)")  # fmt: skip
            for variant in ("otel", "otel-rows0.1"):
                for n, what in ((0, "process"), (1, "in run")):
                    loss = 1 - rates[variant][n] / rates["off"][n]
                    print(f"  overhead of {variant} ({what}): {loss * 100:.1f}%")

            write_input(work / "in.jsonl", args.tracking_rows)
            store = work / "mlruns"
            tracked = compare(
                "tracking",
                {"none": [], "mlflow": ["tracking=mlflow", f"tracking.uri={store}"]},
                args.rounds, make, work=work, env=env,
            )  # fmt: skip
            print(f"\ntracking: a run of {args.tracking_rows} rows, median of {args.rounds}")
            seconds = {v: statistics.median(s for s, _ in runs) for v, runs in tracked.items()}
            for variant, value in seconds.items():
                print(f"  tracking={variant:<7} {value:6.2f} s a run")
            print(f"  tracking adds {seconds['mlflow'] - seconds['none']:+.2f} s a run")
    finally:
        receiver.stdin.close()
        spans = receiver.stdout.readline().strip()
        receiver.wait(timeout=30)
        stub.terminate()
    print(f"\nreceiver decoded {spans} spans; total {time.perf_counter() - started:.0f} s")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
