"""What a run's prompt cache saved and what its service tier did, for record.json's
"costs" section and the end-of-run summary.

    account_costs(classifier, totals)   # at the end of a run

The ledger already priced each call by its classes of token (framework.providers.pricing);
this says, over the run, how many prompt tokens were read from and written to the
provider's prompt cache and what the same tokens would have cost without it, and, with
provider.flex_fallback, how many flex calls were sent again at the default tier and what
they cost.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from framework.providers.pricing import caching_saved

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier
    from framework.runner.totals import RunTotals

__all__ = ["account_costs"]


def account_costs(classifier: Classifier, totals: RunTotals) -> None:
    """Add the "costs" section to the totals' record and its lines to the summary."""
    config, usage = classifier.config, totals.usage
    provider = config.provider
    section: dict[str, Any] = {}
    if usage.cached_tokens or usage.cache_write_tokens or provider.prompt_caching == "on":
        saved = caching_saved(provider, config.model, classifier.engine.plan.model, usage)
        without = None if saved is None or totals.cost is None else totals.cost + saved
        section["prompt_caching"] = {
            "setting": provider.prompt_caching,
            "prompt_tokens": usage.prompt_tokens,
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "cost_without_caching": without,
            "saved": saved,
        }
        share = f" ({saved / without:.0%} of ${without:.4f})" if saved and without else ""
        said = "unknown (no price)" if saved is None else f"${saved:.4f}{share}"
        totals.notes.append(
            (
                logging.INFO,
                f"prompt cache: {usage.cached_tokens:,} of {usage.prompt_tokens:,} prompt "
                f"tokens read from it, {usage.cache_write_tokens:,} written; saved {said}",
            )
        )
    if provider.service_tier != "default":
        tier: dict[str, Any] = {"tier": provider.service_tier}
        flex = classifier.stack.flex
        executor = totals.record.get("executor") or {}
        elsewhere = executor.get("workers", 1) != 1 or executor.get("name") == "ray"
        if flex is not None and elsewhere:
            # Each worker process holds its own fallback layer; their counts are not collected.
            tier["fallback"] = {"deadline": provider.flex_fallback, "resent": None}
        elif flex is not None:
            tier["fallback"] = flex.summary()
            cost = "unknown" if flex.cost is None else f"${flex.cost:.4f}"
            totals.notes.append(
                (
                    logging.WARNING if flex.resent else logging.INFO,
                    f"service tier {provider.service_tier}: {flex.resent:,} calls sent again "
                    f"at the default tier (provider.flex_fallback={flex.deadline:g} s), "
                    f"costing {cost}",
                )
            )
        section["service_tier"] = tier
    if section:
        totals.record["costs"] = section
