"""`labelwise serve` under load, against the loopback stub (issue 36's figures).

    python benchmarks/serve.py                     # 20 s load, 20 s 4x overload, 60 s soak
    python benchmarks/serve.py --soak 600          # the 10-minute memory soak
    python benchmarks/serve.py --rows-per-request 8

Three processes: the stub (50 ms a call), the service (run.concurrency = clients, cache
off: every row a call) and this one, whose aiohttp clients each send one request at a
time in bounded loops (a fixed duration each):

    load      `--clients` clients: rows/s, and p50/p99 of the latency each client sees
    overload  4x the clients, each request with deadline_ms: every answer must be labels or
              a 429 (counted: lost = neither, hung = no answer by deadline + 2 s)
    soak      `--clients` clients for `--soak` seconds: the service's RSS every 5 s

The clients share the cores with the service and the stub: rows/s is that of the whole
machine, and lower while other work runs on it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
ANSWER = '{"labels": ["science"]}'
counter = itertools.count()


@dataclass
class Tally:
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    rows: int = 0
    lost: int = 0  # an answer that is neither labels nor a 429
    hung: int = 0  # no answer by the deadline and 2 s more

    def count(self, status: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1


def start(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"http://127\.0\.0\.1:\d+", line)
    if found is None:
        process.kill()
        raise SystemExit(f"did not start: {command}: {line!r}")
    return process, found.group(0)


async def client(  # noqa: PLR0917
    session: aiohttp.ClientSession,
    url: str,
    until: float,
    tally: Tally,
    rows: int,
    deadline_ms: int | None,
) -> None:
    while time.monotonic() < until:
        body: dict[str, object] = {
            "rows": [{"text": f"row {next(counter)} about science"} for _ in range(rows)]
        }
        if deadline_ms is not None:
            body["deadline_ms"] = deadline_ms
        started = time.monotonic()
        limit = (deadline_ms or 30_000) / 1000 + 2
        try:
            async with asyncio.timeout(limit):
                async with session.post(url, json=body) as response:
                    answer = await response.json()
                    status = response.status
        except TimeoutError:
            tally.hung += 1
            continue
        except aiohttp.ClientError:
            tally.lost += 1
            continue
        tally.count(status)
        if status == 200 and all(row.get("status") == "ok" for row in answer["rows"]):
            tally.latencies.append(time.monotonic() - started)
            tally.rows += len(answer["rows"])
        elif status == 429:
            await asyncio.sleep(float(1))  # Retry-After says 1 s
        else:
            tally.lost += 1


async def phase(
    url: str, clients: int, seconds: float, rows: int, deadline_ms: int | None = None
) -> tuple[Tally, float]:
    tally = Tally()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        until = started + seconds
        await asyncio.gather(
            *(client(session, url, until, tally, rows, deadline_ms) for _ in range(clients))
        )
        elapsed = time.monotonic() - started
    return tally, elapsed


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


async def soak(url: str, pid: int, clients: int, seconds: float, rows: int) -> dict[str, object]:
    samples: list[float] = []

    async def sample() -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            samples.append(round(rss_mb(pid), 1))
            await asyncio.sleep(5)

    watcher = asyncio.ensure_future(sample())
    tally, elapsed = await phase(url, clients, seconds, rows)
    await watcher
    return {
        "seconds": round(elapsed),
        "rows": tally.rows,
        "rss_mb": samples,
        "rss_growth_mb": round(samples[-1] - samples[1], 1) if len(samples) > 2 else None,
    }


def summary(tally: Tally, elapsed: float) -> dict[str, object]:
    ms = sorted(x * 1000 for x in tally.latencies)
    quantile = (lambda q: round(ms[min(len(ms) - 1, int(q * len(ms)))], 1)) if ms else None
    return {
        "rows_per_s": round(tally.rows / elapsed, 1),
        "p50_ms": quantile(0.5) if quantile else None,
        "p99_ms": quantile(0.99) if quantile else None,
        "statuses": dict(sorted(tally.statuses.items())),
        "lost": tally.lost,
        "hung": tally.hung,
        "median_ms": round(statistics.median(ms), 1) if ms else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=128)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--seconds", type=float, default=20.0, help="load and overload, each")
    parser.add_argument("--soak", type=float, default=60.0, help="seconds (600: the issue's)")
    parser.add_argument("--rows-per-request", type=int, default=1)
    parser.add_argument("--deadline-ms", type=int, default=2000, help="overload's deadline")
    args = parser.parse_args()
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONPATH": str(REPO)}
    stub, stub_url = start(
        [
            sys.executable,
            "-m",
            "framework.testing",
            "--port",
            "0",
            "--latency",
            str(args.latency),
            "--content",
            ANSWER,
        ],
        env,
    )
    service, url = start(
        [
            sys.executable,
            "-m",
            "framework",
            "serve",
            "--port",
            "0",
            "provider=openai_compatible",
            f"provider.api_base={stub_url}/v1",
            "model.name=stub",
            "taxonomy=news",
            f"run.concurrency={args.clients}",
            "cache.mode=off",
        ],
        env,
    )
    endpoint = f"{url}/v1/classify"
    try:
        results: dict[str, object] = {
            "clients": args.clients,
            "cores": os.cpu_count(),
            "load_avg_before": os.getloadavg(),
        }
        asyncio.run(phase(endpoint, 8, 2, args.rows_per_request))  # warm up
        pids = {"service": service.pid, "stub": stub.pid, "clients": os.getpid()}
        before = {name: cpu_s(pid) for name, pid in pids.items()}
        tally, elapsed = asyncio.run(
            phase(endpoint, args.clients, args.seconds, args.rows_per_request)
        )
        load = summary(tally, elapsed)
        load["cpu_ms_per_row"] = {  # where the cores went
            name: round(1000 * (cpu_s(pid) - before[name]) / max(1, tally.rows), 2)
            for name, pid in pids.items()
        }
        results["load"] = load
        results["overload_4x"] = summary(
            *asyncio.run(
                phase(
                    endpoint,
                    4 * args.clients,
                    args.seconds,
                    args.rows_per_request,
                    args.deadline_ms,
                )
            )
        )
        results["soak"] = asyncio.run(
            soak(endpoint, service.pid, args.clients, args.soak, args.rows_per_request)
        )
        results["load_avg_after"] = os.getloadavg()
        print(json.dumps(results, indent=2))
    finally:
        service.terminate()
        stub.terminate()
        service.wait(60)
        stub.wait(60)


if __name__ == "__main__":
    main()
