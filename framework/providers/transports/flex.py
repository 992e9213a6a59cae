"""provider.flex_fallback: a flex call that is not answered in time goes at the default tier.

Flex processing (provider.service_tier=flex) answers at about the batch price, more
slowly, and may refuse with 429 "resource unavailable" when the provider is busy. The
retry layer below tries such calls again with back-off; this layer, above it, gives the
whole try a deadline (provider.flex_fallback, seconds): a call still unanswered then, or
refused as resource unavailable once its retries ran out, is sent again at the default
tier (and priced at the default price). Those calls are counted apart (`resent`, `cost`):
the run's record says how many and what they cost.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from framework.errors import RateLimited
from framework.providers.compile import CompiledRequest
from framework.providers.transports.base import Layer, Transport
from framework.records import Completion

__all__ = ["FlexFallback", "says_resource_unavailable"]


def says_resource_unavailable(error: Exception) -> bool:
    """Whether a refusal is flex capacity running out (OpenAI: 429 "Resource Unavailable",
    code resource_unavailable), not a rate limit of the account."""
    text = str(error).lower().replace("_", " ")
    return isinstance(error, RateLimited) and "resource unavailable" in text


class FlexFallback(Layer):
    def __init__(self, inner: Transport, deadline: float) -> None:
        super().__init__(inner)
        self.deadline = deadline
        self.resent = 0  # calls sent again at the default tier
        self.cost: float | None = 0.0  # what those cost
        self.reasons: dict[str, int] = {}

    async def send(self, request: CompiledRequest) -> Completion:
        if request.tier is not None and request.tier != "flex":
            return await self.inner.send(request)
        tried = 1
        try:
            return await asyncio.wait_for(self.inner.send(request), self.deadline)
        except TimeoutError:
            why = "deadline"
        except RateLimited as error:
            if not says_resource_unavailable(error):
                raise
            why, tried = "resource unavailable", error.attempts
        completion = await self.inner.send(replace(request, tier="default"))
        self.resent += 1
        self.reasons[why] = self.reasons.get(why, 0) + 1
        if self.cost is not None:
            self.cost = None if completion.cost is None else self.cost + completion.cost
        return replace(completion, attempts=completion.attempts + tried)

    def summary(self) -> dict[str, object]:
        """What record.json says of the fallback."""
        return {
            "deadline": self.deadline,
            "resent": self.resent,
            "cost": self.cost,
            "reasons": dict(self.reasons),
        }
