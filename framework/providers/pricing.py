"""What calls cost: the model's configured prices, else nothing for a server of the
user's own, else litellm's price map; None when nobody knows."""

from __future__ import annotations

from framework.config.schema import ModelConfig, ProviderConfig
from framework.providers.profiles import PROFILES
from framework.records import Usage

__all__ = ["price"]


def price(
    provider: ProviderConfig, model: ModelConfig, litellm_model: str, usage: Usage
) -> float | None:
    if model.input_cost_per_mtok is not None or model.output_cost_per_mtok is not None:
        return (
            usage.prompt_tokens * (model.input_cost_per_mtok or 0.0)
            + usage.completion_tokens * (model.output_cost_per_mtok or 0.0)
        ) / 1e6
    profile = PROFILES[provider.kind]
    if profile.free:
        return 0.0
    if not profile.priced_by_litellm:
        return None
    from framework.providers.litellm_api import cost_per_token

    return cost_per_token(litellm_model, usage.prompt_tokens, usage.completion_tokens)
