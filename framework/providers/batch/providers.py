"""Which providers have a batch API labelwise drives, and the client of each.

api = batch_api(config.provider, config.model)   # ConfigError for a provider without one
"""

from __future__ import annotations

from framework.config.schema import ModelConfig, ProviderConfig
from framework.errors import ConfigError
from framework.providers.batch.apis import BatchApi
from framework.providers.profiles import PROFILES

__all__ = ["BATCH_PROVIDERS", "batch_api"]

# Providers whose batch API labelwise drives, by the API they speak (profile data).
BATCH_PROVIDERS: dict[str, str] = {
    kind: profile.batch_api for kind, profile in PROFILES.items() if profile.batch_api
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
