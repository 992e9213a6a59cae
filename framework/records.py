"""The typed records that pass between stages, one type per arrow (docs/development.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from framework.errors import OutputError

__all__ = [
    "Completion",
    "ImageRef",
    "Item",
    "Message",
    "Prediction",
    "QuotaState",
    "TokenLogprob",
    "Usage",
]

Message = dict[str, str]
_LONGEST_HOLD = 60.0  # never hold every call longer than this on a reset header


@dataclass(frozen=True)
class ImageRef:
    """One image a row names, not read yet (framework.inputs.images reads it): `value` is
    a path as written (relative to the input file), an https:// URL or a data: URI; `data`
    the bytes of a Parquet cell (then `value` is "bytes")."""

    value: str
    data: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Item:
    """One text to classify; `gold` is the reference label set when the input has one;
    `images` the row's images (columns.image), sent beside the text."""

    id: str
    text: str
    gold: tuple[str, ...] | None = None
    images: tuple[ImageRef, ...] = ()


@dataclass(frozen=True)
class Usage:
    """Tokens of one call or many. prompt_tokens counts every prompt token; of them,
    cached_tokens were read from the provider's prompt cache and cache_write_tokens
    written to it (each class has its own price: framework.providers.pricing)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    @property
    def uncached_prompt_tokens(self) -> int:
        """Prompt tokens billed at the plain input price."""
        return max(0, self.prompt_tokens - self.cached_tokens - self.cache_write_tokens)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log-probability, and the most likely alternatives there."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class QuotaState:
    """What a provider's rate-limit headers said: calls and tokens left, and when they reset."""

    requests_left: int | None = None
    tokens_left: int | None = None
    requests_reset: float | None = None  # seconds from now
    tokens_reset: float | None = None

    @property
    def spent(self) -> float | None:
        """Seconds to hold every call when a quota is spent, else None."""
        waits = [
            1.0 if reset is None else reset
            for left, reset in (
                (self.requests_left, self.requests_reset),
                (self.tokens_left, self.tokens_reset),
            )
            if left is not None and left <= 0
        ]
        return min(max(waits), _LONGEST_HOLD) if waits else None


@dataclass(frozen=True)
class Completion:
    """What came back from one call: the answer text (or tool arguments) and its price."""

    text: str | None
    usage: Usage = Usage()
    cost: float | None = None
    finish_reason: str | None = None
    logprobs: tuple[TokenLogprob, ...] = ()
    latency: float = 0.0
    cached: bool = False
    quota: QuotaState | None = None  # the provider's rate-limit headers (never cached)
    attempts: int = 1  # the calls made for it, retries included (0: from the cache)


@dataclass(frozen=True)
class Prediction:
    """The outcome for one item, as written to the results file.

    attempts counts the calls made (none for an empty text or answers from the cache;
    cache_hits counts those);
    usage and cost add up every attempt, re-asks included. `repairs` lists what the
    validation policy fixed without asking again; `issues` what it asked again about.
    request_hash is the content hash of the first request sent for the item: equal
    hashes across runs mean equal requests. confidence is per label, when the run
    has a confidence method; review marks a row with a confidence close to its
    threshold (thresholds.abstain_band); chunks counts the pieces of a long text.
    """

    id: str
    labels: tuple[str, ...]
    status: Literal["ok", "failed"]
    attempts: int
    usage: Usage = Usage()
    cost: float | None = 0.0  # None: calls were made at a price litellm does not know
    error: str | None = None
    raw: str | None = None
    repairs: tuple[str, ...] = ()
    issues: tuple[str, ...] = ()
    truncated_from: int | None = None
    request_hash: str | None = None
    cache_hits: int = 0
    confidence: dict[str, float] | None = None
    confidence_method: str | None = None
    review: bool = False
    chunks: int | None = None
    error_kind: str | None = None  # what failed: a ProviderError's kind, "invalid_answer", ...
    extra: dict[str, Any] = field(default_factory=dict)
    # The engine component that decided the row without asking the LLM (not written to
    # the results: `labelwise plan` counts such rows by it).
    decided_by: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def spent(self) -> list[Any]:
        """[cost, tokens] of its calls: no cost without a call (answers from the cache);
        cost None at a price litellm does not know."""
        return [self.cost if self.attempts else 0.0, self.usage.total_tokens]

    def raise_for_status(self) -> Prediction:
        """This prediction, or OutputError (with the model's last answer) if it failed."""
        if not self.ok:
            raise OutputError(f"{self.id}: {self.error}", raw=self.raw)
        return self
