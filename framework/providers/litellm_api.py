"""The one module that imports litellm: the few calls labelwise makes of it, and its
exceptions mapped to ours by one table.

    response = await acompletion(kwargs)        # litellm's ModelResponse, or ProviderError
    vectors = await aembedding(kwargs)          # one list of floats per input text
    capability("gpt-4o-mini", "openai")         # (known, response schema, tool calls)
    encode(model, text), decode(model, tokens), count_tokens(model, messages)
    cost_per_token(model, prompt_tokens, completion_tokens)
    await batch_call("acreate_batch", provider, **kwargs)   # files and batches (run.mode=batch)
    await release_loop_clients()                # at the end of an event loop's work

litellm's own retries (and the OpenAI client's under it) are turned off by the
caller: labelwise owns the retry policy, so that a retried call is counted, priced
and reported once. Import this module lazily; importing litellm takes seconds.
"""

from __future__ import annotations

import asyncio
import copy
import gc
import inspect
import logging
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

from framework.config.schema import ProviderConfig
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
from framework.providers.credentials import key_origin
from framework.providers.transports.quota import retry_after_seconds
from framework.secrets import scrub

# Without this, importing litellm fetches a price map from the network.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import litellm
from litellm import exceptions as errors

litellm.suppress_debug_info = True
logging.getLogger("LiteLLM").setLevel(logging.ERROR)

__all__ = [
    "acompletion",
    "aembedding",
    "anthropic_params",
    "batch_call",
    "batch_cost_per_token",
    "capability",
    "cost_per_token",
    "count_tokens",
    "decode",
    "encode",
    "provider_error",
    "release_loop_clients",
]


async def acompletion(kwargs: Mapping[str, Any], provider: ProviderConfig) -> Any:
    """litellm.acompletion, with its exceptions turned into ours. It gets a deep copy:
    for Gemini's tool mode litellm 1.106.2 deletes keywords from the schema it was given
    in place, which would change a compiled request after its cache key was taken."""
    try:
        return await litellm.acompletion(**copy.deepcopy(dict(kwargs)))
    except Exception as error:
        raise provider_error(error, provider) from error


async def aembedding(kwargs: Mapping[str, Any], provider: ProviderConfig) -> list[list[float]]:
    """litellm.aembedding: the vectors of kwargs["input"], in its order, our exceptions."""
    try:
        response = await litellm.aembedding(**dict(kwargs))
    except Exception as error:
        raise provider_error(error, provider) from error
    data = sorted(response.data, key=lambda row: int(_field(row, "index")))
    return [list(map(float, _field(row, "embedding"))) for row in data]


def _field(row: Any, name: str) -> Any:
    """litellm gives each row of an embedding answer as a dict or as an object."""
    return row[name] if isinstance(row, dict) else getattr(row, name)


# The loops on which files and batches calls were made since their last release.
_left_clients_on: set[int] = set()


async def batch_call(operation: str, provider: ProviderConfig, **kwargs: Any) -> Any:
    """One call of litellm's files and batches API (acreate_file, afile_list, afile_content,
    acreate_batch, aretrieve_batch, alist_batches, acancel_batch), its exceptions ours."""
    _left_clients_on.add(id(asyncio.get_running_loop()))
    try:
        return await getattr(litellm, operation)(**kwargs)
    except Exception as error:
        raise provider_error(error, provider) from error


async def release_loop_clients() -> None:
    """Close the HTTP clients litellm pooled for the running event loop, and forget them.

    litellm keeps each client it makes (the OpenAI SDK's, its own) for ten minutes under a
    key ending in the loop's id. One left there when its loop ends is dropped later, on
    whatever loop runs then, and its closing fails there: "Unclosed client session", or
    "Task exception was never retrieved ... Event loop is closed" with a traceback, on the
    user's stderr. litellm's own close-all (close_litellm_async_clients) closes every
    loop's clients, also those another loop is still using, and leaves them in its pool:
    hence ours."""
    loop = id(asyncio.get_running_loop())
    pool = litellm.in_memory_llm_clients_cache
    suffix = f"-{loop}"
    for key in [key for key in list(pool.cache_dict) if str(key).endswith(suffix)]:
        client = pool.cache_dict.get(key)
        pool.delete_cache(key)  # type: ignore[no-untyped-call]
        closing = getattr(client, "aclose", None) or getattr(client, "close", None)
        if closing is None:
            continue
        try:
            outcome = closing()
            if inspect.isawaitable(outcome):
                await outcome
        except Exception as error:  # a client that cannot close is one less to keep
            logging.getLogger(__name__).debug("closing a pooled client failed: %s", error)
    if loop in _left_clients_on:
        _left_clients_on.discard(loop)
        await _close_left_clients()


async def _close_left_clients() -> None:
    """litellm 1.106.2 makes an OpenAI client for each files or batches call and leaves it
    open, its connection too (those calls take no client of ours). The OpenAI SDK closes
    such a client when the collector frees it, as a task on whatever loop runs then; on a
    later loop that fails, with a traceback on stderr. So free them now, on their own
    loop, and wait for those closes: one full collection (150 ms measured with litellm
    loaded), once per loop that made such calls."""
    gc.collect()
    current = asyncio.current_task()
    closing = [
        task
        for task in asyncio.all_tasks()
        if task is not current
        and getattr(task.get_coro(), "__qualname__", "") == "AsyncClient.aclose"
    ]
    await asyncio.gather(*closing, return_exceptions=True)


