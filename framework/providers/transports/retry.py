"""Our retry policy for calls that fail in transit, not litellm's: its num_retries needs
tenacity, hides the real error and stacks with the OpenAI client's own retries.

Exponential backoff with full jitter for retryable errors (429, 5xx, timeouts,
dropped connections), honouring a Retry-After the provider sent; no retry for
a request the provider rejected as wrong. The number of calls made travels
with the result or the error, so every attempt is counted on the row.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from framework.config.schema import RetrySettings
from framework.errors import ProviderError
from framework.providers.compile import CompiledRequest
from framework.providers.transports.base import Layer, Transport
from framework.records import Completion

__all__ = ["RetryingTransport", "backoff_delay", "call_with_retries"]

T = TypeVar("T")


def backoff_delay(settings: RetrySettings, attempt: int, retry_after: float | None) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based)."""
    ceiling = min(settings.max_delay, settings.base_delay * 2 ** (attempt - 1))
    delay = random.uniform(0, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, settings.max_delay))
    return delay


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    settings: RetrySettings,
    rest: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[T, int]:
    """The call's result and the number of calls it took; raises the last ProviderError.
    `rest` waits out each back-off (the throttle's, so resting calls are counted)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await call(), attempt
        except ProviderError as error:
            error.attempts = attempt
            if not error.retryable or attempt >= settings.max_attempts:
                raise
            await rest(backoff_delay(settings, attempt, error.retry_after))


class RetryingTransport(Layer):
    """Tries a call again while it fails retryably; the completion (or the error) says how
    many calls it took. Back-offs are waited out by `rest` (the throttle's: resting calls
    hold no place in its window)."""

    def __init__(
        self,
        inner: Transport,
        settings: RetrySettings,
        rest: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(inner)
        self.settings, self.rest = settings, rest

    async def send(self, request: CompiledRequest) -> Completion:
        completion, attempts = await call_with_retries(
            lambda: self.inner.send(request), self.settings, self.rest
        )
        return replace(completion, attempts=attempts) if attempts != 1 else completion
