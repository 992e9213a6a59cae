"""report.html's cost section: what the rows cost, and how many of their prompt tokens the
provider's prompt cache served (docs/costs-and-caching.md); shown when a cache was used."""

from __future__ import annotations

from framework.evaluation.html_digest import RunDigest
from framework.evaluation.html_page import section, table

__all__ = ["cost_section"]


def cost_section(digest: RunDigest) -> list[str]:
    """The section, or none for a run whose provider reported no cached tokens."""
    usage = digest.usage
    if not (usage.cached_tokens or usage.cache_write_tokens):
        return []
    share = usage.cached_tokens / usage.prompt_tokens if usage.prompt_tokens else 0.0
    cost = "unknown" if digest.cost is None else f"${digest.cost:.4f}"
    rows = [
        ("prompt tokens", f"{usage.prompt_tokens:,}"),
        ("read from the provider's prompt cache", f"{usage.cached_tokens:,} ({share:.0%})"),
        ("written to it", f"{usage.cache_write_tokens:,}"),
        ("completion tokens", f"{usage.completion_tokens:,}"),
        ("cost, each class at its price", cost),
    ]
    note = (
        '<p class="muted">What caching saved, against the same tokens at the plain input '
        "price: record.json, costs.prompt_caching.saved.</p>"
    )
    return [section("Cost and prompt cache", table(("", "tokens"), rows, numeric=(1,)), note)]
