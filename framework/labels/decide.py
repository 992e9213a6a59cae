"""From per-label confidence to labels: thresholds, then the policy, by confidence.

When confidence decides (per-label calls, thresholds, chunks, votes), there is
no single answer to quote back to the model, so the policy is kept by choosing
among the labels by confidence: "none" beside real labels gives way to them
unless it is the most confident; of an exclusive group the most confident
stays; over max_labels the least confident go; an empty result becomes "none"
(or, where every text needs a label, the most confident label). "Most confident"
is measured against each label's own threshold (confidence minus threshold), so
calibrated thresholds of 0.1 and 0.6 compare fairly; with one threshold for all
labels it is the plain order of confidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from framework.labels.label_set import LabelSet

__all__ = ["Decision", "LabelDecider"]


@dataclass(frozen=True)
class Decision:
    labels: tuple[str, ...]
    repairs: tuple[str, ...] = ()
    uncertain: tuple[str, ...] = ()  # labels within the abstain band of their threshold


class LabelDecider:
    def __init__(
        self,
        labels: LabelSet,
        thresholds: Mapping[str, float],
        *,
        default: float = 0.5,
        band: float = 0.0,
    ) -> None:
        self.labels = labels
        self._threshold = {label: thresholds.get(label, default) for label in labels.ids}
        self._band = band

    @property
    def thresholds(self) -> dict[str, float]:
        """Each label's threshold."""
        return dict(self._threshold)

    def decide(self, confidence: Mapping[str, float]) -> Decision:
        offered = self.labels.ids
        score = {label: float(confidence.get(label, 0.0)) for label in offered}
        margin = {label: score[label] - self._threshold[label] for label in offered}
        ranked = sorted(offered, key=lambda label: -margin[label])
        chosen = [label for label in ranked if margin[label] >= 0]
        repairs: list[str] = []
        chosen = self._keep_none_alone(chosen, margin, repairs)
        chosen = self._one_per_group(chosen, repairs)
        chosen = self._within_count(chosen, ranked, repairs)
        if self.labels.policy.hierarchy == "add_parents":
            chosen, _ = self.labels.with_parents(chosen)
        uncertain = tuple(
            label
            for label in offered
            if self._band and abs(score[label] - self._threshold[label]) < self._band
        )
        ordered = tuple(label for label in [*offered, *chosen] if label in chosen)
        return Decision(tuple(dict.fromkeys(ordered)), tuple(repairs), uncertain)

    def _keep_none_alone(
        self, chosen: list[str], margin: dict[str, float], repairs: list[str]
    ) -> list[str]:
        none = self.labels.none
        if not self.labels.none_beside_others(chosen):
            return chosen
        others = [label for label in chosen if label != none]
        if margin[str(none)] > max(margin[label] for label in others):
            repairs.append(f"kept {none!r} alone: more confident than {', '.join(others)}")
            return [str(none)]
        repairs.append(f"removed {none!r}, which cannot stand beside other labels")
        return others

    def _one_per_group(self, chosen: list[str], repairs: list[str]) -> list[str]:
        while conflicts := self.labels.exclusive_conflicts(chosen):  # most confident first
            group, present = conflicts[0]
            for dropped in present[1:]:
                chosen.remove(dropped)
                repairs.append(f"dropped {dropped!r}: {present[0]!r} is more confident ({group})")
        return chosen

    def _within_count(self, chosen: list[str], ranked: list[str], repairs: list[str]) -> list[str]:
        labels, most = self.labels, self.labels.policy.max_labels
        none = labels.none
        if most is not None and len(chosen) > most:
            repairs.append(f"kept the {most} most confident labels")
            chosen = chosen[:most]
        if not chosen:
            if none is not None:
                return [none]
            if labels.least == 0:
                return []
        if chosen != [none] and len(chosen) < labels.least:
            extra = [label for label in ranked if label not in chosen and label != none]
            added = extra[: labels.least - len(chosen)]
            repairs.append(f"added {', '.join(added)}, the most confident, to reach {labels.least}")
            chosen = chosen + added
        return chosen
