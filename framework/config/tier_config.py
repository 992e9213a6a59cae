"""A further LLM tier's config (route.llms): the run's LLM configuration with the
tier's own overrides, and nothing of the route around it.

    tier_config(run_config, "strong", ["provider=openai", "model=gpt-4o-mini"])

An override is written as on the command line. `group=option` takes the group's
option for its section (conf/provider/openai.yaml for the provider section), as a run
with that override would; `section.key=value` changes one value of the run's section
(or of the option the same tier names). Only the sections that say how the LLM is
asked may change: another taxonomy, input or route would be another run, not a tier.
The tier's config has no trained model, cascade, zero-shot scorer, route, quality
target or distillation of its own: it is asked the labels the tiers before it leave
open, and it answers them from the text alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from omegaconf import OmegaConf
from pydantic import ValidationError

from framework.config.load import compose
from framework.config.schema import RunConfig
from framework.errors import ConfigError

__all__ = ["TIER_SECTIONS", "tier_config"]

# The sections a further LLM tier may change: how the LLM is asked.
TIER_SECTIONS = ("provider", "model", "prompt", "strategy", "validation", "examples")
# What the tier leaves as a config's defaults: the route's parts, not the LLM's.
_NOT_THE_TIERS = ("trained", "cascade", "zero_shot", "route", "quality", "distill")


def tier_config(run: RunConfig, name: str, overrides: Sequence[str]) -> RunConfig:
    """The config of further LLM tier `name`; a ConfigError naming route.llms.<name>."""
    key = f"route.llms.{name}"
    groups: set[str] = set()
    for override in overrides:
        path, sep, _ = override.partition("=")
        section = path.split(".")[0]
        if not sep or path.startswith(("+", "~")) or section not in TIER_SECTIONS:
            raise ConfigError(
                f"{key}: {override!r} is not an override a tier may make; a tier changes "
                f"{', '.join(TIER_SECTIONS)} (e.g. provider=openai, model=gpt-4o-mini, "
                "model.temperature=0)"
            )
        if "." not in path:
            groups.add(section)
    try:
        composed = compose(overrides)
    except ConfigError as error:
        raise ConfigError(f"{key}: {error}") from None
    found: dict[str, Any] = run.model_dump(mode="json")
    fresh = RunConfig.model_fields
    for part in _NOT_THE_TIERS:
        default = fresh[part].get_default(call_default_factory=True)
        found[part] = default.model_dump(mode="json")
    # The tier's classifier checks that what caps it is priced: its own cap
    # (budget.tiers.<name>), else the run's; the caps are counted by the run's ledger.
    cap = run.budget.tiers.get(name)
    found["budget"] = {
        "max_cost": cap.max_cost if cap is not None and cap.max_cost else run.budget.max_cost,
        "max_tokens": None,
        "tiers": {},
    }
    # Asked online, also in a batch run: its rows' open labels are known only once the
    # llm tier's batch answers are read, and the run's jobs carry the run's LLM only.
    found["run"]["mode"] = "online"
    for section in groups:
        found[section] = OmegaConf.to_container(composed[section], resolve=True)
    for override in overrides:
        path = override.partition("=")[0]
        section, _, rest = path.partition(".")
        if rest and section not in groups:  # one value of the run's own section
            _set(found[section], rest.split("."), OmegaConf.select(composed, path))
    try:
        return RunConfig.model_validate(found)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{key}: {where}: {first['msg']}") from None


def _set(node: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        node = node.setdefault(part, {})
    node[path[-1]] = value
