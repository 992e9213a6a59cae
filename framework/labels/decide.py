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

from framework.config.schema import TaxonomyConfig, ValidationConfig
from framework.labels.taxonomy import ancestors, offered_labels

__all__ = ["Decision", "LabelDecider"]


@dataclass(frozen=True)
class Decision:
    labels: tuple[str, ...]
    repairs: tuple[str, ...] = ()
    uncertain: tuple[str, ...] = ()  # labels within the abstain band of their threshold


class LabelDecider:
    def __init__(
        self,
        taxonomy: TaxonomyConfig,
        policy: ValidationConfig,
        thresholds: Mapping[str, float],
        *,
        default: float = 0.5,
        band: float = 0.0,
    ) -> None:
        self._taxonomy, self._policy = taxonomy, policy
        self._offered = [label.id for label in offered_labels(taxonomy, policy)]
        self._threshold = {label: thresholds.get(label, default) for label in self._offered}
        self._band = band
        self._ancestors = ancestors(taxonomy)

    def decide(self, confidence: Mapping[str, float]) -> Decision:
        score = {label: float(confidence.get(label, 0.0)) for label in self._offered}
        margin = {label: score[label] - self._threshold[label] for label in self._offered}
        ranked = sorted(self._offered, key=lambda label: -margin[label])
        chosen = [label for label in ranked if margin[label] >= 0]
        repairs: list[str] = []
        chosen = self._keep_none_alone(chosen, margin, repairs)
        chosen = self._one_per_group(chosen, repairs)
        chosen = self._within_count(chosen, ranked, repairs)
        if self._policy.hierarchy == "add_parents":
            for label in list(chosen):
                chosen += [p for p in self._ancestors.get(label, ()) if p not in chosen]
        uncertain = tuple(
            label for label in self._offered
            if self._band and abs(score[label] - self._threshold[label]) < self._band
        )  # fmt: skip
        ordered = tuple(label for label in [*self._offered, *chosen] if label in chosen)
        return Decision(tuple(dict.fromkeys(ordered)), tuple(repairs), uncertain)

    def _keep_none_alone(
        self, chosen: list[str], margin: dict[str, float], repairs: list[str]
    ) -> list[str]:
        none = self._taxonomy.none_label
        if none not in chosen or len(chosen) == 1:
            return chosen
        others = [label for label in chosen if label != none]
        if margin[none] > max(margin[label] for label in others):
            repairs.append(f"kept {none!r} alone: more confident than {', '.join(others)}")
            return [none]
        repairs.append(f"removed {none!r}, which cannot stand beside other labels")
        return others

    def _one_per_group(self, chosen: list[str], repairs: list[str]) -> list[str]:
        for group, members in self._taxonomy.exclusive.items():
            present = [label for label in chosen if label in members]  # most confident first
            for dropped in present[1:]:
                chosen.remove(dropped)
                repairs.append(f"dropped {dropped!r}: {present[0]!r} is more confident ({group})")
        return chosen

    def _within_count(self, chosen: list[str], ranked: list[str], repairs: list[str]) -> list[str]:
        none, policy = self._taxonomy.none_label, self._policy
        if policy.max_labels is not None and len(chosen) > policy.max_labels:
            repairs.append(f"kept the {policy.max_labels} most confident labels")
            chosen = chosen[: policy.max_labels]
        if not chosen:
            if none is not None:
                return [none]
            if self._taxonomy.allow_empty and policy.min_labels == 0:
                return []
        least = max(policy.min_labels, 0 if self._taxonomy.allow_empty else 1)
        if chosen != [none] and len(chosen) < least:
            extra = [label for label in ranked if label not in chosen and label != none]
            added = extra[: least - len(chosen)]
            repairs.append(f"added {', '.join(added)}, the most confident, to reach {least}")
            chosen = chosen + added
        return chosen
