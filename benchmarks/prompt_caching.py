"""What prompt caching and flex processing save (issue 37's figures), against the stub with
the providers' published prices.

    python benchmarks/prompt_caching.py              # 1,000 GoEmotions-Ekman rows, ~1 min
    python benchmarks/prompt_caching.py --rows 200

Rows: the first N of examples/goemotions_ekman/dev.jsonl; prompt: a support team's
annotation guide ahead of the taxonomy (benchmarks/prompts/support_guide.v1.jinja, about
1,500 tokens shared by every request). Each run is `labelwise classify` in this process
against a StubServer whose prompt cache (framework.testing.prompt_cache) reports cached
tokens as each provider does; the uncached runs go to a stub whose cache never hits.

1. Anthropic's wire (claude-haiku-4-5, through litellm): prompt_caching=off against on.
2. OpenAI's wire (gpt-4o-mini, labelwise's http client): off against on.
   For both, the ledger's cost per 1,000 rows and the same computed by hand from the
   providers' published prices (PUBLISHED below, checked against litellm's table) and the
   tokens the stub reported, row by row; the two must agree to the cent.
3. Flex (gpt-5-mini, service_tier=flex, one request in 20 refused once as "resource
   unavailable") against run.mode=batch on the same rows, and the wall time of the flex
   run against an online run at the default tier.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from framework.cli.main import main  # noqa: E402
from framework.providers.price_table import model_prices  # noqa: E402
from framework.testing import (  # noqa: E402
    Reply,
    StubPromptCache,
    StubServer,
    flex_unavailable,
    wire_url,
)

ROWS = REPO / "examples" / "goemotions_ekman" / "dev.jsonl"
TEMPLATE = REPO / "benchmarks" / "prompts" / "support_guide.v1.jinja"
ANSWER = Reply(content='{"labels": ["joy"]}', completion_tokens=8)
# USD per million tokens, as the providers publish them (input, cache read, cache write,
# output); cache writes are Anthropic's 5-minute writes (1.25x input).
PUBLISHED: dict[str, tuple[float, float, float, float]] = {
    "claude-haiku-4-5": (1.00, 0.10, 1.25, 5.00),
    "gpt-4o-mini": (0.15, 0.075, 0.15, 0.60),
    "gpt-5-mini flex": (0.125, 0.0125, 0.125, 1.00),
}
TABLE_KEYS = (
    "input_cost_per_token",
    "cache_read_input_token_cost",
    "cache_creation_input_token_cost",
    "output_cost_per_token",
)


def classify(stub: StubServer, folder: Path, source: Path, *extra: str) -> dict[str, Any]:
    """One run; its record.json, with its rows and wall time beside it."""
    folder.mkdir(parents=True)
    started = time.perf_counter()
    code = main(
        [
            "classify",
            f"input={source}",
            f"output={folder / 'results.jsonl'}",
            f"hydra.run.dir={folder}",
            "taxonomy=goemotions_ekman",
            f"prompt.template={TEMPLATE}",
            "run.progress=off",
            "run.concurrency=64",
            "run.retry.base_delay=0",
            "batch.poll_interval=0.05",
            "cache.mode=off",
            *extra,
        ]
    )
    if code != 0:
        raise SystemExit(f"run failed ({code}): {extra}")
    record: dict[str, Any] = json.loads((folder / "record.json").read_text())
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    record["rows"], record["seconds"] = rows, time.perf_counter() - started
    return record


def by_hand(rows: list[dict[str, Any]], prices: tuple[float, float, float, float]) -> float:
    """The rows' cost from the published prices and the tokens each row reports."""
    plain, read, write, out = (p / 1e6 for p in prices)
    total = 0.0
    for row in rows:
        u = row["usage"]
        cached, written = u.get("cached_tokens", 0), u.get("cache_write_tokens", 0)
        total += (u["prompt_tokens"] - cached - written) * plain
        total += cached * read + written * write + u["completion_tokens"] * out
    return total


def check_published(name: str, model: str, suffix: str = "") -> None:
    """The published prices are litellm's table's (the ledger's source)."""
    table = model_prices(model) or {}
    for key, published in zip(TABLE_KEYS, PUBLISHED[name], strict=True):
        plain = table["input_cost_per_token" + suffix]  # a class without a price: the input's
        value = table.get(key + suffix, table.get(key, plain))
        assert abs(float(value) * 1e6 - published) < 1e-9, (name, key, value)


