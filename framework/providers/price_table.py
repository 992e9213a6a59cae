"""What a model's tokens cost, read from litellm's price table without importing litellm.

    prices = model_prices("openai/gpt-4o-mini")   # {"input_cost_per_token": 1.5e-07, ...}
    table_cost(prices, prompt_tokens=1200, completion_tokens=9)

The table is the JSON file litellm ships (model_prices_and_context_window_backup.json,
what it reads itself with LITELLM_LOCAL_MODEL_COST_MAP=True): read here as data, because
importing litellm to price a call costs 2-4 s of every process (measured on 2 cores),
and a run on the HTTP transport needs nothing else of it. A model is found under its
litellm name ("gemini/gemini-2.5-flash") or without the provider's prefix
("openai/gpt-4o-mini" -> "gpt-4o-mini"), as litellm looks it up; None when the table
has no price for it (framework.providers.pricing then asks litellm itself).
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["Rates", "known_model", "model_entry", "model_prices", "table_cost", "table_rates"]

_FILE = "model_prices_and_context_window_backup.json"
# Prices that apply to every token of a call whose prompt is longer than N thousand.
_TIER = re.compile(r"^input_cost_per_token_above_(\d+)k_tokens$")


@cache
def _table() -> dict[str, Any]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / _FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def model_prices(litellm_model: str) -> dict[str, Any] | None:
    """The table's entry for the model (its per-token prices and the rest), or None."""
    table = _table()
    names = [litellm_model]
    if "/" in litellm_model:
        names.append(litellm_model.split("/", 1)[1])
    for name in names:
        entry = table.get(name)
        if isinstance(entry, dict) and "input_cost_per_token" in entry:
            return entry
    return None


def known_model(model: str, prefix: str) -> bool:
    """Whether litellm's map holds the model, under any name litellm would look it up by
    (with or without the provider's prefix)."""
    table = _table()
    names = {model, f"{prefix}/{model}"}
    if "/" in model:
        names.add(model.split("/", 1)[1])
    return any(isinstance(table.get(name), dict) for name in names)


def model_entry(model: str, prefix: str) -> dict[str, Any] | None:
    """The map's whole entry for a model (supports_vision, input_cost_per_image, ...)."""
    table = _table()
    for name in (f"{prefix}/{model}", model, model.split("/", 1)[-1]):
        entry = table.get(name)
        if isinstance(entry, dict):
            return entry
    return None


def table_cost(prices: dict[str, Any], prompt_tokens: int, completion_tokens: int) -> float:
    """What the tokens of one call cost at the table's online prices (the tier of a long
    prompt where the table has one)."""
    rates = table_rates(prices, "", prompt_tokens)
    return rates.input * prompt_tokens + rates.output * completion_tokens


@dataclass(frozen=True)
class Rates:
    """USD per token of each class, and the classes the table had no price for (priced
    at the plain input price, or at the default tier's, instead)."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    missing: tuple[str, ...] = ()


# The table's names: "input_cost_per_token" + suffix, "cache_read_input_token_cost" + suffix.
_CLASSES = (
    ("input", "input_cost_per_token"),
    ("output", "output_cost_per_token"),
    ("cache_read", "cache_read_input_token_cost"),
    ("cache_write", "cache_creation_input_token_cost"),
)


def table_rates(prices: dict[str, Any], suffix: str, prompt_tokens: int) -> Rates:
    """The per-token prices of a call: at the tier named by `suffix` ("" online, "_flex",
    "_priority", "_batches"), else the online price; a long prompt's prices where the table
    has them (online only); a cache class without a price costs the input price."""
    found: dict[str, float] = {}
    missing: list[str] = []
    for name, key in _CLASSES:
        value = prices.get(f"{key}{suffix}")
        if value is None and suffix:
            value = prices.get(key)
            if value is not None:
                missing.append(f"{key}{suffix}")
        if value is not None:
            found[name] = float(value)
    if not suffix:
        for threshold, key in _long_prompt_tiers(prices):
            if prompt_tokens > threshold:
                for name, base in _CLASSES:
                    above = key.replace("input_cost_per_token", base)
                    if above in prices:
                        found[name] = float(prices[above])
    plain = found.get("input", 0.0)
    for name, key in _CLASSES[2:]:
        if name not in found:
            missing.append(key + suffix)
    return Rates(
        plain,
        found.get("output", 0.0),
        found.get("cache_read", plain),
        found.get("cache_write", plain),
        tuple(missing),
    )


def _long_prompt_tiers(prices: dict[str, Any]) -> list[tuple[int, str]]:
    return sorted(
        (int(found.group(1)) * 1000, key)
        for key in prices
        if (found := _TIER.match(key)) is not None
    )
