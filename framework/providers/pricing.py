"""What calls cost: the model's configured prices, else nothing for a server of the
user's own, else litellm's price table (read as data: framework.providers.price_table;
litellm itself is asked only for a model the table does not hold); None when nobody
knows."""

from __future__ import annotations

from framework.config.schema import ModelConfig, ProviderConfig
from framework.providers.price_table import model_prices, table_cost
from framework.providers.profiles import PROFILES
from framework.records import Usage

__all__ = ["BATCH_DISCOUNT", "batch_price", "price"]

# What OpenAI, Anthropic, Gemini, Bedrock and Mistral document for batch jobs: half the
# online price. Used where litellm has no batch price for the model.
BATCH_DISCOUNT = 0.5


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
    prices = model_prices(litellm_model)
    if prices is not None:
        return table_cost(prices, usage.prompt_tokens, usage.completion_tokens)
    from framework.providers.litellm_api import cost_per_token

    return cost_per_token(litellm_model, usage.prompt_tokens, usage.completion_tokens)


def batch_price(
    provider: ProviderConfig, model: ModelConfig, litellm_model: str, usage: Usage
) -> tuple[float | None, str]:
    """What the calls cost in a provider batch job, and where that price comes from:
    litellm's batch prices for the model, else half the online price (the discount the
    providers document)."""
    configured = model.input_cost_per_mtok is not None or model.output_cost_per_mtok is not None
    profile = PROFILES[provider.kind]
    if not configured and not profile.free and profile.priced_by_litellm:
        found = _batch_cost(litellm_model, usage)
        if found is not None:
            return found, "litellm's batch price"
    online = price(provider, model, litellm_model, usage)
    why = f"{BATCH_DISCOUNT:.0%} of the online price (the providers' documented discount)"
    return (None if online is None else online * BATCH_DISCOUNT), why


def _batch_cost(litellm_model: str, usage: Usage) -> float | None:
    """The table's batch prices for the model (litellm's, when the table lacks the model)."""
    prices = model_prices(litellm_model)
    if prices is None:
        from framework.providers.litellm_api import batch_cost_per_token

        return batch_cost_per_token(litellm_model, usage.prompt_tokens, usage.completion_tokens)
    prompt, completion = (
        prices.get("input_cost_per_token_batches"),
        prices.get("output_cost_per_token_batches"),
    )
    if prompt is None or completion is None:
        return None
    return float(prompt) * usage.prompt_tokens + float(completion) * usage.completion_tokens
