"""The instructor side of benchmarks/peers.py; runs in the peer venv, not labelwise's.

    benchmarks/.venv-peers/bin/python benchmarks/peers_instructor.py \\
        --api-base http://127.0.0.1:8000/v1 --model qwen2.5-coder-1.5b \\
        --input peer-input.jsonl --output results.jsonl \\
        --labels anger,disgust,fear,joy,neutral,sadness,surprise

Input rows: {"id", "messages", "gold"?}, the messages already rendered (peers.py
renders labelwise's own prompt for each text). Each row is classified with
`instructor.from_openai(OpenAI(base_url=...), mode=Mode.JSON)` and a response
model `labels: list[Literal[...labels]]`; instructor validates every answer
and re-asks with the validation errors (its default max_retries unless
--max-retries). Mode.JSON sends response_format {"type": "json_object"} (which
the llama-cpp-python server turns into a JSON grammar) and appends the schema
to the system message; instructor's JSON_SCHEMA mode sends type "json_schema",
which that server rejects, and tool calls need a function-calling chat format.

--concurrency rows are in flight at once, each on a client of its own; with
several --api-base (one per server process) the clients are spread over them,
so a row always goes to a server that is idle. Writes --output, one row per
input row: {"id", "labels", "gold", "status": "ok"|"failed", "error"?,
"attempts", "usage"}; and --summary (default: summary.json beside --output):
the wall time of the classification loop, calls, tokens and versions.
"""

from __future__ import annotations

import argparse
import inspect
import json
import queue
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

import instructor
from openai import OpenAI
from pydantic import BaseModel, create_model

ERROR_CHARS = 500  # of an error message kept on a failed row


@dataclass
class Worker:
    """One instructor client and what its current row has cost so far."""

    client: Any
    calls: int = 0
    usage: dict[str, int] = field(
        default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0}
    )

    def reset(self) -> None:
        self.calls = 0
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0}

    def on_call(self, *_: Any, **__: Any) -> None:
        self.calls += 1

    def on_response(self, response: Any) -> None:
        usage = getattr(response, "usage", None)
        for key in self.usage:
            self.usage[key] += int(getattr(usage, key, 0) or 0)


def response_model(labels: list[str]) -> type[BaseModel]:
    """`labels: list[Literal[*labels]]`, the model an instructor user would write."""
    choice = Literal[tuple(labels)]  # type: ignore[valid-type]
    return create_model("Labels", labels=(list[choice], ...))  # type: ignore[valid-type]


def make_worker(api_base: str, mode: instructor.Mode) -> Worker:
    openai_client = OpenAI(base_url=api_base, api_key="no-key")  # the server checks none
    worker = Worker(instructor.from_openai(openai_client, mode=mode))
    worker.client.on("completion:kwargs", worker.on_call)
    worker.client.on("completion:response", worker.on_response)
    return worker


def classify(
    workers: queue.Queue[Worker],
    row: dict[str, Any],
    model: type[BaseModel],
    request: dict[str, Any],
) -> dict[str, Any]:
    worker = workers.get()
    worker.reset()
    result: dict[str, Any] = {"id": row["id"], "labels": [], "gold": row.get("gold")}
    try:
        answer = worker.client.chat.completions.create(
            messages=row["messages"], response_model=model, **request
        )
        result.update(labels=list(answer.labels), status="ok")
    except Exception as error:  # a failed row is data: keep going
        text = " ".join(f"{type(error).__name__}: {error}".split())
        result.update(status="failed", error=text[:ERROR_CHARS])
    finally:
        workers.put(worker)
    result.update(attempts=worker.calls, usage=dict(worker.usage))
    return result


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument(
        "--api-base", action="append", required=True, help="repeat for several servers"
    )
    cli.add_argument("--model", required=True, help="the model name the server answers to")
    cli.add_argument("--input", type=Path, required=True)
    cli.add_argument("--output", type=Path, required=True)
    cli.add_argument("--summary", type=Path, help="default: summary.json beside --output")
    cli.add_argument("--labels", required=True, help="comma-separated label ids")
    cli.add_argument("--mode", default="JSON", help="an instructor.Mode name (default JSON)")
    cli.add_argument("--max-retries", type=int, help="re-asks (default: instructor's own default)")
    cli.add_argument("--concurrency", type=int, default=2)
    cli.add_argument("--temperature", type=float, default=0.0)
    cli.add_argument("--max-tokens", type=int)
    cli.add_argument("--seed", type=int)
    args = cli.parse_args(argv)

    rows = [
        json.loads(line) for line in args.input.read_text(encoding="utf-8").splitlines() if line
    ]
    mode = instructor.Mode[args.mode]
    model = response_model(args.labels.split(","))
    request: dict[str, Any] = {"model": args.model, "temperature": args.temperature}
    request |= {
        key: value
        for key, value in (
            ("max_tokens", args.max_tokens),
            ("seed", args.seed),
            ("max_retries", args.max_retries),
        )
        if value is not None
    }
    workers: queue.Queue[Worker] = queue.Queue()
    for number in range(args.concurrency):
        workers.put(make_worker(args.api_base[number % len(args.api_base)], mode))
    create = workers.queue[0].client.chat.completions.create
    max_retries = request.get(
        "max_retries", inspect.signature(create).parameters["max_retries"].default
    )

    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(lambda row: classify(workers, row, model, request), rows))
    elapsed = time.perf_counter() - started

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results), encoding="utf-8"
    )
    failed = sum(r["status"] == "failed" for r in results)
    summary = {
        "rows": len(results),
        "failed": failed,
        "elapsed": elapsed,
        "calls": sum(r["attempts"] for r in results),
        "prompt_tokens": sum(r["usage"]["prompt_tokens"] for r in results),
        "completion_tokens": sum(r["usage"]["completion_tokens"] for r in results),
        "mode": mode.name,
        "max_retries": max_retries,
        "max_retries_from": "--max-retries"
        if args.max_retries is not None
        else "instructor's default",
        "concurrency": args.concurrency,
        "api_bases": args.api_base,
        "request": request,
        "schema": model.model_json_schema(),
        "versions": {name: version(name) for name in ("instructor", "openai", "pydantic")},
        "python": sys.version.split()[0],
    }
    summary_path = args.summary or args.output.with_name("summary.json")
    summary_path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(
        f"instructor: {len(results)} rows ({failed} failed) in {elapsed:.1f} s, {summary['calls']} calls"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
