"""Admission of calls: how many may be in flight, and how fast they may start.

A window of calls in flight that adapts like TCP's congestion window. A 429
halves it, at most once a second however many 429s arrive together (one
overload, one cut), and the call that got it waits out its own Retry-After (the
retry policy does that): the other calls go on. Successes grow the window back
by one call each up to run.concurrency, so it recovers within a few round trips
once the 429s stop. Only when the provider says its quota is spent
(x-ratelimit-remaining-requests or -tokens of 0, anthropic-ratelimit-*-remaining
of 0) are all calls held until its reset time.

Optional requests-per-minute and tokens-per-minute budgets are token buckets; a
call's tokens are estimated before it starts and the bucket corrected once the
provider reports the real count. `describe()` says, for the progress line, when
and why the run slowed down.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from framework.errors import RateLimited
from framework.providers.compile import CompiledRequest
from framework.providers.transports.base import Layer, Transport
from framework.providers.transports.pacing import SharedBucket, SharedPacing
from framework.providers.transports.quota import read_quota
from framework.records import Completion, QuotaState

__all__ = ["Throttle", "ThrottledTransport"]

_CUT_INTERVAL = 1.0  # seconds between two halvings of the window
_RECENT = 10.0  # the progress line counts the 429s of the last this many seconds


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
        shared: SharedPacing | None = None,
    ) -> None:
        """`shared`: the run's pacing, when this throttle is one worker's of several (its
        budgets, cuts and holds are then the run's; `max_in_flight` is this worker's share)."""
        self.max_in_flight = max_in_flight
        self.window = float(max_in_flight)
        self.in_flight = 0
        self.resting = 0  # calls waiting out a back-off before their next attempt
        self.on_rest: Callable[[], None] | None = None  # told when one starts resting
        self.rate_limited = 0
        self._clock = clock
        self._paused_until = 0.0
        self._pause_reason = ""
        self._last_cut = -_CUT_INTERVAL
        self._recent: deque[float] = deque()
        self._changed = asyncio.Condition()
        self._shared = shared
        self._epoch = shared.epoch if shared is not None else 0
        self._requests: _Bucket | SharedBucket | None
        self._tokens: _Bucket | SharedBucket | None
        if shared is not None:
            self._requests, self._tokens = shared.bucket("requests"), shared.bucket("tokens")
        else:
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
                self._follow_the_run()
                await self._changed.wait_for(lambda: self.in_flight < int(self.window))
                delay = self._held_until() - self._clock()
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

    async def rest(self, seconds: float) -> None:
        """Wait out a back-off, counted as resting: it holds no place in the window, and the
        runner may start another row meanwhile."""
        self.resting += 1
        if self.on_rest is not None:
            self.on_rest()
        try:
            await asyncio.sleep(seconds)
        finally:
            self.resting -= 1

    def on_success(
        self, estimated_tokens: int = 0, actual_tokens: int = 0, quota: QuotaState | None = None
    ) -> None:
        """Grow the window by one call; correct the token bucket; heed a spent quota."""
        if self.window < self.max_in_flight:
            self.window = min(float(self.max_in_flight), self.window + 1.0)
        if self._tokens is not None and actual_tokens:
            self._tokens.take(actual_tokens - estimated_tokens)
        self._heed(quota)

    def on_rate_limited(self, retry_after: float | None, quota: QuotaState | None = None) -> None:
        """Halve the window (once per overload); the call itself waits its Retry-After."""
        self.rate_limited += 1
        now = self._clock()
        self._recent.append(now)
        if self._shared is not None:
            self._shared.cut(now, _CUT_INTERVAL)  # every worker halves, once per overload
            self._follow_the_run()
        elif now - self._last_cut >= _CUT_INTERVAL:
            self._last_cut = now
            self.window = max(1.0, self.window / 2)
        self._heed(quota)
        del retry_after  # the retry policy waits it out for this call alone

    def _follow_the_run(self) -> None:
        """Halve this worker's window once for each cut the run's throttles made."""
        if self._shared is None:
            return
        epoch = self._shared.epoch
        while self._epoch < epoch:
            self._epoch += 1
            self.window = max(1.0, self.window / 2)

    def _held_until(self) -> float:
        shared = self._shared.paused_until if self._shared is not None else 0.0
        return max(self._paused_until, shared)

    def describe(self) -> str | None:
        """Why calls are slower than run.concurrency allows, for the progress line; None if
        they are not."""
        now = self._clock()
        while self._recent and now - self._recent[0] > _RECENT:
            self._recent.popleft()
        parts = []
        held = self._held_until()
        if held > now:
            reason = self._pause_reason or "its rate-limit quota is spent until its reset"
            parts.append(f"held {held - now:.0f} s: {reason}")
        if self._recent:
            parts.append(f"{len(self._recent)} rate limits (429) in the last {_RECENT:.0f} s")
        if int(self.window) < self.max_in_flight:
            parts.append(f"{int(self.window)} of {self.max_in_flight} calls in flight")
        return "slowed by the provider: " + ", ".join(parts) if parts else None

    def _heed(self, quota: QuotaState | None) -> None:
        hold = quota.spent if quota is not None else None
        if hold is not None:
            self._paused_until = max(self._paused_until, self._clock() + hold)
            self._pause_reason = "its rate-limit quota is spent until the reset it announced"
            if self._shared is not None:
                self._shared.hold_until(self._paused_until)

    @staticmethod
    def _bucket_wait(bucket: _Bucket | SharedBucket | None, amount: float) -> float:
        return bucket.wait_for(amount) if bucket is not None else 0.0


class ThrottledTransport(Layer):
    """Each call waits for a place in the throttle's window (and its rate budgets)."""

    def __init__(self, inner: Transport, throttle: Throttle) -> None:
        super().__init__(inner)
        self.throttle = throttle

    async def send(self, request: CompiledRequest) -> Completion:
        estimate = estimate_tokens(request)
        async with self.throttle.slot(estimate):
            try:
                completion = await self.inner.send(request)
            except RateLimited as error:
                self.throttle.on_rate_limited(error.retry_after, read_quota(error.headers))
                raise
        self.throttle.on_success(estimate, completion.usage.total_tokens, completion.quota)
        return completion


def estimate_tokens(request: CompiledRequest) -> int:
    """A call's tokens before it is made: about 4 characters a token, plus the answer."""
    messages = request.kwargs.get("messages", [])
    answer = int(request.kwargs.get("max_tokens") or 256)
    return sum(_characters(m.get("content", "")) for m in messages) // 4 + answer


def _characters(content: Any) -> int:
    """A message's characters; an image part (its base64 is no measure of its tokens)
    counts as _IMAGE_CHARACTERS."""
    if not isinstance(content, list):
        return len(str(content))
    return sum(
        _IMAGE_CHARACTERS if part.get("type") == "image_url" else len(str(part.get("text", "")))
        for part in content
        if isinstance(part, dict)
    )


# About the most tokens providers count for one image after downscaling (OpenAI high
# detail at 2048 px: 1,105), as characters.
_IMAGE_CHARACTERS = 4 * 1105
