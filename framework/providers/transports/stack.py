"""A run's transport, built from its config: the layers, top to bottom.

cache     a request made before is answered from the response cache
retry     a call that failed retryably is tried again, with back-off
health    calls in a row that cannot reach the provider stop the run
throttle  calls in flight and per minute, paced by the provider's 429s and quotas
client    the provider's API (litellm; for provider=local, the embedded server first)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from framework.config.schema import RunConfig
from framework.providers.local.models import ModelFile
from framework.providers.transports.base import Transport
from framework.providers.transports.cache import CachingTransport, ResponseCache
from framework.providers.transports.health import HealthWatch, ProviderHealth
from framework.providers.transports.litellm import LitellmTransport
from framework.providers.transports.local import LocalServerTransport
from framework.providers.transports.retry import RetryingTransport
from framework.providers.transports.throttle import Throttle, ThrottledTransport

__all__ = ["TransportStack", "build_stack"]


@dataclass
class TransportStack:
    top: Transport
    cache: ResponseCache
    throttle: Throttle
    health: ProviderHealth
    local: LocalServerTransport | None = None


def build_stack(
    config: RunConfig, *, model_file: ModelFile | None, logprobs: bool
) -> TransportStack:
    run = config.run

    def client_for(bases: Sequence[str]) -> Transport:
        return LitellmTransport(config.provider, config.model, api_bases=bases)

    local = None
    if model_file is not None:
        local = LocalServerTransport(
            model_file,
            config.provider.local,
            alias=config.model.name,
            logprobs=logprobs,
            client_for=client_for,
        )
    client: Transport = local or client_for(())
    throttle = Throttle(
        run.concurrency,
        requests_per_minute=run.requests_per_minute,
        tokens_per_minute=run.tokens_per_minute,
    )
    health = ProviderHealth(
        run.max_unreachable_calls or max(10, 2 * run.concurrency),
        config.provider.kind,
        diagnose=local.died if local else None,
    )
    cache = ResponseCache(config.cache.path, config.cache.mode)
    top = CachingTransport(
        RetryingTransport(
            HealthWatch(ThrottledTransport(client, throttle), health), run.retry, throttle.rest
        ),
        cache,
    )
    return TransportStack(top, cache, throttle, health, local)
