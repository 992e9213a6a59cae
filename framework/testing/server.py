"""A scriptable OpenAI-compatible chat server on 127.0.0.1, for tests, benchmarks and
trying a config with no key (framework.testing says how).

It speaks real HTTP (aiohttp), so everything between labelwise and the wire
(litellm, the OpenAI client, connection pooling, timeouts) is exercised. Each
request is answered by, in order: the next queued `Reply`, the `responder`
callable, or `default`.

    with StubServer() as stub:
        stub.enqueue(Reply(content='{"labels": ["space"]}'))
        stub.enqueue(Reply(status=429, headers={"Retry-After": "1"}))
        ... provider.api_base = stub.url ...
        stub.requests  # the JSON bodies received, in order

With `prompt_cache=StubPromptCache()` it counts prompt tokens from the text and reports
cached ones as each provider does (framework.testing.prompt_cache).

Beside OpenAI's chat route it serves the other wires (framework.testing.wires), the
batch APIs (framework.testing.batches) and /v1/embeddings (framework.testing.embeddings).
Run standalone: framework.testing.standalone.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from typing import Any

from aiohttp import web

from framework.testing.batches import StubBatches
from framework.testing.embeddings import add_embeddings
from framework.testing.prompt_cache import StubPromptCache
from framework.testing.reply import Reply, Responder, completion_body
from framework.testing.wires import add_wires

__all__ = ["StubServer"]


class StubServer:
    """The server, run on its own event loop in a daemon thread."""

    def __init__(
        self,
        *,
        port: int = 0,
        default: Reply | None = None,
        responder: Responder | None = None,
        record: bool = True,
        prompt_cache: StubPromptCache | None = None,
    ) -> None:
        self.port = port
        self.prompt_cache = prompt_cache  # usage with cached tokens, as providers report
        self.default = default or Reply()
        self.responder = responder
        self.record = record
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []  # each request's Authorization header
        self.headers: list[dict[str, str]] = []  # each request's headers, names lower-cased
        self.times: list[float] = []  # time.monotonic() of each request, as received
        # /v1/embeddings (framework.testing.embeddings): bodies received; statuses to fail with
        self.embedding_requests: list[dict[str, Any]] = []
        self.embedding_faults: list[int] = []
        self._queue: deque[Reply] = deque()
        self.lock = threading.Lock()
        self.batches = StubBatches(self)  # OpenAI's and Anthropic's batch APIs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The api_base to give an OpenAI-compatible client."""
        return f"http://127.0.0.1:{self.port}/v1"

    def overrides(self, *extra: str) -> list[str]:
        """The config overrides that point a run (or a Classifier) at this server."""
        return [
            "provider=openai_compatible",
            f"provider.api_base={self.url}",
            "model.name=stub",
            *extra,
        ]

    def enqueue(self, *replies: Reply) -> None:
        with self.lock:
            self._queue.extend(replies)

    def next_reply(self, request: dict[str, Any]) -> Reply:
        """The answer to one request body, recorded in `requests`: the next queued Reply,
        the responder's, or `default` (every route and batch line is answered by it)."""
        return self._next_reply(request)

    def cached_usage(self, wire: str, request: dict[str, Any], reply: Reply) -> Reply:
        """The reply with the usage the prompt cache reports (unchanged without one)."""
        if self.prompt_cache is None:
            return reply
        return self.prompt_cache.usage(wire, request, reply)

    def _next_reply(self, request: dict[str, Any]) -> Reply:
        with self.lock:
            if self.record:
                self.requests.append(request)
                self.times.append(time.monotonic())
            if self._queue:
                return self._queue.popleft()
        if self.responder is not None:
            return self.responder(request)
        return self.default

    async def _chat(self, http_request: web.Request) -> web.StreamResponse:
        try:
            request = await http_request.json()
        except json.JSONDecodeError:
            return web.json_response({"error": {"message": "body is not JSON"}}, status=400)
        if self.record:
            with self.lock:
                self.authorizations.append(http_request.headers.get("Authorization"))
                self.headers.append({k.lower(): v for k, v in http_request.headers.items()})
        reply = self.cached_usage("openai", request, self.next_reply(request))
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop:
            transport = http_request.transport
            if transport is not None:
                transport.abort()
            return web.Response(status=500)
        if reply.status != 200:
            error = {"error": {"message": reply.error, "type": "stub_error", "code": reply.status}}
            return web.json_response(error, status=reply.status, headers=reply.headers)
        return web.json_response(completion_body(request, reply), headers=reply.headers)

    async def _models(self, _: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model"}]})

    def _app(self) -> web.Application:
        app = web.Application()
        for prefix in ("", "/v1"):
            app.router.add_post(f"{prefix}/chat/completions", self._chat)
            app.router.add_get(f"{prefix}/models", self._models)
        self.received = add_wires(app, self)  # Anthropic, Gemini, Ollama, Azure routes
        self.batches.add_routes(app)  # Files, Batches, Message Batches
        add_embeddings(app, self)  # /v1/embeddings
        return app

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024)
        await site.start()
        server = site._server
        if server is not None and self.port == 0:
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1]

    def start(self) -> StubServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="stub-server", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("stub server did not start within 10 s")
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
        future.result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._loop = None

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
