"""The baselines of benchmarks/throughput.py: the same requests, sent by a bare loop.

    python benchmarks/bare_loops.py --client aiohttp --requests R.jsonl --api-base URL --concurrency 128

R.jsonl holds one compiled request's kwargs a line (litellm's "openai/model" naming).
`litellm` sends each with litellm.acompletion (retries off), `aiohttp` posts the body
with one pooled ClientSession: what the wire allows a Python client on this machine.
Prints rows/s of the sending alone; the caller times the whole process.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from typing import Any


async def with_litellm(requests: list[dict[str, Any]], api_base: str, concurrency: int) -> None:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    limit = asyncio.Semaphore(concurrency)

    async def one(kwargs: dict[str, Any]) -> None:
        async with limit:
            await litellm.acompletion(**kwargs, api_base=api_base, api_key="x", max_retries=0)

    await asyncio.gather(*(one(r) for r in requests))


async def with_aiohttp(requests: list[dict[str, Any]], api_base: str, concurrency: int) -> None:
    import aiohttp

    url = api_base.rstrip("/") + "/chat/completions"
    limit = asyncio.Semaphore(concurrency)
    headers = {"Authorization": "Bearer x", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(kwargs: dict[str, Any]) -> None:
            body = {**kwargs, "model": kwargs["model"].split("/", 1)[-1]}
            async with limit, session.post(url, data=json.dumps(body), headers=headers) as reply:
                json.loads(await reply.read())

        await asyncio.gather(*(one(r) for r in requests))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--client", choices=["litellm", "aiohttp"], required=True)
    parser.add_argument("--requests", required=True)
    parser.add_argument("--api-base", required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with open(args.requests, encoding="utf-8") as handle:
        requests = [json.loads(line) for line in handle]
    loop = with_litellm if args.client == "litellm" else with_aiohttp
    started = time.perf_counter()
    asyncio.run(loop(requests, args.api_base, args.concurrency))
    print(json.dumps({"rows_per_s": len(requests) / (time.perf_counter() - started)}))


if __name__ == "__main__":
    main()
