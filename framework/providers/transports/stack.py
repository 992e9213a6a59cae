"""A run's transport, built from its config: the layers, top to bottom.

cache     a request made before is answered from the response cache
batch     run.mode=batch: the others join a provider batch job (framework.runner.drivers.batch)
flex      provider.flex_fallback: a flex call unanswered by its deadline goes at the default tier
retry     a call that failed retryably is tried again, with back-off
health    calls in a row that cannot reach the provider stop the run
throttle  calls in flight and per minute, paced by the provider's 429s and quotas
client    the provider's API: http (OpenAI's wire, posted by labelwise) or litellm
          (every wire); for provider=local, the embedded server is started first
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from framework.config.schema import RunConfig
from framework.errors import ConfigError
from framework.providers.profiles import PROFILES
from framework.providers.transports.base import Transport
from framework.providers.transports.cache import CachingTransport, ResponseCache
from framework.providers.transports.flex import FlexFallback
from framework.providers.transports.health import (
    HealthWatch,
    ProviderHealth,
    unreachable_limit,
)
from framework.providers.transports.local import LocalServerTransport
from framework.providers.transports.pacing import SharedPacing
from framework.providers.transports.retry import RetryingTransport
from framework.providers.transports.throttle import Throttle, ThrottledTransport
from framework.providers.wire_options import WireOptions

if TYPE_CHECKING:  # the batch machinery is imported by a run that uses it (run.mode=batch)
    from framework.providers.local.models import ModelFile
    from framework.providers.transports.batch import BatchLayer

__all__ = ["TransportChoice", "TransportStack", "build_stack", "choose_transport"]


@dataclass(frozen=True)
class TransportChoice:
    name: Literal["http", "litellm"]
    reason: str


@dataclass
class TransportStack:
    top: Transport
    cache: ResponseCache
    throttle: Throttle
    health: ProviderHealth
    choice: TransportChoice
    local: LocalServerTransport | None = None
    batch: BatchLayer | None = None
    # The service tier and prompt-caching hints the provider client sends (the engine
    # tells it the run's prompt), and the flex fallback's count of resent calls.
    options: WireOptions | None = None
    flex: FlexFallback | None = None


def build_stack(
    config: RunConfig,
    *,
    model_file: ModelFile | None,
    logprobs: bool,
    pacing: SharedPacing | None = None,
) -> TransportStack:
    run, choice = config.run, choose_transport(config)
    options = WireOptions.of(config.provider)

    def client_for(bases: Sequence[str]) -> Transport:
        return provider_client(config, choice, bases, options)

    local = None
    if model_file is not None:
        local = LocalServerTransport(
            model_file,
            config.provider.local,
            alias=config.model.name,
            logprobs=logprobs,
            client_for=client_for,
        )
    client: Transport = local if local is not None else client_for(())
    throttle = Throttle(
        run.concurrency,
        requests_per_minute=run.requests_per_minute,
        tokens_per_minute=run.tokens_per_minute,
        shared=pacing,
    )
    health = ProviderHealth(
        unreachable_limit(run),
        config.provider.kind,
        diagnose=local.died if local is not None else None,
    )
    cache = ResponseCache(config.cache.path, config.cache.mode)
    online: Transport = RetryingTransport(
        HealthWatch(ThrottledTransport(client, throttle), health), run.retry, throttle.rest
    )
    flex = None
    if config.provider.flex_fallback is not None:
        online = flex = FlexFallback(online, config.provider.flex_fallback)
    batch = batch_layer(config, online, cache) if run.mode == "batch" else None
    top = CachingTransport(batch or online, cache, batch.answered_before if batch else None)
    return TransportStack(top, cache, throttle, health, choice, local, batch, options, flex)


def batch_layer(config: RunConfig, online: Transport, cache: ResponseCache) -> BatchLayer:
    """run.mode=batch: the provider's batch API, its record in the cache's database."""
    from framework.providers.batch.jobs import JobStore
    from framework.providers.batch.providers import batch_api
    from framework.providers.transports.batch import BatchLayer

    return BatchLayer(
        online,
        api=batch_api(config.provider, config.model),
        store=JobStore(cache.path),
        directory=cache.path.parent / "batches",
        provider=config.provider,
        model=config.model,
        retry=config.run.retry,
        settings=config.batch,
        retry_failed=config.run.retry_failed,
    )


def choose_transport(config: RunConfig) -> TransportChoice:
    """provider.transport: http for OpenAI's wire (auto), else litellm; a ConfigError for http
    to a provider on another wire."""
    setting, kind = config.provider.transport, config.provider.kind
    wire = PROFILES[kind].wire
    if setting == "litellm":
        return TransportChoice("litellm", "set in provider.transport")
    if wire != "openai":
        if setting == "http":
            raise ConfigError(
                f"provider.transport: http speaks OpenAI's chat-completions wire, and provider "
                f"{kind} speaks {wire}'s; use provider.transport=auto or litellm"
            )
        return TransportChoice("litellm", f"{kind} speaks {wire}'s wire, which litellm translates")
    why = "set in provider.transport" if setting == "http" else f"{kind} speaks OpenAI's wire"
    return TransportChoice("http", why)


def provider_client(
    config: RunConfig,
    choice: TransportChoice,
    bases: Sequence[str] = (),
    options: WireOptions | None = None,
) -> Transport:
    """The bottom of the stack: the chosen client, to `bases` (else the provider's api_base)."""
    if choice.name == "http":
        from framework.providers.transports.http import HttpTransport

        return HttpTransport(
            config.provider,
            config.model,
            api_bases=bases,
            pool=config.run.concurrency,
            options=options,
        )
    from framework.providers.transports.litellm import LitellmTransport  # imports litellm: 2 s

    return LitellmTransport(config.provider, config.model, api_bases=bases, options=options)
