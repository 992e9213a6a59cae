"""What a question offers the model: the labels, and the strategy, prompt, request plan
and asker made for exactly those labels.

    offers = Offers(make_offer, full)          # build_engine: the taxonomy's labels
    offer = offers.of(("anger", "joy", "neutral"))   # a row's shortlist (zero_shot.use=shortlist)
    await offer.asker.ask(question, tally)

A run offers every label to every row, unless a component shortlists a row's labels
(state.offered): then that row's prompt lists, its schema allows and its answer is
checked against the shortlist alone. The shortlist is in the request itself, so the
response cache keys it like any other prompt.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from framework.engine.conversation import Asker
from framework.engine.prompt import PromptRenderer
from framework.engine.strategies import Strategy
from framework.labels.label_set import LabelSet

__all__ = ["Offer", "Offers"]


@dataclass(frozen=True)
class Offer:
    labels: LabelSet
    strategy: Strategy
    renderer: PromptRenderer
    asker: Asker


class Offers:
    """The full offer, and each shortlist's, made on first use and kept (the most recent
    `keep`: a renderer costs a template load and a probe render, about 2 ms)."""

    def __init__(self, make: Callable[[LabelSet], Offer], full: Offer, keep: int = 512) -> None:
        self.full, self._make, self._keep = full, make, keep
        self._made: OrderedDict[tuple[str, ...], Offer] = OrderedDict()

    def of(self, offered: Sequence[str] | None) -> Offer:
        """The offer of these labels (taxonomy order is kept), or the full one."""
        if offered is None:
            return self.full
        wanted = set(offered)
        ids = tuple(label for label in self.full.labels.ids if label in wanted)
        if ids == self.full.labels.ids:
            return self.full
        offer = self._made.get(ids)
        if offer is None:
            specs = tuple(spec for spec in self.full.labels.specs if spec.id in wanted)
            offer = self._make(replace(self.full.labels, specs=specs))
            self._made[ids] = offer
            if len(self._made) > self._keep:
                self._made.popitem(last=False)
        else:
            self._made.move_to_end(ids)
        return offer
