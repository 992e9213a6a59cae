"""What calls cost: the model's configured prices, else nothing for a server of the
user's own, else litellm's price table (read as data: framework.providers.price_table;
litellm itself is asked only for a model the table does not hold); None when nobody
knows.

Each class of prompt token has its price: tokens read from the provider's prompt cache
(Usage.cached_tokens), tokens written to it (cache_write_tokens) and the rest; and so has
each service tier (provider.service_tier: the table's _flex and _priority prices). A class
or tier the table has no price for is priced at the plain (default tier's) price, with a
one-line warning once per model: never a silent zero.
"""

from __future__ import annotations

import logging

from framework.config.schema import ModelConfig, ProviderConfig, ServiceTier
from framework.providers.price_table import Rates, model_prices, table_rates
from framework.providers.profiles import PROFILES
from framework.records import Usage

__all__ = ["BATCH_DISCOUNT", "batch_price", "caching_saved", "price"]

log = logging.getLogger("labelwise")

# What OpenAI, Anthropic, Gemini, Bedrock and Mistral document for batch jobs: half the
# online price. Used where litellm has no batch price for the model.
BATCH_DISCOUNT = 0.5
_SUFFIX: dict[ServiceTier, str] = {"default": "", "flex": "_flex", "priority": "_priority"}
_warned: set[tuple[str, str]] = set()


def price(
    provider: ProviderConfig,
    model: ModelConfig,
    litellm_model: str,
    usage: Usage,
    *,
    tier: ServiceTier | None = None,
) -> float | None:
    """What the tokens cost at `tier` (provider.service_tier when not given)."""
    if model.input_cost_per_mtok is not None or model.output_cost_per_mtok is not None:
        return _configured_cost(model, usage)
    profile = PROFILES[provider.kind]
    if profile.free:
        return 0.0
    if not profile.priced_by_litellm:
        return None
    prices = model_prices(litellm_model)
    if prices is not None:
        suffix = _SUFFIX[tier or provider.service_tier]
        return _cost(table_rates(prices, suffix, usage.prompt_tokens), usage, litellm_model)
    from framework.providers.litellm_api import cost_per_token

    return cost_per_token(litellm_model, usage.prompt_tokens, usage.completion_tokens)


def caching_saved(
    provider: ProviderConfig, model: ModelConfig, litellm_model: str, usage: Usage
) -> float | None:
    """What the prompt cache saved on these tokens: their price as if none had been read
    from or written to the cache, less their price (negative when writes cost more than
    reads saved); None when unpriced."""
    plain = Usage(usage.prompt_tokens, usage.completion_tokens)
    without, spent = (price(provider, model, litellm_model, u) for u in (plain, usage))
    return None if without is None or spent is None else without - spent


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
    online = price(provider, model, litellm_model, usage, tier="default")
    why = f"{BATCH_DISCOUNT:.0%} of the online price (the providers' documented discount)"
    return (None if online is None else online * BATCH_DISCOUNT), why


def _batch_cost(litellm_model: str, usage: Usage) -> float | None:
    """The table's batch prices for the model (litellm's, when the table lacks the model)."""
    prices = model_prices(litellm_model)
    if prices is None:
        from framework.providers.litellm_api import batch_cost_per_token

        return batch_cost_per_token(litellm_model, usage.prompt_tokens, usage.completion_tokens)
    if "input_cost_per_token_batches" not in prices or "output_cost_per_token_batches" not in (
        prices
    ):
        return None
    return _cost(table_rates(prices, "_batches", usage.prompt_tokens), usage, litellm_model)


def _cost(rates: Rates, usage: Usage, litellm_model: str) -> float:
    """The price of each class of token; a missing price named once per model."""
    used = {
        "cache_read": usage.cached_tokens,
        "cache_write": usage.cache_write_tokens,
        "input": usage.uncached_prompt_tokens,
        "output": usage.completion_tokens,
    }
    for key in rates.missing:
        name = next(n for n in used if key.startswith(_TABLE_NAMES[n]))
        if used[name]:
            _warn_once(litellm_model, key)
    return (
        rates.input * used["input"]
        + rates.cache_read * used["cache_read"]
        + rates.cache_write * used["cache_write"]
        + rates.output * used["output"]
    )


_TABLE_NAMES = {
    "cache_read": "cache_read_input_token_cost",
    "cache_write": "cache_creation_input_token_cost",
    "input": "input_cost_per_token",
    "output": "output_cost_per_token",
}


def _configured_cost(model: ModelConfig, usage: Usage) -> float:
    plain = model.input_cost_per_mtok or 0.0
    read = model.cached_input_cost_per_mtok
    write = model.cache_write_cost_per_mtok
    for value, tokens, key in (
        (read, usage.cached_tokens, "model.cached_input_cost_per_mtok"),
        (write, usage.cache_write_tokens, "model.cache_write_cost_per_mtok"),
    ):
        if value is None and tokens:
            _warn_once(model.name, key)
    return (
        usage.uncached_prompt_tokens * plain
        + usage.cached_tokens * (plain if read is None else read)
        + usage.cache_write_tokens * (plain if write is None else write)
        + usage.completion_tokens * (model.output_cost_per_mtok or 0.0)
    ) / 1e6


def _warn_once(model: str, key: str) -> None:
    if (model, key) in _warned:
        return
    _warned.add((model, key))
    log.warning(
        "no %s price for %s: those tokens are priced at the plain input (or default tier's) "
        "price; set the model's prices in conf/model/ to correct it",
        key,
        model,
    )
