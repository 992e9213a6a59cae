"""Throughput under faults against the loopback stub (the hardening issue's benchmark).

    python benchmarks/faults.py                      # 2,000 rows at 32 in flight, 3 rounds
    python benchmarks/faults.py --rows 5000 --rounds 5 --concurrency 64

Each round runs `labelwise classify` as a whole process twice, alternating: once
against a stub that always answers well, once against one that mixes in 15% HTTP
500s, 10% 429s with Retry-After: 1, 5% malformed JSON and 5% labels outside the
taxonomy (a fixed seed). Both answer in 50 ms. It prints, per mix, the median of
the rounds: rows/s of the whole process (start-up included) and of the run itself
(record.json's rows_per_s), calls made, rows failed, and the ratio fault/no-fault
(goal: at least 0.5). Every run's results must hold each input id exactly once (a
row lost or written twice stops the benchmark).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ANSWER = '{"labels": ["science"]}'
MIX = "e500=0.15,e429=0.10,malformed=0.05,unknown=0.05"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_stub(latency: float, faults: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "framework.testing",
        "--port",
        str(port),
        "--latency",
        str(latency),
        "--content",
        ANSWER,
    ]
    if faults:
        command += ["--faults", faults]
    stub = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=REPO)
    assert stub.stdout is not None
    stub.stdout.readline()
    return stub, f"http://127.0.0.1:{port}/v1"


def one_run(
    api_base: str, source: Path, work: Path, concurrency: int, rows: int
) -> dict[str, float]:
    run = work / f"run-{time.monotonic_ns()}"
    output = run / "results.jsonl"
    command = [
        sys.executable,
        "-m",
        "framework",
        "classify",
        f"input={source}",
        f"output={output}",
        "provider=openai_compatible",
        f"provider.api_base={api_base}",
        "model.name=bench",
        f"run.concurrency={concurrency}",
        "cache.mode=off",
        "run.progress=off",
        f"hydra.run.dir={run}",
    ]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-2000:]
    totals = json.loads((run / "record.json").read_text())["totals"]
    check_every_id_once(output, rows)
    return {
        "process": totals["done"] / wall,
        "run": totals["rows_per_s"],
        "calls": totals["calls"],
        "failed": totals["failed"],
    }


def check_every_id_once(output: Path, rows: int) -> None:
    """SystemExit unless the results hold r0 .. r{rows-1}, each exactly once."""
    with output.open(encoding="utf-8") as handle:
        ids = [json.loads(line)["id"] for line in handle if line.strip()]
    expected = {f"r{n}" for n in range(rows)}
    if len(ids) != len(set(ids)) or set(ids) != expected:
        doubled = len(ids) - len(set(ids))
        lost = len(expected - set(ids))
        raise SystemExit(f"{output}: {lost} ids lost, {doubled} written twice")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.05)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"no faults": [], "fault mix": []}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        source = work / "in.jsonl"
        with source.open("w", encoding="utf-8") as handle:
            for n in range(args.rows):
                handle.write(json.dumps({"id": f"r{n}", "text": f"finding {n} about cells"}) + "\n")
        for _ in range(args.rounds):
            for name, faults in (("no faults", ""), ("fault mix", MIX)):
                stub, api_base = start_stub(args.latency, faults)
                try:
                    found = one_run(api_base, source, work, args.concurrency, args.rows)
                    results[name].append(found)
                finally:
                    stub.terminate()
                    stub.wait()
    medians = {
        name: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for name, runs in results.items()
    }
    print(
        f"{args.rows:,} rows, {args.concurrency} in flight, {args.latency * 1000:.0f} ms stub, "
        f"median of {args.rounds} alternating rounds; faults: {MIX}"
    )
    for name, m in medians.items():
        print(
            f"  {name:<10} process {m['process']:7.1f} rows/s   run {m['run']:7.1f} rows/s   "
            f"calls {m['calls']:7.0f}   failed rows {m['failed']:5.0f}"
        )
    ratio = medians["fault mix"]["run"] / medians["no faults"]["run"]
    whole = medians["fault mix"]["process"] / medians["no faults"]["process"]
    print(f"  ratio (run rows/s, fault mix / no faults): {ratio:.2f} (goal: at least 0.5)")
    print(f"  ratio (process rows/s): {whole:.2f}; every run wrote each of its ids once")


if __name__ == "__main__":
    main()
