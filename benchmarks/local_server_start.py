"""How long the embedded llama.cpp server takes to start, and whether parallel slots pay.

    python benchmarks/local_server_start.py --model smollm2-135m --runs 5
    python benchmarks/local_server_start.py --model qwen2.5-coder-1.5b --runs 3 --throughput

Prints the seconds until the server answers (median of --runs starts), then with
--throughput the requests per second of --requests short classification requests
sent --concurrency at a time (schema-constrained, max_tokens 30), once per layout
PxT: P server processes of T threads each, requests dealt round-robin as the engine does.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
from omegaconf import OmegaConf

from framework.config.schema import LocalServerSettings, ModelConfig
from framework.providers.local.models import ModelFile, resolve_model_file
from framework.providers.local.server import LocalServer
from framework.resources import conf_dir

LABELS = ["sports", "politics", "science", "business", "health"]
SUBJECTS = ["The city council", "A local team", "Researchers", "The central bank"]
EVENTS = [
    "wins the championship after extra time",
    "votes to raise taxes on sugary drinks",
    "finds water ice near the lunar south pole",
    "cuts interest rates for the first time in a year",
    "opens a new hospital wing for children",
    "announces a merger worth two billion",
    "bans phones in the stadium",
    "reports a vaccine trial success",
]
HEADLINES = [f"{subject} {event}" for subject in SUBJECTS for event in EVENTS]
SCHEMA = {
    "type": "object",
    "properties": {
        "labels": {
            "type": "array",
            "items": {"type": "string", "enum": LABELS},
            "uniqueItems": True,
            "maxItems": 3,
        }
    },
    "required": ["labels"],
}


@dataclass(frozen=True)
class Throughput:
    layout: str
    seconds: float
    requests: int
    completion_tokens: int
    latencies: tuple[float, ...]

    def line(self) -> str:
        return (
            f"{self.layout:>4}: {self.requests / self.seconds:6.2f} req/s, "
            f"{self.completion_tokens / self.seconds:6.1f} completion tok/s, "
            f"latency median {statistics.median(self.latencies):.2f} s, "
            f"wall {self.seconds:.1f} s"
        )


def load_model(name: str) -> tuple[ModelConfig, ModelFile]:
    raw = OmegaConf.to_container(OmegaConf.load(conf_dir() / "model" / f"{name}.yaml"))
    config = ModelConfig.model_validate(raw)
    if config.gguf is None:
        raise SystemExit(f"model {name} has no GGUF file; pick a local model from conf/model/")
    began = time.perf_counter()
    model = resolve_model_file(config.gguf, name=name)
    print(f"resolve_model_file: {time.perf_counter() - began:.3f} s -> {model.path}")
    return config, model


def measure_starts(model: ModelFile, name: str, runs: int, settings: LocalServerSettings) -> None:
    starts, stops = [], []
    for _ in range(runs):
        server = LocalServer(model, settings, alias=name)
        server.start()
        assert server.startup_seconds is not None
        starts.append(server.startup_seconds)
        began = time.perf_counter()
        server.stop()
        stops.append(time.perf_counter() - began)
    shown = ", ".join(f"{seconds:.2f}" for seconds in starts)
    print(
        f"start ({settings.parallel or 'auto'} process, {settings.n_threads or 'all'} threads): "
        f"median {statistics.median(starts):.2f} s [{shown}]; "
        f"stop median {statistics.median(stops):.2f} s"
    )


def ask(client: httpx.Client, url: str, name: str, headline: str) -> tuple[float, int]:
    body: dict[str, Any] = {
        "model": name,
        "messages": [
            {"role": "system", "content": f"Label the news headline with any of {LABELS}."},
            {"role": "user", "content": headline},
        ],
        "response_format": {"type": "json_object", "schema": SCHEMA},
        "max_tokens": 30,
        "temperature": 0,
        "seed": 0,
    }
    began = time.perf_counter()
    reply = client.post(f"{url}/chat/completions", json=body)
    reply.raise_for_status()
    return time.perf_counter() - began, int(reply.json()["usage"]["completion_tokens"])


def measure_throughput(
    model: ModelFile, name: str, layout: str, *, requests: int, concurrency: int, n_ctx: int
) -> Throughput:
    processes, threads = (int(part) for part in layout.split("x"))
    settings = LocalServerSettings(n_threads=processes * threads, parallel=processes, n_ctx=n_ctx)
    texts = [HEADLINES[number % len(HEADLINES)] for number in range(requests)]
    with LocalServer(model, settings, alias=name) as server, httpx.Client(timeout=600) as client:
        urls = server.urls
        for url in urls:  # warm up: first-request costs are not throughput
            ask(client, url, name, "Warm-up headline")
        began = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(
                pool.map(
                    lambda job: ask(client, urls[job[0] % len(urls)], name, job[1]),
                    enumerate(texts),
                )
            )
        seconds = time.perf_counter() - began
    latencies = tuple(latency for latency, _ in results)
    tokens = sum(count for _, count in results)
    return Throughput(layout, seconds, requests, tokens, latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m", help="a name from conf/model/")
    parser.add_argument("--runs", type=int, default=5, help="starts to time")
    parser.add_argument("--n-ctx", type=int, default=2048)
    parser.add_argument("--throughput", action="store_true", help="compare parallel layouts")
    parser.add_argument("--layouts", default="1x2,2x1,1x1", help="PxT: processes x threads")
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    config, model = load_model(args.model)
    if args.runs:
        measure_starts(model, config.name, args.runs, LocalServerSettings(n_ctx=args.n_ctx))
    if args.throughput:
        print(f"{args.requests} requests, {args.concurrency} concurrent, max_tokens 30:")
        for layout in args.layouts.split(","):
            result = measure_throughput(
                model,
                config.name,
                layout,
                requests=args.requests,
                concurrency=args.concurrency,
                n_ctx=args.n_ctx,
            )
            print(result.line(), flush=True)


if __name__ == "__main__":
    main()
