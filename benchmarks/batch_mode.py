"""run.mode=batch against run.mode=online on the same rows (issue 14's figures).

    python benchmarks/batch_mode.py                  # 2,000 rows, 3 alternating rounds
    python benchmarks/batch_mode.py --rows 500 --rounds 1

Each run is a whole `labelwise classify` process (provider=openai, gpt-4o-mini, the
stub's chat route or its Files and Batches API, which completes a job at once), timed
from start to exit, online and batch alternating round by round; medians over rounds.
Then: the labels row by row, the ledger's cost, and a kill -9 in each phase of a batch
run (after upload, after create, while polling, while downloading) followed by a rerun,
counting at the stub what was uploaded, created and answered.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from framework.testing import StubServer  # noqa: E402
from tests.support.batch_runs import PHASES, answer_by_item, items  # noqa: E402


def labelwise(stub: StubServer, source: Path, folder: Path, *extra: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "framework", "classify", f"input={source}"]
    argv += [f"output={folder / 'results.jsonl'}", f"hydra.run.dir={folder}"]
    argv += ["provider=openai", f"provider.api_base={stub.url}", "model.name=gpt-4o-mini"]
    argv += ["run.progress=off", "run.concurrency=64", "batch.poll_interval=0.2", *extra]
    env = {
        **os.environ,
        "OPENAI_API_KEY": "sk-bench",
        "LABELWISE_CACHE_DIR": str(folder / "cache"),
    }
    return subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def timed(stub: StubServer, source: Path, folder: Path, *extra: str) -> float:
    started = time.perf_counter()
    process = labelwise(stub, source, folder, *extra)
    _, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(err)
    return time.perf_counter() - started


def labels(folder: Path) -> dict[str, list[str]]:
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    return {row["id"]: row["labels"] for row in rows}


def totals(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "record.json").read_text())["totals"])


def kill_in(phase: str, stub: StubServer, source: Path, folder: Path, rows: int) -> str:
    hold, reached = PHASES[phase]
    stub.batches.polls_per_step, stub.requests[:] = 1, []
    stub.batches.uploads[:], stub.batches.created[:] = [], []
    hold(stub)
    process = labelwise(stub, source, folder, "run.mode=batch")
    deadline = time.monotonic() + 120
    while not reached(stub):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{phase}: the run never got there: {process.communicate()[1]}")
        time.sleep(0.02)
    time.sleep(0.3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    stub.batches.hang.clear()
    stub.batches.fault = None
    timed(stub, source, folder, "run.mode=batch")
    done = labels(folder)
    return (
        f"| {phase} | {len(stub.batches.uploads)} | {len(stub.batches.created)} | "
        f"{len(stub.requests):,} | {len(done):,} of {rows:,} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="labelwise-batch-bench-"))
    source = items(work / "in.jsonl", args.rows)
    walls: dict[str, list[float]] = {"online": [], "batch": []}
    with StubServer(responder=answer_by_item, record=True) as stub:
        stub.batches.polls_per_step = 0
        for number in range(args.rounds):
            for mode in ("online", "batch") if number % 2 == 0 else ("batch", "online"):
                folder = work / f"{mode}-{number}"
                walls[mode].append(timed(stub, source, folder, f"run.mode={mode}"))
        online, batch = work / "online-0", work / "batch-0"
        same = labels(online) == labels(batch)
        cost = totals(online)["cost"], totals(batch)["cost"]
        print(f"{args.rows:,} rows, {args.rounds} alternating rounds, medians (whole process)\n")
        print("| mode | wall s | rows/s | cost (ledger) |")
        print("|---|---|---|---|")
        for mode, folder in (("online", online), ("batch", batch)):
            wall = statistics.median(walls[mode])
            spent = totals(folder)["cost"]
            print(f"| {mode} | {wall:.2f} | {args.rows / wall:,.0f} | ${spent:.6f} |")
        print(
            f"\nlabels identical row by row: {same}; batch / online cost: {cost[1] / cost[0]:.3f}"
        )
        print("\n| killed | uploads | jobs created | requests answered | rows in results |")
        print("|---|---|---|---|---|")
        for phase in PHASES:
            folder = work / f"kill-{phase.replace(' ', '-')}"
            print(kill_in(phase, stub, source, folder, args.rows))
    print(f"\n(run folders in {work})")


if __name__ == "__main__":
    main()
