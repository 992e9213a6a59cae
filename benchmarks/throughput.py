"""Batch runner throughput against the loopback stub (issue 5's benchmark).

    python benchmarks/throughput.py                       # 5,000 rows at 32 and 128 in flight
    python benchmarks/throughput.py --memory-rows 1000000 # peak memory, 1M rows, cache on

For each concurrency: rows/s of a bare `litellm.acompletion` loop sending the
same requests, rows/s of labelwise (cache off, so every row is a call), and the
ratio (goal: at least 0.9). Then rows/s of a fully cached rerun (goal: over
5,000). The stub runs in its own process with a fixed latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import socket
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
            "framework.stub_server",
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


async def bare_litellm(
    classifier: Classifier, texts: list[str], concurrency: int, api_base: str
) -> float:
    import litellm

    requests = [r for text in texts for r in classifier.requests_for(text)[:1]]
    limit = asyncio.Semaphore(concurrency)

    async def one(kwargs: dict) -> None:  # type: ignore[type-arg]
        async with limit:
            await litellm.acompletion(**kwargs, api_base=api_base, api_key="x", max_retries=0)

    started = time.perf_counter()
    await asyncio.gather(*(one(dict(r.kwargs)) for r in requests if r is not None))
    return len(texts) / (time.perf_counter() - started)


def labelwise_rate(config: list[str], source: Path, output: Path) -> float:
    output.unlink(missing_ok=True)
    with Classifier.from_config(config) as classifier:
        totals = asyncio.run(classify_file(classifier, source, output))
    assert totals.failed == 0, totals
    return totals.done / totals.elapsed


def throughput(args: argparse.Namespace, work: Path) -> None:
    stub, api_base = start_stub(args.latency)
    try:
        source = write_input(work / "in.jsonl", args.rows)
        texts = [json.loads(line)["text"] for line in source.open(encoding="utf-8")]
        for concurrency in args.concurrency:
            cache_path = work / f"cache-{concurrency}.sqlite"
            config = overrides(api_base, concurrency, "off", cache_path)
            with Classifier.from_config(config) as classifier:
                bare = asyncio.run(bare_litellm(classifier, texts, concurrency, api_base))
            ours = labelwise_rate(config, source, work / "out.jsonl")
            print(
                f"concurrency {concurrency:>3}: bare litellm {bare:7.1f} rows/s, "
                f"labelwise {ours:7.1f} rows/s, ratio {ours / bare:.2f}"
            )
        warm = overrides(api_base, args.concurrency[0], "on", work / "warm.sqlite")
        labelwise_rate(warm, source, work / "out.jsonl")
        cached = labelwise_rate(warm, source, work / "out.jsonl")
        print(f"fully cached rerun of {args.rows:,} rows: {cached:,.0f} rows/s")
    finally:
        stub.terminate()


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
    parser.add_argument("--memory-rows", type=int, default=0, help="run the peak-memory test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        if args.memory_rows:
            memory(args, Path(folder))
        else:
            throughput(args, Path(folder))


if __name__ == "__main__":
    main()
