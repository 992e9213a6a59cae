"""Which providers have a batch API labelwise drives, and the client of each.

api = batch_api(config.provider, config.model)   # ConfigError for a provider without one
"""

from __future__ import annotations

from framework.config.schema import ModelConfig, ProviderConfig
from framework.errors import ConfigError
from framework.providers.batch.apis import BatchApi

__all__ = ["BATCH_PROVIDERS", "batch_api"]

# Providers whose batch API labelwise drives, by the API they speak.
BATCH_PROVIDERS: dict[str, str] = {
    "openai": "openai",
    "openai_compatible": "openai",  # vLLM and gateways that serve /v1/files and /v1/batches
    "azure": "openai",  # the same API under the resource's /openai, with an api-version
    "anthropic": "anthropic",
}


def batch_api(provider: ProviderConfig, model: ModelConfig) -> BatchApi:
    """The batch API of the run's provider; a ConfigError naming those that have one."""
    api = BATCH_PROVIDERS.get(provider.kind)
    if api == "openai":
        from framework.providers.batch.openai_api import OpenAIBatches

        return OpenAIBatches(provider, model)
    if api == "anthropic":
        from framework.providers.batch.anthropic_api import AnthropicBatches

        return AnthropicBatches(provider, model)
    names = ", ".join(sorted(BATCH_PROVIDERS))
    raise ConfigError(
        f"run.mode=batch: provider {provider.kind} has no batch API labelwise can drive; "
        f"batch mode works with {names} (or use run.mode=online)"
    )
