"""The HTTP side of `labelwise serve` (aiohttp): routes, the bearer token, and a life
that ends by draining.

    POST /v1/classify   rows in, results.jsonl rows out (framework.serve.service)
    GET  /health        {"status": "ok"} (or "draining", 503), no token needed
    GET  /metrics       Prometheus text format (framework.serve.stats)
    GET  /openapi.json  the OpenAPI description (framework.serve.protocol)

Every refusal is `{"error": "<one line>"}` with its status. SIGTERM or SIGINT stops taking
connections, lets the requests in flight finish (up to `drain` seconds) and exits 0.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from framework.errors import ConfigError
from framework.serve.protocol import DEADLINE_HEADER, BadRequest, openapi, parse_request
from framework.serve.service import Refused, RowService

__all__ = ["ServeSettings", "build_app", "serve_forever"]

log = logging.getLogger("labelwise")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_OPEN = frozenset({"/health"})  # answered without a token (a load balancer's probe)


@dataclass(frozen=True)
class ServeSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = None
    max_body: int = 1 << 20  # bytes
    max_rows: int = 1000  # rows in one request
    deadline_ms: int = 30_000  # when a request gives none
    drain: float = 30.0  # seconds shutdown waits for requests in flight


def build_app(service: RowService, settings: ServeSettings) -> web.Application:
    stats = service.stats
    state = {"draining": False}

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            if settings.token is not None and request.path not in _OPEN:
                _check_token(request, settings.token)
            response = await handler(request)
        except BadRequest as refusal:
            response = _refusal(refusal)
        except web.HTTPException as http:  # aiohttp's own: 404, 405, 413
            response = _error(http.status, _one_line(http))
        except asyncio.CancelledError:
            stats.disconnects += 1
            stats.requests[499] += 1  # the client closed the connection first
            raise
        except Exception as error:  # a bug: one line, and the service keeps serving
            log.exception("serve: %s %s failed", request.method, request.path)
            response = _error(500, f"internal error: {type(error).__name__}: {error}")
        stats.requests[response.status] += 1
        if request.path == "/v1/classify" and response.status == 200:  # answered with rows
            stats.latencies.append(time.perf_counter() - started)
        return response

    async def classify(request: web.Request) -> web.Response:
        if state["draining"]:
            raise Refused(503, "the service is shutting down; send it to another", 1.0)
        body = await _read_body(request, settings.max_body)
        parsed = parse_request(
            body,
            default_deadline_ms=settings.deadline_ms,
            header_deadline=request.headers.get(DEADLINE_HEADER),
            max_rows=settings.max_rows,
        )
        answer = await service.classify(parsed.items, deadline_ms=parsed.deadline_ms)
        return web.json_response({"rows": answer.rows})

    async def health(_: web.Request) -> web.Response:
        if state["draining"]:
            return web.json_response({"status": "draining"}, status=503)
        return web.json_response({"status": "ok", "rows_in_flight": stats.in_flight})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(text=stats.prometheus(), content_type="text/plain", charset="utf-8")

    config = service.classifier.config
    description = openapi(
        f"labelwise serve: taxonomy {config.taxonomy.name}", list(service.labels())
    )

    async def describe(_: web.Request) -> web.Response:
        return web.json_response(description)

    # The body cap is checked in _read_body, with a one-line reason; aiohttp's own
    # limit sits just above it.
    app = web.Application(middlewares=[guard], client_max_size=settings.max_body + 1)
    app["state"] = state
    app.router.add_post("/v1/classify", classify)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", describe)
    return app


async def serve_forever(
    service: RowService, settings: ServeSettings, ready: Callable[[int], None]
) -> None:
    """Serve until SIGTERM or SIGINT, then drain; `ready(port)` once it listens."""
    app = build_app(service, settings)
    # handler_cancellation: a client that hangs up cancels its rows (their slots free).
    runner = web.AppRunner(
        app,
        handle_signals=False,
        shutdown_timeout=settings.drain,
        handler_cancellation=True,
        access_log=None,
    )
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, shutdown_timeout=settings.drain)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise ConfigError(
            f"--host {settings.host} --port {settings.port}: cannot listen there "
            f"({error.strerror or error}); choose another port (--port 0 picks a free one)"
        ) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    for signum in before:
        loop.add_signal_handler(signum, stop.set)
    ready(int(runner.addresses[0][1]))  # the port bound (port 0 picks a free one)
    try:
        await stop.wait()
    finally:
        app["state"]["draining"] = True
        log.info("serve: draining %d rows in flight", service.stats.in_flight)
        await runner.cleanup()  # stops listening, waits for handlers up to `drain` s
        for signum, handler in before.items():  # a signal from here on stops the closing
            loop.remove_signal_handler(signum)
            signal.signal(signum, handler)


async def _read_body(request: web.Request, cap: int) -> bytes:
    if request.content_length is not None and request.content_length > cap:
        raise BadRequest(413, f"the body is {request.content_length} bytes; at most {cap}")
    try:
        body = await request.content.read(cap + 1)
    except (ConnectionResetError, asyncio.IncompleteReadError) as error:
        raise BadRequest(400, f"the body ended early: {error}") from None
    except Exception as error:  # aiohttp's ClientPayloadError: the client left mid-body
        raise BadRequest(400, f"the body could not be read: {error}") from None
    if len(body) > cap:
        raise BadRequest(413, f"the body is over {cap} bytes; send fewer rows a request")
    return body


def _check_token(request: web.Request, token: str) -> None:
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(value.encode(), token.encode()):
        said = "no bearer token" if not given else "the bearer token is wrong"
        raise BadRequest(401, f"{said}; send Authorization: Bearer <the service's token>")


def _refusal(refusal: BadRequest) -> web.Response:
    response = _error(refusal.status, refusal.reason)
    retry_after = getattr(refusal, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
    if refusal.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def _error(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason.replace("\n", " ")}, status=status)


def _one_line(http: web.HTTPException) -> str:
    lines = (http.text or "").strip().splitlines()
    return lines[0] if lines else http.reason