def anthropic_params(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The Messages API body litellm would post for a compiled request to Anthropic (the
    `params` of a Message Batches request): the same transformation as online, so a
    batch asks exactly what an online call asks."""
    from litellm.llms.anthropic.chat.transformation import AnthropicConfig

    request = copy.deepcopy(dict(kwargs))
    model = str(request.pop("model")).removeprefix("anthropic/")
    messages = request.pop("messages")
    config = AnthropicConfig()
    optional = config.map_openai_params(
        non_default_params=request, optional_params={}, model=model, drop_params=False
    )
    body = config.transform_request(
        model=model, messages=messages, optional_params=optional, litellm_params={}, headers={}
    )
    body.pop("json_mode", None)  # litellm's own flag, read back from its answer, not sent
    return dict(body)


def batch_cost_per_token(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """What litellm's price map says so many tokens cost in a batch job, or None when it
    has no batch price for the model."""
    try:
        info = litellm.get_model_info(model=model)
    except Exception:
        return None
    prompt, completion = (
        info.get("input_cost_per_token_batches"),
        info.get("output_cost_per_token_batches"),
    )
    if prompt is None or completion is None:
        return None
    return float(prompt) * prompt_tokens + float(completion) * completion_tokens


def capability(model: str, prefix: str) -> tuple[bool, bool, bool]:
    """(litellm knows the model, it supports a response schema, it supports tool calls)."""
    try:
        litellm.get_model_info(model=model, custom_llm_provider=prefix)
    except Exception:
        return False, False, False
    schema = bool(litellm.supports_response_schema(model=model, custom_llm_provider=prefix))
    tools = bool(litellm.supports_function_calling(model=model, custom_llm_provider=prefix))
    return True, schema, tools


def encode(model: str, text: str) -> list[int]:
    """Tokens by litellm's tokenizer for the model (tiktoken's cl100k when it has none)."""
    return list(litellm.encode(model=model, text=text))


def decode(model: str, tokens: Sequence[int]) -> str:
    return str(litellm.decode(model=model, tokens=list(tokens)))


def count_tokens(model: str, messages: list[dict[str, str]]) -> int:
    """Prompt tokens of a request, by litellm's tokenizer for the model (cl100k if unknown)."""
    return int(litellm.token_counter(model=model, messages=messages))


def cost_per_token(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """What litellm's price map says so many tokens cost, or None when it has no price."""
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:
        return None
    return float(prompt_cost) + float(completion_cost)


# litellm's exceptions -> ours; the first match wins, so a subclass comes before its base
# (ContextWindowExceeded is a BadRequest, Timeout a connection error). Anything else is
# mapped by its HTTP status (error_for_status). Each class words itself (its template).
_ERRORS: tuple[tuple[type[Exception], type[ProviderError]], ...] = (
    (errors.RateLimitError, RateLimited),
    (errors.AuthenticationError, AuthError),
    (errors.PermissionDeniedError, AuthError),
    (errors.NotFoundError, UnknownModel),
    (errors.ContextWindowExceededError, ContextTooLong),
    (errors.Timeout, ProviderTimeout),
    (errors.BadRequestError, BadRequest),
    (errors.APIConnectionError, Unreachable),
)


def provider_error(error: Exception, provider: ProviderConfig) -> ProviderError:
    status = getattr(error, "status_code", None)
    text = scrub(_clean(str(error)))  # a provider may echo the key back
    ours = next((mine for theirs, mine in _ERRORS if isinstance(error, theirs)), None)
    if ours is None and "Connection error" in text:
        # litellm reports a refused or dropped connection as a 500 "Connection error."
        # (InternalServerError): no server answered, so it is Unreachable, as over HTTP.
        ours = Unreachable
    if ours is BadRequest and status in (401, 403):
        ours = AuthError  # litellm calls Gemini's 403 PERMISSION_DENIED a BadRequestError
    if ours is None:
        ours = error_for_status(status)
        if not ours.retryable:
            text = f"{type(error).__name__}: {text}"
    headers = getattr(error, "litellm_response_headers", None)
    return ours.worded(
        kind=provider.kind,
        text=text,
        where=key_origin(provider),
        timeout=provider.timeout,
        status=status,
        retry_after=_retry_after(error),
        headers={str(k): str(v) for k, v in headers.items()} if headers else None,
    )


def _retry_after(error: Exception) -> float | None:
    """The response's Retry-After; else, for Gemini, which says it only in its error body
    (google.rpc.RetryInfo "retryDelay": "7s") and litellm does not read it, that delay."""
    found = retry_after_seconds(getattr(error, "litellm_response_headers", None) or {})
    if found is None and getattr(error, "status_code", None) == 429:
        delay = _RETRY_DELAY.search(str(error))
        found = float(delay.group(1)) if delay else None
    return found


_RETRY_DELAY = re.compile(r'"retryDelay":\s*"(\d+(?:\.\d+)?)s"')


def _clean(message: str) -> str:
    """litellm's messages repeat the class name and provider; keep what the server said."""
    message = re.sub(r"^(litellm\.)?\w+(Error|Exception)?: ", "", message.strip())
    message = re.sub(r"^\w+Error: \w*Exception - ", "", message)
    return " ".join(message.split())[:300]
