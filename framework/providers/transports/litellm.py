"""The provider client for every provider: the compiled request through litellm.

It posts to the least busy of several servers when given more than one (the local
model's processes); requests with the same affinity (the questions about one text)
go where the first of them went, so that server's prompt cache reuses what they
share. litellm's and the OpenAI client's own retries are off: the retry layer owns
them. An api_base with `user:password@` goes out without them, as `Authorization:
Basic ...` in place of the key (litellm's async client cannot send such a URL; the
OpenAI SDK's sync one sends this, and so does the http transport).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from framework.config.schema import ModelConfig, ProviderConfig
from framework.providers import litellm_api
from framework.providers.compile import CompiledRequest
from framework.providers.credentials import resolve_api_key, url_credentials
from framework.providers.pricing import price
from framework.providers.profiles import PROFILES
from framework.providers.transports.quota import read_quota
from framework.providers.transports.servers import ServerChoice
from framework.providers.usage import read_litellm_usage
from framework.providers.wire_options import WireOptions
from framework.records import Completion, TokenLogprob

__all__ = ["LitellmTransport"]

# The OpenAI client refuses to start without a key; a server that takes none ignores it.
_NO_KEY = "no-key-needed"


class LitellmTransport:
    def __init__(
        self,
        provider: ProviderConfig,
        model: ModelConfig,
        *,
        api_bases: Sequence[str] = (),
        options: WireOptions | None = None,
    ) -> None:
        self._provider, self._model = provider, model
        self._options = options or WireOptions.of(provider)
        self._fixed: dict[str, Any] | None = None  # the key is read at the first call
        self._servers = ServerChoice(
            list(api_bases) or ([provider.api_base] if provider.api_base else [])
        )

    async def send(self, request: CompiledRequest) -> Completion:
        started = time.perf_counter()
        base = self._servers.pick(request.affinity)
        where = _where(base)
        if self._fixed is None:
            key = resolve_api_key(self._provider)
            wire = PROFILES[self._provider.kind].wire
            self._fixed = {
                "timeout": self._provider.timeout,
                "max_retries": 0,
                "api_key": key or (_NO_KEY if wire == "openai" else None),
            }
            if self._provider.organization:
                self._fixed["organization"] = self._provider.organization
            if self._provider.api_version:
                self._fixed["api_version"] = self._provider.api_version
            if self._provider.project:  # litellm passes no project of its own
                self._fixed["extra_headers"] = {"OpenAI-Project": self._provider.project}
        if "extra_headers" in where and "extra_headers" in self._fixed:
            where["extra_headers"] = {**self._fixed["extra_headers"], **where["extra_headers"]}
        self._servers.busy[base] += 1
        try:
            kwargs = self._options.apply(request.kwargs, request.tier)
            response = await litellm_api.acompletion(
                {**kwargs, **self._fixed, **where}, self._provider
            )
        finally:
            self._servers.busy[base] -= 1
        return self._completion(request, response, time.perf_counter() - started)

    async def release(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    def _completion(self, request: CompiledRequest, response: Any, latency: float) -> Completion:
        choice = response.choices[0]
        message = choice.message
        text = message.content
        if request.mode == "tool" and getattr(message, "tool_calls", None):
            text = message.tool_calls[0].function.arguments
        usage = read_litellm_usage(getattr(response, "usage", None))
        return Completion(
            text=text,
            usage=usage,
            cost=price(
                self._provider, self._model, request.kwargs["model"], usage, tier=request.tier
            ),
            finish_reason=getattr(choice, "finish_reason", None),
            logprobs=_logprobs(choice),
            latency=latency,
            quota=read_quota(getattr(response, "_response_headers", None)),
        )


def _where(base: str | None) -> dict[str, Any]:
    """The api_base keyword of a call to `base`, and the Basic authorization of the
    credentials in its URL, if any."""
    if not base:
        return {}
    bare, basic, _ = url_credentials(base)
    if basic is None:
        return {"api_base": base}
    return {"api_base": bare, "extra_headers": {"Authorization": basic}}


def _logprobs(choice: Any) -> tuple[TokenLogprob, ...]:
    content = getattr(getattr(choice, "logprobs", None), "content", None) or []
    return tuple(
        TokenLogprob(
            str(t.token),
            float(t.logprob),
            tuple(
                (str(a.token), float(a.logprob)) for a in (getattr(t, "top_logprobs", None) or [])
            ),
        )
        for t in content
    )
