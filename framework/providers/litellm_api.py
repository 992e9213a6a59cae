"""The one module that imports litellm: a call in, a Completion or a ProviderError out.

litellm's own retries (and the OpenAI client's under it) are turned off:
labelwise owns the retry policy, so that a retried call is counted, priced and
reported once. Import this module lazily; importing litellm takes seconds.
"""

from __future__ import annotations

import email.utils
import logging
import os
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from framework.config.schema import ModelConfig, ProviderConfig
from framework.errors import (
    AuthError,
    BadRequest,
    ContextTooLong,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    UnknownModel,
    Unreachable,
    error_for_status,
)
from framework.providers.compile import CompiledRequest
from framework.providers.credentials import resolve_api_key
from framework.providers.profiles import PROFILES
from framework.providers.transports.throttle import read_quota
from framework.records import Completion, TokenLogprob, Usage
from framework.secrets import scrub

# Without this, importing litellm fetches a price map from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from litellm import exceptions as errors

litellm.suppress_debug_info = True
logging.getLogger("LiteLLM").setLevel(logging.ERROR)

__all__ = [
    "LitellmClient",
    "capability",
    "count_tokens",
    "price",
    "split_by_tokens",
    "truncate_to_tokens",
]

# Servers on the user's own machine cost nothing per token.
_FREE = frozenset({"local", "llamacpp", "ollama"})
_NO_KEY = "no-key-needed"
_PINNED = 1024  # texts remembered for server affinity


def capability(model: str, prefix: str) -> tuple[bool, bool, bool]:
    """(litellm knows the model, it supports a response schema, it supports tool calls)."""
    try:
        litellm.get_model_info(model=model, custom_llm_provider=prefix)
    except Exception:
        return False, False, False
    schema = bool(litellm.supports_response_schema(model=model, custom_llm_provider=prefix))
    tools = bool(litellm.supports_function_calling(model=model, custom_llm_provider=prefix))
    return True, schema, tools


def truncate_to_tokens(model: str, text: str, limit: int) -> tuple[str, int]:
    """The text cut to `limit` tokens, and its length in tokens before the cut.

    Tokens are counted with litellm's tokenizer for the model, which is tiktoken's
    cl100k for models it has no tokenizer of: an approximation for local models.
    """
    tokens = list(litellm.encode(model=model, text=text))
    if len(tokens) <= limit:
        return text, len(tokens)
    return str(litellm.decode(model=model, tokens=tokens[:limit])), len(tokens)


def split_by_tokens(model: str, text: str, size: int, overlap: int) -> list[str]:
    """The text in windows of at most `size` tokens, each sharing `overlap` with the last."""
    tokens = list(litellm.encode(model=model, text=text))
    if len(tokens) <= size:
        return [text]
    step = max(1, size - overlap)
    starts = range(0, max(1, len(tokens) - overlap), step)
    return [str(litellm.decode(model=model, tokens=tokens[i : i + size])) for i in starts]


class LitellmClient:
    """Sends compiled requests to a provider; to the least busy of several servers
    when given more than one (the local model's processes)."""

    def __init__(
        self,
        provider: ProviderConfig,
        model: ModelConfig,
        *,
        api_bases: Sequence[str] = (),
    ) -> None:
        self._provider = provider
        self._model = model
        key = resolve_api_key(provider)
        self._transport: dict[str, Any] = {
            "timeout": provider.timeout,
            "max_retries": 0,
            "api_key": key
            or (_NO_KEY if PROFILES[provider.kind].litellm_prefix == "openai" else None),
        }
        bases = list(api_bases) or ([provider.api_base] if provider.api_base else [])
        self._busy: dict[str | None, int] = dict.fromkeys(bases, 0) or {None: 0}
        # affinity -> the server its calls go to; the most recent texts only
        self._pinned: OrderedDict[str, str | None] = OrderedDict()

    async def complete(
        self, request: CompiledRequest, *, affinity: str | None = None
    ) -> Completion:
        """One call. Calls with the same `affinity` (questions about one text) go to the
        server the first of them went to, so its prompt cache reuses what they share;
        others go to the least busy server."""
        started = time.perf_counter()
        base = self._pick(affinity)
        where = {"api_base": base} if base else {}
        self._busy[base] += 1
        try:
            response = await litellm.acompletion(**request.kwargs, **self._transport, **where)
        except Exception as error:
            raise _provider_error(error, self._provider) from error
        finally:
            self._busy[base] -= 1
        choice = response.choices[0]
        message = choice.message
        text = message.content
        if request.mode == "tool" and getattr(message, "tool_calls", None):
            text = message.tool_calls[0].function.arguments
        raw_usage = getattr(response, "usage", None)
        usage = Usage(
            int(getattr(raw_usage, "prompt_tokens", 0) or 0),
            int(getattr(raw_usage, "completion_tokens", 0) or 0),
        )
        return Completion(
            text=text,
            usage=usage,
            cost=price(self._provider, self._model, request.kwargs["model"], usage),
            finish_reason=getattr(choice, "finish_reason", None),
            logprobs=_logprobs(choice),
            latency=time.perf_counter() - started,
            quota=read_quota(getattr(response, "_response_headers", None)),
        )

    def _pick(self, affinity: str | None) -> str | None:
        least_busy = min(self._busy, key=self._busy.__getitem__)
        if affinity is None or len(self._busy) == 1:
            return least_busy
        base = self._pinned.setdefault(affinity, least_busy)
        self._pinned.move_to_end(affinity)
        if len(self._pinned) > _PINNED:
            self._pinned.popitem(last=False)
        return base


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


