"""The provider client for OpenAI's chat-completions wire, posted by labelwise itself.

OpenAI, vLLM, llama.cpp's server, LM Studio, gateways, Groq, Together, DeepSeek,
OpenRouter and Fireworks all take the compiled request as it is: its kwargs are the
body (the model without litellm's provider prefix), so this client and litellm send
the same bytes' worth of JSON for the same request (tests/providers/test_transports.py
compares them at the stub), read the answer into the same Completion, and raise
the same errors. Why not litellm here: measured on 2 cores against a loopback
stub, litellm spends about 5 ms of CPU a call where one pooled keep-alive
aiohttp session spends about 0.4 ms, so for bulk runs litellm's CPU, not the
provider, was the limit (benchmarks/throughput.py).

One session per event loop (a Classifier's private loop, a runner's asyncio.run),
with a connection pool as large as the calls in flight.

An api_base with `user:password@` goes out as the OpenAI SDK sends it (and so as the
litellm transport does): to the URL without them, with `Authorization: Basic ...` in
place of the key's Bearer header (framework.providers.credentials.url_credentials).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from framework.config.schema import ModelConfig, ProviderConfig
from framework.errors import (
    ProviderError,
    ProviderTimeout,
    Unreachable,
    error_for_status,
)
from framework.providers.compile import CompiledRequest
from framework.providers.credentials import key_origin, resolve_api_key, url_credentials
from framework.providers.pricing import price
from framework.providers.profiles import PROFILES
from framework.providers.transports.quota import read_quota, retry_after_seconds
from framework.providers.transports.servers import ServerChoice
from framework.providers.usage import read_openai_usage
from framework.providers.wire_options import WireOptions
from framework.records import Completion, TokenLogprob, Usage
from framework.secrets import scrub

__all__ = ["HttpTransport", "read_completion", "wire_body"]

log = logging.getLogger("labelwise")


class HttpTransport:
    def __init__(
        self,
        provider: ProviderConfig,
        model: ModelConfig,
        *,
        api_bases: Sequence[str] = (),
        pool: int = 64,
        options: WireOptions | None = None,
    ) -> None:
        self._provider, self._model = provider, model
        self._options = options or WireOptions.of(provider)
        profile = PROFILES[provider.kind]
        base = provider.api_base or profile.default_api_base
        bases = list(api_bases) or ([base] if base else [])
        if not bases:
            raise ValueError(f"provider {provider.kind} has no api_base for the HTTP transport")
        self._urls: dict[str | None, str] = {}
        self._basic: dict[str | None, str] = {}  # the servers with credentials in their URL
        for b in bases:
            bare, basic, _ = url_credentials(b)
            self._urls[b] = bare.rstrip("/") + "/chat/completions"
            if basic is not None:
                self._basic[b] = basic
        self._servers = ServerChoice(bases)
        self._extras = dict(profile.wire_extras)
        self._timeout = aiohttp.ClientTimeout(total=provider.timeout)
        self._pool = pool
        self._headers: dict[str, str] | None = None  # the key is read at the first call
        self._sessions: dict[asyncio.AbstractEventLoop, aiohttp.ClientSession] = {}

    async def send(self, request: CompiledRequest) -> Completion:
        started = time.perf_counter()
        base = self._servers.pick(request.affinity)
        body = self._options.apply(wire_body(request, self._extras), request.tier)
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._servers.busy[base] += 1
        try:
            async with self._session().post(
                self._urls[base], data=data, headers=self._request_headers(base)
            ) as response:
                raw = await response.read()
                status, headers = response.status, response.headers
        except TimeoutError:
            raise self._error(ProviderTimeout, "the request timed out") from None
        except aiohttp.ClientError as error:  # refused, reset, dropped mid-answer
            raise self._error(Unreachable, f"{type(error).__name__}: {error}") from None
        finally:
            self._servers.busy[base] -= 1
        if status != 200:
            raise self._status_error(status, raw, headers)
        try:
            answer = json.loads(raw)
        except ValueError:
            raise self._error(error_for_status(502), "the answer is not JSON") from None
        usage, completion = read_completion(answer, request.mode)
        return Completion(
            **completion,
            usage=usage,
            cost=price(
                self._provider, self._model, request.kwargs["model"], usage, tier=request.tier
            ),
            latency=time.perf_counter() - started,
            quota=read_quota(headers),
        )

    async def release(self) -> None:
        """Close this event loop's session (its keep-alive connections)."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()
        self._drop_stale()

    async def aclose(self) -> None:
        await self.release()
        for session in self._sessions.values():
            _abandon(session)
        self._sessions.clear()

    def _drop_stale(self) -> None:
        for owner in [o for o in self._sessions if o.is_closed()]:
            _abandon(self._sessions.pop(owner))

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            self._drop_stale()
            connector = aiohttp.TCPConnector(limit=self._pool, ttl_dns_cache=300)
            # No proxy from the environment (trust_env=False): the calls go where api_base says.
            session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
            self._sessions[loop] = session
        return session

    def _request_headers(self, base: str | None) -> dict[str, str]:
        if self._headers is None:
            headers = {"Content-Type": "application/json"}
            key = resolve_api_key(self._provider)
            if key:
                headers["Authorization"] = f"Bearer {key}"
                if self._basic:
                    log.info(
                        "provider.api_base holds user:password: they are sent as Basic "
                        "authorization in place of the API key (as the OpenAI SDK does)"
                    )
            if self._provider.organization:
                headers["OpenAI-Organization"] = self._provider.organization
            if self._provider.project:
                headers["OpenAI-Project"] = self._provider.project
            self._headers = headers
        basic = self._basic.get(base)
        if basic is None:
            return self._headers
        return {**self._headers, "Authorization": basic}

    def _error(
        self,
        kind: type[ProviderError],
        text: str,
        *,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> ProviderError:
        return kind.worded(
            kind=self._provider.kind,
            text=scrub(text),
            where=key_origin(self._provider),
            timeout=self._provider.timeout,
            status=status,
            retry_after=retry_after_seconds(headers) if headers else None,
            headers=dict(headers) if headers else None,
        )

    def _status_error(self, status: int, raw: bytes, headers: Mapping[str, str]) -> ProviderError:
        text = _error_message(raw)
        kind = error_for_status(status)
        if _says_context_is_exceeded(status, text):
            from framework.errors import ContextTooLong

            kind = ContextTooLong
        return self._error(kind, text, status=status, headers=headers)


def _abandon(session: aiohttp.ClientSession) -> None:
    """Let go of a session whose event loop is gone (its sockets went with the loop): close
    its connector synchronously, which aiohttp does only privately (close() is awaitable)."""
    connector = session.connector
    session.detach()
    if connector is not None:
        connector._close()


def read_completion(answer: Mapping[str, Any], mode: str) -> tuple[Usage, dict[str, Any]]:
    """The usage, and the Completion's fields, of a chat-completions answer."""
    choice = (answer.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    text = message.get("content")
    calls = message.get("tool_calls") or []
    if mode == "tool" and calls:
        text = (calls[0].get("function") or {}).get("arguments")
    usage = read_openai_usage(answer.get("usage") or {})
    content = (choice.get("logprobs") or {}).get("content") or []
    logprobs = tuple(
        TokenLogprob(
            str(t.get("token")),
            float(t.get("logprob")),
            tuple(
                (str(a.get("token")), float(a.get("logprob"))) for a in t.get("top_logprobs") or []
            ),
        )
        for t in content
    )
    return usage, {"text": text, "finish_reason": choice.get("finish_reason"), "logprobs": logprobs}


def wire_body(request: CompiledRequest, extras: Mapping[str, Any]) -> dict[str, Any]:
    """The chat-completions body of a compiled request on OpenAI's wire (this client's, and
    a batch line's: framework.providers.batch.openai_api)."""
    return {**request.kwargs, "model": _wire_model(request.kwargs["model"]), **extras}


def _wire_model(model: str) -> str:
    """litellm's "openai/gpt-4o-mini" is the wire's "gpt-4o-mini"."""
    return model.split("/", 1)[1] if "/" in model else model


def _error_message(raw: bytes) -> str:
    """What an error body says: OpenAI's {"error": {"message"}}, or the body itself."""
    try:
        body = json.loads(raw)
    except ValueError:
        return " ".join(raw.decode("utf-8", "replace").split())[:300] or "(empty body)"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        return " ".join(str(error["message"]).split())[:300]
    if isinstance(error, str):
        return error[:300]
    return " ".join(json.dumps(body).split())[:300]


def _says_context_is_exceeded(status: int, text: str) -> bool:
    lowered = text.lower()
    return status == 400 and ("context length" in lowered or "context_length" in lowered)
