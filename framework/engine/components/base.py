"""What every engine component is, and what it sees of the item on its way.

    class Keywords(Component):             # a new labeler beside the LLM
        name = "keywords"
        async def before(self, state):     # may decide the row itself, no call made
            ...

The engine (framework.engine.engine) calls each component of its list, in the order of
COMPONENTS (framework.engine.components), around the LLM for one item:

    before(state)            before the LLM is asked: find something out about the item
                             (its embedding, the trained model's probabilities, the
                             examples to show) and keep it in `state`, or decide the row
                             (a Prediction: the LLM is not asked, the rest is skipped)
    after(state, reading)    after the LLM answered: weigh its reading (fuse it with the
                             trained model's probabilities), or pass it on
    decided(state, row)      the row decided from the reading: as it stands, or another
                             (a route asks a further LLM tier the labels its LLM tier
                             leaves unsettled, or hands the row to people)
    failed(state, row)       after the LLM failed: the failed row, or another (a route
                             hands it to the next tier)
    empty_text(row)          the row of an empty text (decided by the taxonomy's rule,
                             no call): as it stands, or with what the component notes

and, once for the run: identity() (the keys that join the results file's identity, so
a run is not resumed under another model or pool), describe() (its sections of
record.json), companions() (other LLM configurations it asks, by the config key that
defines each: the Classifier builds a classifier of each and hands it back by
attach(key, asker)), carry() and carried(state) (what it learnt before the rows, for
its copies in worker processes), `paths` and `decides` (how the summary and plan word
the rows it routes or decides), close(). Every hook does nothing unless a component
overrides it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from framework.config.schema import RunConfig
from framework.labels.decide import LabelDecider
from framework.labels.label_set import LabelSet
from framework.records import Item, Prediction

if TYPE_CHECKING:
    from framework.engine.conversation import Tally
    from framework.engine.readings import Reading
    from framework.inputs.images import PreparedImage

__all__ = ["AsksItems", "Component", "ItemState", "Parts"]


class AsksItems(Protocol):
    """What a component may ask of another LLM configuration: one item, one row
    (framework.engine.classifier.Classifier, built from a companion's config)."""

    async def classify_item(self, item: Item) -> Prediction: ...


@dataclass
class ItemState:
    """One item on its way through the engine: what the components found out about it
    and what its row records beside the labels (`extra`: path, sources, ...)."""

    item: Item
    tally: Tally
    vector: Any = None  # its embedding (the embeddings component)
    scores: dict[str, float] | None = None  # the trained model's probabilities
    preface: str | None = None  # what goes ahead of the prompt (its examples)
    offered: tuple[str, ...] | None = None  # the labels its questions offer (None: all)
    images: tuple[PreparedImage, ...] = ()  # its images, ready to send (columns.image)
    extra: dict[str, Any] = field(default_factory=dict)
    # What a component keeps between its before and after (not written to the row).
    held: dict[str, Any] = field(default_factory=dict)

    def finish(self, prediction: Prediction) -> Prediction:
        """The row as written: the prediction with what the components noted."""
        if not self.extra:
            return prediction
        return replace(prediction, extra={**prediction.extra, **self.extra})


@dataclass
class Parts:
    """What components are built from: the run's config and the engine's labels and
    decider, and the components built before (a cascade needs the trained model)."""

    config: RunConfig
    labels: LabelSet
    decider: LabelDecider
    built: dict[str, Component] = field(default_factory=dict)


class Component:
    """Something that stands beside the LLM for one item; see the module's docstring."""

    name: ClassVar[str]
    # The section of record.json it owns (None: it fills in another's, or none at all);
    # a run without it records the section as null.
    section: ClassVar[str | None] = None
    # The words of the summary for rows by path (Prediction.extra["path"]) it sets.
    paths: ClassVar[dict[str, str]] = {}
    # How `labelwise plan` words the rows it decides without a call.
    decides: ClassVar[str | None] = None
    # ... and by the rows' decided_by, where it decides rows in more than one way.
    decides_as: ClassVar[dict[str, str]] = {}
    # How the summary words rows by tier (Prediction.extra["tier"]), where it sets one.
    words_by_tier: ClassVar[dict[str, str]] = {}

    @classmethod
    def build(cls, parts: Parts) -> Component | None:
        """The component for the run, or None when its config does not use it."""
        return None

    def identity(self) -> dict[str, Any]:
        return {}

    def describe(self) -> dict[str, Any]:
        """Its sections of record.json ({section: value}, merged key by key)."""
        return {}

    def companions(self) -> dict[str, RunConfig]:
        """Other LLM configurations it asks, by the key that defines each (a route's
        further LLM tiers: route.llms.<tier>)."""
        return {}

    def attach(self, name: str, asker: AsksItems) -> None:
        """The classifier built from companions()[name], handed over before any row."""
        raise NotImplementedError(f"{self.name} names no companion {name!r}")

    def carry(self) -> Any:
        """What it learnt in this process before the rows (a route's calibration
        answers) that its copies in worker processes need, picklable; None: nothing."""
        return None

    def carried(self, state: Any) -> None:
        """In a worker process: what carry() gave in the run's process."""

    async def before(self, state: ItemState) -> Prediction | None:
        return None

    def after(self, state: ItemState, reading: Reading) -> Reading:
        return reading

    async def decided(self, state: ItemState, prediction: Prediction) -> Prediction:
        """The row as decided from the LLM's (weighed) reading."""
        return prediction

    async def failed(self, state: ItemState, prediction: Prediction) -> Prediction:
        """The row whose LLM call failed (a route may hand it to the next tier)."""
        return prediction

    def empty_text(self, prediction: Prediction) -> Prediction:
        """The row of an empty text, decided without a call (a route names its tier)."""
        return prediction

    def close(self) -> None:
        """Let go of what it holds open (a connection to the cache file)."""
