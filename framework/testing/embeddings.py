"""The stub's /v1/embeddings: OpenAI's embeddings wire, with vectors made from the words.

Each text's vector is a hashed bag of its lower-cased words (`DIMENSIONS` buckets,
a word's bucket and sign from its sha256), so texts that share words are alike, as
with a real model, and the same text always gets the same vector. `dimensions` in
the body shortens it. Bodies received are kept in `server.embedding_requests`;
`server.embedding_faults` (a list of HTTP statuses) answers the next calls with
those errors, one each, before answering again.
"""

from __future__ import annotations

import hashlib
import json
import re

from aiohttp import web

from framework.testing.reply import Host

__all__ = ["DIMENSIONS", "add_embeddings", "vector_of"]

DIMENSIONS = 64
_WORD = re.compile(r"\w+")


def vector_of(text: str, dimensions: int = DIMENSIONS) -> list[float]:
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        digest = hashlib.sha256(word.encode()).digest()
        vector[digest[0] % dimensions] += 1.0 if digest[1] % 2 else -1.0
    return vector


def add_embeddings(app: web.Application, server: Host) -> None:
    async def embeddings(http_request: web.Request) -> web.Response:
        try:
            body = await http_request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
        server.embedding_requests.append(body)
        if server.embedding_faults:
            status = server.embedding_faults.pop(0)
            error = {"error": {"message": "injected embeddings error", "code": status}}
            return web.json_response(error, status=status)
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            error = {"error": {"message": "input must be a string or a list of strings"}}
            return web.json_response(error, status=400)
        size = int(body.get("dimensions") or DIMENSIONS)
        data = [
            {"object": "embedding", "index": n, "embedding": vector_of(text, size)}
            for n, text in enumerate(texts)
        ]
        tokens = sum(len(_WORD.findall(text)) for text in texts)
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": body.get("model", "stub"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    for prefix in ("", "/v1"):
        app.router.add_post(f"{prefix}/embeddings", embeddings)