# litellm's exceptions -> ours, and how to word them; the first match wins, so a
# subclass comes before its base (ContextWindowExceeded is a BadRequest, Timeout a
# connection error). Anything else is mapped by its HTTP status (error_for_status).
_ERRORS: tuple[tuple[type[Exception], type[ProviderError], str], ...] = (
    (errors.RateLimitError, RateLimited, "rate limited by {kind}: {text}"),
    (errors.AuthenticationError, AuthError, "{kind} refused the credentials{where}: {text}"),
    (errors.PermissionDeniedError, AuthError, "{kind} refused the credentials{where}: {text}"),
    (errors.NotFoundError, UnknownModel, "{kind} does not know this model or endpoint; check "
     "model.name and provider.api_base: {text}"),
    (errors.ContextWindowExceededError, ContextTooLong, "the prompt is longer than the "
     "model's context; lower prompt.max_text_chars: {text}"),
    (errors.Timeout, ProviderTimeout, "no answer within {timeout:g} s: {text}"),
    (errors.BadRequestError, BadRequest, "{kind} rejected the request: {text}"),
    (errors.APIConnectionError, Unreachable, "{kind} cannot be reached: {text}"),
)  # fmt: skip


def _provider_error(error: Exception, provider: ProviderConfig) -> ProviderError:
    status = getattr(error, "status_code", None)
    text = scrub(_clean(str(error)))  # a provider may echo the key back
    where = f" (the key comes from ${provider.api_key_env})" if provider.api_key_env else ""
    found = next(((ours, words) for theirs, ours, words in _ERRORS if isinstance(error, theirs)),
                 None)  # fmt: skip
    if found is None:
        kind = error_for_status(status)
        found = (kind, "{kind} failed: {text}" if kind.retryable else
                 "{kind} call failed: {name}: {text}")  # fmt: skip
    ours, words = found
    message = words.format(kind=provider.kind, text=text, where=where, timeout=provider.timeout,
                           name=type(error).__name__)  # fmt: skip
    mapped = ours(message, status=status, retry_after=_retry_after(error))
    mapped.headers = _headers(error)
    return mapped


def _headers(error: Exception) -> dict[str, str] | None:
    headers = getattr(error, "litellm_response_headers", None)
    return {str(k): str(v) for k, v in headers.items()} if headers else None


def _retry_after(error: Exception) -> float | None:
    headers = getattr(error, "litellm_response_headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    return None


def _clean(message: str) -> str:
    """litellm's messages repeat the class name and provider; keep what the server said."""
    message = re.sub(r"^(litellm\.)?\w+(Error|Exception)?: ", "", message.strip())
    message = re.sub(r"^\w+Error: \w*Exception - ", "", message)
    return " ".join(message.split())[:300]


def count_tokens(model: str, messages: list[dict[str, str]]) -> int:
    """Prompt tokens of a request, by litellm's tokenizer for the model (cl100k if unknown)."""
    return int(litellm.token_counter(model=model, messages=messages))


def price(
    provider: ProviderConfig, model: ModelConfig, litellm_model: str, usage: Usage
) -> float | None:
    """What so many tokens cost: the model's configured prices, else nothing for a server
    of the user's own, else litellm's price map; None when nobody knows."""
    if model.input_cost_per_mtok is not None or model.output_cost_per_mtok is not None:
        return (
            usage.prompt_tokens * (model.input_cost_per_mtok or 0.0)
            + usage.completion_tokens * (model.output_cost_per_mtok or 0.0)
        ) / 1e6
    if provider.kind in _FREE:
        return 0.0
    if provider.kind == "openai_compatible":
        return None  # litellm's prices are the cloud's, not this server's
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=litellm_model,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
        )
    except Exception:
        return None
    return float(prompt_cost) + float(completion_cost)
