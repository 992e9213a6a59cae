"""A routed run whose llm tier is certified in the run (quality.llm_rows), on the made-up
news pool: the pool as calibration rows, an input, every text's gold labels, a stub
responder that answers them (right or wrong), and the further LLM tier of a second stub
(route.llms). Used by the route calibration, further tier and Ray executor tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from framework.testing import Reply, StubServer
from tests.support import write_jsonl
from tests.support.news_pool import mislabeled, noisy, pool_rows, route_args, text_of

# The pool's rows the trained model is unsure of (noisy) leave enough open rows for a
# sample of 320 to certify the llm tier at a floor of 0.7 with 80% confidence.
LLM_ROWS = 320
TARGET = ("quality.precision=0.7", "quality.alpha=0.2")


def setup(tmp_path: Path, count: int = 60) -> tuple[Path, Path, dict[str, list[str]]]:
    """The pool (the calibration rows), an input, and every text's gold labels."""
    pool_rows_ = noisy(mislabeled(400))
    rows = noisy(pool_rows(count, seed=9))
    for row in rows:
        row["id"], row["text"] = f"in-{row['id']}", f"{row['text']} input"
    table = {str(r["text"]): list(r["labels"]) for r in pool_rows_ + rows}  # type: ignore[call-overload]
    pool = write_jsonl(tmp_path / "pool.jsonl", pool_rows_)
    return pool, write_jsonl(tmp_path / "in.jsonl", rows), table


def answering(
    table: dict[str, list[str]], *, right: bool, delay: float = 0.0
) -> Callable[..., Reply]:
    def answer(request: dict[str, Any]) -> Reply:
        labels = table[text_of(request)]
        if not right:  # a confident wrong answer
            labels = ["space"] if "climate" in labels else ["climate"]
        return Reply(content=json.dumps({"labels": labels}), delay=delay)

    return answer


def args(pool: Path, *extra: str) -> list[str]:
    return route_args(pool, *TARGET, f"quality.llm_rows={LLM_ROWS}", *extra)


def further(server: StubServer, *extra: str) -> list[str]:
    """The route [trained, llm, strong, human], strong the second stub."""
    tier = ",".join([f"'provider.api_base={server.url}'", *extra])
    return ["route.tiers=[trained,llm,strong,human]", f"+route.llms.strong=[{tier}]"]


def in_batch(command: list[str]) -> list[str]:
    """A classify command against the stub as a run.mode=batch run on openai's wire
    (gpt-4o-mini at the stub: a provider with a batch API and batch prices)."""
    swapped = [
        "provider=openai"
        if part == "provider=openai_compatible"
        else "model.name=gpt-4o-mini"
        if part.startswith("model.name=")
        else part
        for part in command
    ]
    return [
        *swapped,
        "run.mode=batch",
        "batch.poll_interval=0.01",
        "batch.max_poll_interval=0.05",
    ]
