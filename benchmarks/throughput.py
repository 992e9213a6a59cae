"""Rows/s of whole processes against the loopback stub (issue 13's benchmark).

    python benchmarks/throughput.py                        # 5,000 rows at 32 and 128 in flight
    python benchmarks/throughput.py --rounds 5 --only http,aiohttp
    python benchmarks/throughput.py --memory-rows 1000000  # peak memory, 1M rows, cache on

Each client is one process, timed from start to exit (imports included), and the
clients alternate round by round; medians over the rounds. The clients:

    http       labelwise classify, the default transport (cache off: every row a call)
    litellm    labelwise classify, provider.transport=litellm
    workers2   labelwise classify, run.workers=2
    ray        labelwise classify, run.executor=ray (a local cluster started by the run)
    bare-litellm, aiohttp   benchmarks/bare_loops.py sending the same compiled requests

Also the rows/s inside the run (totals.rows_per_s: without start-up), and peak RSS of
the process and its children (os.wait4). Then rows/s of a fully cached rerun.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from framework import Classifier
from framework.records import Completion, Usage
from framework.runner.run import classify_file

ANSWER = '{"labels": ["science"]}'


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_stub(latency: float) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    stub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "framework.testing",
            "--port",
            str(port),
            "--latency",
            str(latency),
            "--content",
            ANSWER,
        ],
        stdout=subprocess.PIPE,
    )
    assert stub.stdout is not None
    stub.stdout.readline()  # "stub server on ..."
    return stub, f"http://127.0.0.1:{port}/v1"


def write_input(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for n in range(rows):
            text = f"Researchers report finding number {n} about cells, chips and climate."
            handle.write(json.dumps({"id": f"r{n}", "text": text}) + "\n")
    return path


def overrides(api_base: str, concurrency: int, cache: str, cache_path: Path) -> list[str]:
    return [
        "provider=openai_compatible",
        f"provider.api_base={api_base}",
        "model.name=bench",
        f"run.concurrency={concurrency}",
        f"cache.mode={cache}",
        f"cache.path={cache_path}",
        "run.progress=off",
    ]


CLIENTS = ("http", "litellm", "workers2", "ray", "bare-litellm", "aiohttp")
REPO = Path(__file__).resolve().parent.parent


def write_requests(path: Path, api_base: str, source: Path) -> Path:
    """The first compiled request of each row, for the bare loops."""
    config = overrides(api_base, 32, "off", path.with_suffix(".sqlite"))
    with Classifier.from_config(config) as classifier, path.open("w") as handle:
        for line in source.open(encoding="utf-8"):
            (request,) = classifier.requests_for(json.loads(line)["text"])
            assert request is not None
            handle.write(json.dumps(dict(request.kwargs)) + "\n")
    return path


def command(client: str, concurrency: int, api_base: str, work: Path, run: Path) -> list[str]:
    if client in ("bare-litellm", "aiohttp"):
        return [
            sys.executable,
            str(REPO / "benchmarks" / "bare_loops.py"),
            f"--client={client.removeprefix('bare-')}",
            f"--requests={work / 'requests.jsonl'}",
            f"--api-base={api_base}",
            f"--concurrency={concurrency}",
        ]
    extra = {
        "http": [],
        "litellm": ["provider.transport=litellm"],
        "workers2": ["run.workers=2"],
        "ray": ["run.executor=ray"],
    }[client]
    output = work / f"out-{client}.jsonl"
    for stale in (output, output.with_name(output.name + ".run.json")):
        stale.unlink(missing_ok=True)
    return [
        sys.executable,
        "-m",
        "framework",
        "classify",
        f"input={work / 'in.jsonl'}",
        f"output={output}",
        f"hydra.run.dir={run}",
        *overrides(api_base, concurrency, "off", work / "cache.sqlite"),
        *extra,
    ]


def timed(args: list[str], run: Path) -> tuple[float, float | None, float]:
    """(seconds, rows/s inside the run or None, peak RSS in MB of the process and children)."""
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    out, err = process.communicate()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args} failed: {err.decode()[-2000:]}")
    inside = None
    record = run / "record.json"
    if record.exists():
        inside = json.loads(record.read_text())["totals"]["rows_per_s"]
    elif out.strip():
        inside = json.loads(out.decode().strip().splitlines()[-1])["rows_per_s"]
    # wait4's maxrss is the larger of the process and its reaped children (the workers);
    # Ray's raylet and actors are not its children: for ray it is the driver's alone.
    return seconds, inside, usage.ru_maxrss / 1024


def throughput(args: argparse.Namespace, work: Path) -> None:
    stub, api_base = start_stub(args.latency)
    try:
        write_input(work / "in.jsonl", args.rows)
        write_requests(work / "requests.jsonl", api_base, work / "in.jsonl")
        clients = [c for c in CLIENTS if not args.only or c in args.only.split(",")]
        for concurrency in args.concurrency:
            seen: dict[str, list[tuple[float, float | None, float]]] = {c: [] for c in clients}
            for round_ in range(args.rounds):
                order = clients if round_ % 2 == 0 else clients[::-1]
                for client in order:
                    run = work / f"run-{concurrency}-{client}-{round_}"
                    seen[client].append(
                        timed(command(client, concurrency, api_base, work, run), run)
                    )
            print(
                f"\n{args.rows:,} rows, {concurrency} in flight, stub {args.latency * 1000:.0f} ms "
                f"(wire limit {concurrency / args.latency:,.0f} rows/s), median of {args.rounds}:"
            )
            header = f"{'client':<14}{'rows/s (process)':>18}{'rows/s (in run)':>17}"
            print(f"{header}{'peak MB':>9}")
            for client, runs in seen.items():
                process = statistics.median(args.rows / seconds for seconds, _, _ in runs)
                inside = [r for _, r, _ in runs if r is not None]
                peak = statistics.median(mb for _, _, mb in runs)
                within = f"{statistics.median(inside):,.0f}" if inside else "-"
                print(f"{client:<14}{process:>18,.0f}{within:>17}{peak:>9,.0f}")
        warm = overrides(api_base, args.concurrency[0], "on", work / "warm.sqlite")
        labelwise_rate(warm, work / "in.jsonl", work / "out.jsonl")
        cached = labelwise_rate(warm, work / "in.jsonl", work / "out.jsonl")
        print(f"\nfully cached rerun of {args.rows:,} rows: {cached:,.0f} rows/s (in run)")
    finally:
        stub.terminate()


def labelwise_rate(config: list[str], source: Path, output: Path) -> float:
    output.unlink(missing_ok=True)
    with Classifier.from_config(config) as classifier:
        totals = asyncio.run(classify_file(classifier, source, output))
    assert totals.failed == 0, totals
    return totals.done / totals.elapsed


def memory(args: argparse.Namespace, work: Path) -> None:
    """Prefill the cache with an answer for every row, then run fully cached and read peak RSS."""
    source = write_input(work / "big.jsonl", args.memory_rows)
    cache_path = work / "big.sqlite"
    config = overrides("http://127.0.0.1:9/v1", 64, "on", cache_path)
    with Classifier.from_config(config) as classifier:
        completion = Completion(ANSWER, Usage(100, 8), 0.0)
        for line in source.open(encoding="utf-8"):
            (request,) = classifier.requests_for(json.loads(line)["text"])
            assert request is not None
            classifier.cache.put(request.key, completion)
    child = (
        "import asyncio, json, resource, sys\n"
        "from framework import Classifier\n"
        "from framework.runner.run import classify_file\n"
        "config, source, output = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]\n"
        "with Classifier.from_config(config) as c:\n"
        "    t = asyncio.run(classify_file(c, source, output))\n"
        "print(json.dumps({'rows': t.done, 'hits': t.cache_hits, 'seconds': t.elapsed,\n"
        "    'peak_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", child, json.dumps(config), str(source), str(work / "big-out.jsonl")],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    print(
        f"{found['rows']:,} rows, {found['hits']:,} from the cache, in {found['seconds']:.0f} s "
        f"({found['rows'] / found['seconds']:,.0f} rows/s); peak RSS {found['peak_mb']:.0f} MB"
    )
    print(
        f"(this process, which prefilled the cache: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help=f"some of {','.join(CLIENTS)}")
    parser.add_argument("--memory-rows", type=int, default=0, help="run the peak-memory test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.memory_rows:
            memory(args, Path(folder))
        else:
            throughput(args, Path(folder))


if __name__ == "__main__":
    main()
