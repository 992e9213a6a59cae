"""The llm tier of a route, certified on the LLM's answers to a sample of calibration rows.

    sample = draw_sample(ids, size=quality.llm_rows, seed=model.seed or 0)
    *scored, llm = certify_with_llm(names, scores, centers, sample, answers, gold, labels,
                                    llm_centers, floors, alpha=0.05)
    rates = llm_rates(scored, llm, scores, sample, answers, gold, llm_centers, ...)

The scored tiers (trained, zero_shot) are certified on every calibration row, the llm
tier on the sampled rows they leave open, each label on the rows where it is open
(framework.learning.routing.certify_route, with each tier's rows), and each further
LLM tier (route.llms) likewise on the sampled rows the tiers before it leave open;
alpha is split over all the tiers. A tier's rules depend only on the tiers before it,
so a further tier is asked only the sampled rows left open once those are certified.
The llm tier's scores are the fused confidences of a row's reading (the LLM's answer
fused with the trained model, as trained.use=ensemble): what a routed input row's
labels are decided from. A further tier's are its answer's labels, 1 or 0: per label,
whether its "present" and its "absent" answers meet the floors.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from framework.inputs.sampling import sample_rows
from framework.learning.certify import Floors, Shortfall, TierRules, rows_needed
from framework.learning.routing import certify_route

__all__ = [
    "LlmSample",
    "SampledTier",
    "certify_with_llm",
    "draw_sample",
    "llm_rates",
    "llm_scores",
    "open_on_sample",
    "sample_shortfalls",
]


@dataclass(frozen=True)
class SampledTier:
    """A further LLM tier after the llm tier: its answers to the sampled rows it was
    asked (None: not asked yet), and its centers (what splits present from absent)."""

    name: str
    answers: Mapping[str, Sequence[float]] | None
    centers: Sequence[float]


@dataclass(frozen=True)
class LlmSample:
    """The calibration rows the LLM answers: their indices among the calibration rows,
    their ids, the seed they were drawn with and a digest of the ids (the identity)."""

    indices: tuple[int, ...]
    ids: tuple[str, ...]
    seed: int
    digest: str

    def describe(self) -> dict[str, Any]:
        return {"rows": len(self.ids), "seed": self.seed, "ids_sha256": self.digest}


def draw_sample(ids: Sequence[str], size: int, seed: int) -> LlmSample:
    """`size` calibration rows drawn uniformly with `seed` (framework.inputs.sampling)."""
    chosen = sample_rows(range(len(ids)), size, seed)
    picked = tuple(ids[n] for n in chosen)
    digest = hashlib.sha256("\n".join(picked).encode()).hexdigest()
    return LlmSample(tuple(chosen), picked, seed, digest)


def llm_scores(sample: LlmSample, answers: Mapping[str, Sequence[float]], shape: Any) -> Any:
    """rows x labels: the fused confidences of the sampled rows, NaN on the others (and
    on sampled rows it was not asked: a further tier is asked only the open ones)."""
    import numpy as np

    scores = np.full(shape, np.nan)
    for index, row_id in zip(sample.indices, sample.ids, strict=True):
        if row_id in answers:
            scores[index] = answers[row_id]
    return scores


def certify_with_llm(  # noqa: PLR0917 (the procedure's inputs, as certify_route takes them)
    names: Sequence[str],
    scores: Sequence[Any],
    centers: Sequence[Sequence[float]],
    sample: LlmSample,
    answers: Mapping[str, Sequence[float]] | None,
    gold: Any,
    labels: Sequence[str],
    llm_centers: Sequence[float],
    floors: Floors,
    *,
    alpha: float,
    further: Sequence[SampledTier] = (),
) -> list[TierRules]:
    """The scored tiers' rules (`names`: trained, zero_shot), then, with `answers`, the
    llm tier's, then each further tier's that has answers. Without answers (before the
    LLM answered) the scored tiers' rules alone: a tier's rules do not depend on the
    scores of the tiers after it, so they are the same before and after."""
    import numpy as np

    y = np.asarray(gold, dtype=bool)
    in_sample = np.zeros(len(y), dtype=bool)
    in_sample[list(sample.indices)] = True
    every = np.ones(len(y), dtype=bool)
    sampled = [SampledTier("llm", answers, llm_centers), *further]
    route = certify_route(
        [*names, *(tier.name for tier in sampled)],
        [*scores, *(_scores_of(tier, sample, y.shape) for tier in sampled)],
        gold,
        labels,
        [*centers, *(tier.centers for tier in sampled)],
        floors,
        alpha=alpha,
        rows=[*([every] * len(names)), *([in_sample] * len(sampled))],
    )
    answered = 0
    while answered < len(sampled) and sampled[answered].answers:
        answered += 1
    return route[: len(names) + answered]


def _scores_of(tier: SampledTier, sample: LlmSample, shape: Any) -> Any:
    import numpy as np

    return llm_scores(sample, tier.answers, shape) if tier.answers else np.full(shape, np.nan)


def open_on_sample(route: Sequence[TierRules], scores: Sequence[Any], sample: LlmSample) -> Any:
    """rows of the sample x labels: True where no tier of `route` settles the label
    (`scores`: theirs of every calibration row, NaN where a tier has none)."""
    import numpy as np

    from framework.learning.routing import route_rows

    index = list(sample.indices)
    routed = route_rows(route, [np.asarray(s, dtype=float)[index] for s in scores])
    return routed.settled_by == len(route)


def sample_shortfalls(
    route: Sequence[TierRules],
    scores: Sequence[Any],
    sample: LlmSample,
    gold: Any,
    floors: Floors,
    *,
    alpha: float,
    later: int = 0,
) -> list[tuple[Shortfall, int]]:
    """The labels whose precision floor the llm tier cannot certify on the sample
    whatever its answers: fewer sampled rows the scored tiers leave open have the label
    than a perfect record needs; with the sample size that would have enough (in
    proportion). Labels the scored tiers settle on every sampled row need none.
    `later`: the further LLM tiers after the llm tier (alpha is split over them too)."""
    import numpy as np

    open_ = open_on_sample(route, scores, sample)
    y = np.asarray(gold, dtype=bool)[list(sample.indices)]
    each = alpha / max(1, (len(route) + 1 + later) * floors.tests())
    found = []
    for n, rule in enumerate(route[0].rules):
        floor = floors.precision.get(rule.label)
        if floor is None or not open_[:, n].any():
            continue
        have, need = int((y[:, n] & open_[:, n]).sum()), rows_needed(floor, each)
        if have < need:
            would = math.ceil(len(sample.indices) * need / have) if have else 0
            found.append((Shortfall(rule.label, "precision", have, need), would))
    return found


def llm_rates(  # noqa: PLR0917 (the route's parts, as certify_with_llm takes them)
    route: Sequence[TierRules],
    llm: TierRules,
    scores: Sequence[Any],
    sample: LlmSample,
    answers: Mapping[str, Sequence[float]],
    gold: Any,
    centers: Sequence[float],
    *,
    every_row_machine: bool,
) -> dict[str, dict[str, list[int]]]:
    """Per label, the llm tier's decisions on the sampled rows the output's selection
    keeps (every row when it decides what it leaves unsettled; else the rows it settles
    entirely), as framework.learning.route_estimate.calibration_rates counts them:
    "present": [rows with the label, decided present]; "absent": the same, absent."""
    import numpy as np

    mine = open_on_sample(route, scores, sample)  # the labels the llm tier decides
    unasked = [np.nan] * mine.shape[1]  # a further tier is asked only the open rows
    q = np.array([answers.get(row_id, unasked) for row_id in sample.ids], dtype=float)
    q = q.reshape(mine.shape)
    y = np.asarray(gold, dtype=bool)[list(sample.indices)]
    done = (~mine | llm.settled(q)).all(axis=1)
    kept = np.ones(len(q), dtype=bool) if every_row_machine else done
    present = q >= np.asarray(centers, dtype=float) - 1e-12
    rates: dict[str, dict[str, list[int]]] = {}
    for n, rule in enumerate(llm.rules):
        said = kept & mine[:, n] & present[:, n]
        left = kept & mine[:, n] & ~present[:, n]
        rates[rule.label] = {
            "present": [int(y[said, n].sum()), int(said.sum())],
            "absent": [int(y[left, n].sum()), int(left.sum())],
        }
    return rates