def caching(name: str, provider: str, model: str, args: argparse.Namespace, source: Path) -> None:
    base = (lambda s: wire_url(s, "anthropic")) if provider == "anthropic" else (lambda s: s.url)
    runs = {}
    for setting, cache in (("off", StubPromptCache(min_tokens=10**9)), ("on", StubPromptCache())):
        with StubServer(default=ANSWER, record=False, prompt_cache=cache) as stub:
            runs[setting] = classify(
                stub,
                args.out / f"{provider}-{setting}",
                source,
                f"provider={provider}",
                f"model={model}",
                f"provider.api_base={base(stub)}",
                f"provider.prompt_caching={setting}",
            )
    per = 1000 / args.rows
    print(f"\n{name} ({model}), {args.rows:,} rows, $ per 1,000 rows:")
    for setting, record in runs.items():
        ledger, hand = (
            record["totals"]["cost"] * per,
            by_hand(record["rows"], PUBLISHED[model]) * per,
        )
        usage = record["totals"]["usage"]
        print(
            f"  caching {setting:<3}  ledger ${ledger:.4f}  by hand ${hand:.4f}  "
            f"(prompt {usage['prompt_tokens']:,}, cached {usage['cached_tokens']:,}, "
            f"written {usage['cache_write_tokens']:,}; {record['seconds']:.1f} s)"
        )
        assert round(ledger, 2) == round(hand, 2), "the ledger and the hand computation differ"
    share = runs["on"]["totals"]["cost"] / runs["off"]["totals"]["cost"]
    saved = runs["on"].get("costs", {}).get("prompt_caching", {}).get("saved")
    print(f"  on / off = {share:.1%}; record.json says caching saved ${saved:.4f}")


def flex(args: argparse.Namespace, source: Path) -> None:
    model = ["provider=openai", "model=gpt-4o-mini", "model.name=gpt-5-mini"]
    refused: set[str] = set()

    def responder(body: dict[str, Any]) -> Reply:
        text = body["messages"][-1]["content"][-400:]
        flexed = body.get("service_tier") == "flex"
        if flexed and zlib.crc32(text.encode()) % 20 == 0 and text not in refused:
            refused.add(text)
            return flex_unavailable()
        return ANSWER

    with StubServer(responder=responder, record=False, prompt_cache=StubPromptCache(10**9)) as s:
        url = f"provider.api_base={s.url}"
        online = classify(s, args.out / "online", source, *model, url)
        flexed = classify(s, args.out / "flex", source, *model, url, "provider.service_tier=flex")
        batch = classify(
            s, args.out / "batch", source, *model, url, "run.mode=batch", "cache.mode=on"
        )
    per = 1000 / args.rows
    print(f"\nflex (gpt-5-mini), {args.rows:,} rows, {len(refused)} flex requests refused once:")
    for name, record in (("online", online), ("flex", flexed), ("batch", batch)):
        t = record["totals"]
        print(
            f"  {name:<6}  ${t['cost'] * per:.4f} per 1,000 rows, {t['calls']:,} calls, {record['seconds']:.1f} s"
        )
    hand = by_hand(flexed["rows"], PUBLISHED["gpt-5-mini flex"]) * per
    print(
        f"  flex by hand ${hand:.4f}; flex / batch = {flexed['totals']['cost'] / batch['totals']['cost']:.4f}"
    )
    assert round(flexed["totals"]["cost"] * per, 2) == round(hand, 2)


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    os.environ.update(OPENAI_API_KEY="sk-bench", ANTHROPIC_API_KEY="sk-ant-bench")
    check_published("claude-haiku-4-5", "claude-haiku-4-5")
    check_published("gpt-4o-mini", "gpt-4o-mini")
    check_published("gpt-5-mini flex", "gpt-5-mini", "_flex")
    with tempfile.TemporaryDirectory() as tmp:
        args.out = Path(tmp)
        os.environ["LABELWISE_CACHE_DIR"] = str(args.out / "cache")
        source = args.out / "rows.jsonl"
        lines = ROWS.read_text(encoding="utf-8").splitlines()[: args.rows]
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        started = time.perf_counter()
        caching("Anthropic's wire", "anthropic", "claude-haiku-4-5", args, source)
        caching("OpenAI's wire", "openai", "gpt-4o-mini", args, source)
        flex(args, source)
        print(f"\nall runs: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main_()
