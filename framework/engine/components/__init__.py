"""What stands beside the LLM for one item: the engine's components, in one table.

    components = build_components(Parts(config, labels, decider))
    # the engine calls each one's before(state) and after(state, reading) (base.py)

COMPONENTS lists them in the order the engine calls them: each one's `build` returns
None when the run's config does not use it, so a run without any is the LLM alone. A
new labeler beside the LLM (a keyword rule that labels obvious rows, a zero-shot
scorer) is one module with a Component subclass and one entry here.
"""

from __future__ import annotations

from framework.engine.components.base import Component, ItemState, Parts
from framework.engine.components.cascade import CascadeComponent
from framework.engine.components.embeddings import EmbeddingsComponent
from framework.engine.components.examples import ExamplesComponent
from framework.engine.components.route import RouteComponent
from framework.engine.components.route_further import companion_key
from framework.engine.components.route_llm import LlmTier, calibrating, is_calibrating
from framework.engine.components.trained import TrainedComponent
from framework.engine.components.zero_shot import ZeroShotComponent

__all__ = [
    "COMPONENTS",
    "Component",
    "ItemState",
    "LlmTier",
    "Parts",
    "RouteComponent",
    "build_components",
    "calibrating",
    "companion_key",
    "decided_words",
    "is_calibrating",
    "path_words",
    "record_sections",
    "tier_words",
]


# In the order the engine calls them: the embedding first (the others read it), the
# zero-shot scorer and the trained model before the route and the cascade that gate on
# it, the examples last (only for rows that reach the LLM).
COMPONENTS: tuple[type[Component], ...] = (
    EmbeddingsComponent,
    ZeroShotComponent,
    TrainedComponent,
    RouteComponent,
    CascadeComponent,
    ExamplesComponent,
)


def build_components(parts: Parts) -> list[Component]:
    """The components the run's config uses, in the table's order."""
    for kind in COMPONENTS:
        component = kind.build(parts)
        if component is not None:
            parts.built[component.name] = component
    return list(parts.built.values())


def path_words() -> dict[str, str]:
    """How the summary words the rows of each path a component routes (totals.by_path)."""
    return {path: words for kind in COMPONENTS for path, words in kind.paths.items()}


def record_sections() -> list[str]:
    """The sections of record.json components own (null in a run that does not use one)."""
    return [kind.section for kind in COMPONENTS if kind.section]


def decided_words() -> dict[str, str]:
    """How `labelwise plan` words the rows each component decides without a call."""
    words = {kind.name: kind.decides for kind in COMPONENTS if kind.decides}
    for kind in COMPONENTS:
        words.update(kind.decides_as)
    return words


def tier_words() -> dict[str, str]:
    """How the summary words a routed run's rows, by tier (totals.by_tier)."""
    return {tier: words for kind in COMPONENTS for tier, words in kind.words_by_tier.items()}
