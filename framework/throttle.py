"""Admission of calls: how many may be in flight, and how fast they may start.

A window of calls in flight that adapts like TCP's congestion window: halved
on a 429 (and every call held back until the provider's Retry-After has
passed), then grown back by one call per window of successes, up to
run.concurrency. Optional requests-per-minute and tokens-per-minute budgets
are token buckets; a call's tokens are estimated before it starts and the
bucket corrected once the provider reports the real count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

__all__ = ["Throttle"]


class _Bucket:
    """A token bucket refilled continuously at `per_minute`; it can go into debt."""

    def __init__(self, per_minute: float, clock: Callable[[], float]) -> None:
        self.rate = per_minute / 60.0
        self.capacity = per_minute
        self.level = per_minute
        self._clock = clock
        self._stamp = clock()

    def wait_for(self, amount: float) -> float:
        """Seconds until `amount` is available (0 if it is now)."""
        now = self._clock()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now
        needed = min(amount, self.capacity) - self.level
        return max(0.0, needed / self.rate)

    def take(self, amount: float) -> None:
        self.level -= amount


class Throttle:
    def __init__(
        self,
        max_in_flight: int,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_in_flight = max_in_flight
        self.window = float(max_in_flight)
        self.in_flight = 0
        self.rate_limited = 0
        self._clock = clock
        self._paused_until = 0.0
        self._changed = asyncio.Condition()
        self._requests = _Bucket(requests_per_minute, clock) if requests_per_minute else None
        self._tokens = _Bucket(tokens_per_minute, clock) if tokens_per_minute else None

    @asynccontextmanager
    async def slot(self, tokens: int = 0) -> AsyncIterator[None]:
        """Hold one place in the window for the duration of a call."""
        await self._admit(tokens)
        try:
            yield
        finally:
            async with self._changed:
                self.in_flight -= 1
                self._changed.notify(max(1, int(self.window) - self.in_flight))

    async def _admit(self, tokens: int) -> None:
        while True:
            async with self._changed:
                await self._changed.wait_for(lambda: self.in_flight < int(self.window))
                delay = self._paused_until - self._clock()
                if delay <= 0:
                    delay = max(
                        self._bucket_wait(self._requests, 1),
                        self._bucket_wait(self._tokens, tokens),
                    )
                if delay <= 0:
                    self.in_flight += 1
                    if self._requests is not None:
                        self._requests.take(1)
                    if self._tokens is not None:
                        self._tokens.take(tokens)
                    return
            await asyncio.sleep(delay)

    def on_success(self, estimated_tokens: int = 0, actual_tokens: int = 0) -> None:
        """Grow the window by one call per window of successes; correct the token bucket."""
        if self.window < self.max_in_flight:
            self.window = min(float(self.max_in_flight), self.window + 1.0 / self.window)
        if self._tokens is not None and actual_tokens:
            self._tokens.take(actual_tokens - estimated_tokens)

    def on_rate_limited(self, retry_after: float | None) -> None:
        """Halve the window and hold every call until the provider's Retry-After has passed."""
        self.rate_limited += 1
        self.window = max(1.0, self.window / 2)
        pause = retry_after if retry_after is not None else 1.0
        self._paused_until = max(self._paused_until, self._clock() + pause)

    @staticmethod
    def _bucket_wait(bucket: _Bucket | None, amount: float) -> float:
        return bucket.wait_for(amount) if bucket is not None else 0.0
