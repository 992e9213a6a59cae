"""The estimated quality of a routed run's output, label by label, before any gold.

    rates = calibration_rates(rules, scores, gold, every_row_machine=True)  # at build
    decisions = count_decisions(read_result_rows(results), labels)        # after the run
    estimate = estimate_output(rates, decisions, tiers, alpha=0.05)        # record.json

What is estimated: per label, the precision and recall of the machine-labeled rows
of the output (tiers trained and llm; people's rows carry no machine labels and are
left out, as are failed rows), with intervals of the realised figures.

How (the method):
- Each label decision of the output is made by one tier: the trained tier (rows it
  settles entirely, and the labels it settles on rows that go on to the LLM; the
  results row lists those under `settled`) or the LLM tier (the rest of an LLM row).
- The trained tier's decisions are read on the calibration rows with the same
  selection (framework.learning.routing): among the calibration rows where it settles
  the label "present", the share that have it (p1); among those it settles "absent",
  the share that have it nonetheless (q1). Each rate gets an exact Clopper-Pearson
  interval at alpha / 4 (two rates, two sides of the binomial draw below).
- The output's n1 "present" and n0 "absent" decisions of the trained tier are a
  binomial draw at those rates: its true positives and misses lie within the
  binomial's alpha / 4 quantiles at the interval's ends. These are predictive
  intervals of the realised counts, not only of the rates.
- Without quality.llm_rows the LLM tier is not certified in a run: its answers on the
  calibration rows are not known (asking it there costs calls). Its part is NOT
  estimated: for a label any LLM decision touches, the point estimate is null and the
  interval is the bound over every outcome of its decisions (all wrong to all right)
  around the trained part's interval. A route without an LLM tier is estimated in full.
- With quality.llm_rows the LLM tier's decisions are read the same way on the sampled
  calibration rows it decided (`rates.llm`: framework.learning.route_llm.llm_rates)
  and drawn like the scored tiers', alpha split over the tiers.
- A further LLM tier (route.llms) is not certified in a run: its decisions are bounded,
  not estimated, as the uncertified llm tier's are.
Precision = TP / (present decisions); recall = TP / (TP + misses), each bound taken
at the ends that make it smallest and largest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from framework.learning.certify import TierRules, predicted_hits
from framework.results import ResultRow

__all__ = [
    "calibration_rates",
    "count_decisions",
    "estimate_output",
    "estimate_results",
    "route_rates",
    "tier_counts",
]

MACHINE = ("trained", "zero_shot", "llm")
SCORED = ("trained", "zero_shot")  # the certified tiers before the LLM
_ORDER = {"trained": 0, "zero_shot": 1, "llm": 2, "human": 4, "none": 5}  # further LLM tiers: 3
NOT_ESTIMATED = (
    "the uncertified LLM tiers' decisions are not estimated (they are not run on the "
    "calibration rows: the llm tier without quality.llm_rows, further LLM tiers); the "
    "interval bounds every outcome of them"
)


def calibration_rates(
    rules: TierRules, scores: Any, gold: Any, *, every_row_machine: bool
) -> dict[str, dict[str, list[int]]]:
    """Per label, on the calibration rows the output's selection keeps (every row when
    an LLM tier labels what the trained tier leaves; else the rows it settles entirely):
    "present": [rows with the label, rows settled present]; "absent": [rows with the
    label, rows settled absent]."""
    import numpy as np

    p = np.asarray(scores, dtype=float)
    y = np.asarray(gold, dtype=bool)
    settled, present = rules.settled(p), rules.present(p)
    kept = np.ones(len(p), dtype=bool) if every_row_machine else settled.all(axis=1)
    rates: dict[str, dict[str, list[int]]] = {}
    for n, rule in enumerate(rules.rules):
        said = kept & settled[:, n] & present[:, n]
        left = kept & settled[:, n] & ~present[:, n]
        rates[rule.label] = {
            "present": [int(y[said, n].sum()), int(said.sum())],
            "absent": [int(y[left, n].sum()), int(left.sum())],
        }
    return rates


def route_rates(
    route: Sequence[TierRules], scores: Sequence[Any], gold: Any, *, every_row_machine: bool
) -> dict[str, dict[str, dict[str, list[int]]]]:
    """calibration_rates of each scored tier of a route ({tier: {label: ...}}): each
    read on the calibration rows where it is the tier that settles the label (the first
    to), with the output's selection (every row with an LLM tier after them; else the
    rows they settle entirely)."""
    import numpy as np

    from framework.learning.routing import route_rows

    y = np.asarray(gold, dtype=bool)
    routed = route_rows(route, scores)
    kept = np.ones(len(y), dtype=bool) if every_row_machine else routed.tier < len(route)
    found: dict[str, dict[str, dict[str, list[int]]]] = {}
    for k, rules in enumerate(route):
        rates: dict[str, dict[str, list[int]]] = {}
        for n, rule in enumerate(rules.rules):
            by_k = kept & (routed.settled_by[:, n] == k)
            present = np.asarray(rules.present(scores[k]))[:, n]
            said, left = by_k & present, by_k & ~present
            rates[rule.label] = {
                "present": [int(y[said, n].sum()), int(said.sum())],
                "absent": [int(y[left, n].sum()), int(left.sum())],
            }
        found[rules.tier] = rates
    return found


def count_decisions(
    rows: Iterable[ResultRow],
    labels: Sequence[str],
    scored: Sequence[str] = ("trained",),
    further: Sequence[str] = (),
) -> dict[str, Any]:
    """Per label and machine tier (`scored`: the route's certified tiers, the LLM's and
    the `further` LLM tiers'), the output's [present, absent] decisions, and the rows by
    tier (with what they cost: a further tier's row, its llm tier's call too)."""
    machine = (*scored, "llm", *further)
    decisions = {label: {tier: [0, 0] for tier in machine} for label in labels}
    tiers: dict[str, dict[str, Any]] = {}
    for row in rows:
        tier = str(row.extra.get("tier", "none"))
        about = tiers.setdefault(tier, {"rows": 0, "cost": 0.0})
        about["rows"] += 1
        if about["cost"] is not None and row.attempts:
            about["cost"] = None if row.cost is None else about["cost"] + row.cost
        if tier not in machine or not row.ok or row.extra.get("empty_text"):
            continue
        by_first = set(row.extra.get("settled") or ()) if tier == "llm" else set(labels)
        settled_by: dict[str, str] = row.extra.get("settled_by") or {}
        chosen = set(row.labels)
        for label in labels:
            who = settled_by.get(label) or (scored[0] if label in by_first else "llm")
            decisions[label][who][0 if label in chosen else 1] += 1
    return {"decisions": decisions, "tiers": tiers}


def tier_counts(tiers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rows, share and cost per tier."""
    total = sum(int(about["rows"]) for about in tiers.values()) or 1
    return {
        tier: {
            "rows": about["rows"],
            "share": round(about["rows"] / total, 4),
            "cost": None if about["cost"] is None else round(about["cost"], 6),
        }
        for tier, about in sorted(tiers.items(), key=lambda pair: _ORDER.get(pair[0], 3))
    }


def estimate_output(
    rates: Mapping[str, Any],
    counted: Mapping[str, Any],
    *,
    alpha: float,
) -> dict[str, Any]:
    """record.json route.estimate: per label, precision and recall [estimate, low,
    high] of the machine-labeled rows (estimate null where the LLM tier's part is
    not estimated), the decisions behind them; rows, share and cost per tier.
    `rates`: each certified tier's calibration rates ({tier: {label: ...}}), or one
    tier's by label (the trained tier's, as routes with one certified tier had it)."""
    rates = {tier: value for tier, value in rates.items() if value is not None}
    if any("present" in value for value in rates.values()):
        rates = {"trained": rates}
    certified_llm = "llm" in rates  # quality.llm_rows: its part estimated too
    labels: dict[str, Any] = {}
    partial = []
    none = {"present": [0, 0], "absent": [0, 0]}
    for label, by_tier in counted["decisions"].items():
        scored = {
            tier: (rates[tier].get(label, none), by_tier[tier]) for tier in by_tier if tier in rates
        }
        # The uncertified tiers' decisions (the llm tier without quality.llm_rows, the
        # further LLM tiers): bounded, not estimated.
        bounded = [pair for tier, pair in by_tier.items() if tier not in rates]
        llm = [sum(pair[0] for pair in bounded), sum(pair[1] for pair in bounded)]
        one = _label(scored, llm, alpha)
        one["decisions"] = {tier: list(pair) for tier, pair in by_tier.items()}
        labels[label] = one
        if sum(llm):
            partial.append(label)
    how = (
        "the LLM tier's part from its sampled calibration rows (quality.llm_rows)"
        if certified_llm
        else "the LLM tier's part bounded, not estimated"
    )
    return {
        "labels": labels,
        "tiers": tier_counts(counted["tiers"]),
        "llm": NOT_ESTIMATED if partial else None,
        "alpha": alpha,
        "method": "calibration rates (exact Clopper-Pearson) and a binomial draw of the "
        f"output's decisions; {how}",
    }


def _label(
    scored: Mapping[str, tuple[Any, Sequence[int]]],
    llm: Sequence[int],
    alpha: float,
) -> dict[str, Any]:
    """`scored`: per certified tier, its calibration rates and its [present, absent]
    decisions of the label; their draws are summed, alpha split over the tiers."""
    import numpy as np

    llm_ones, llm_zeros = llm
    each = alpha / max(1, sum(1 for _, decided in scored.values() if sum(decided)))
    tp, fn, ones = np.zeros(3), np.zeros(3), 0
    for rate, (present, absent) in scored.values():
        tp += _draw(rate["present"], present, each)  # true positives among its "present"
        fn += _draw(rate["absent"], absent, each)  # misses among its "absent"
        ones += present
    estimated = llm_ones == 0 and llm_zeros == 0
    said = ones + llm_ones
    precision: list[float | None] = [None, 0.0, 1.0]
    if said:
        low, high = tp[1] / said, (tp[2] + llm_ones) / said
        precision = [tp[0] / said if estimated else None, low, high]
    recall: list[float | None] = [None, 0.0, 1.0]
    low_tp, high_tp = tp[1], tp[2] + llm_ones
    if high_tp > 0:
        low = low_tp / (low_tp + fn[2] + llm_zeros) if low_tp else 0.0
        high = high_tp / (high_tp + fn[1])
        point = tp[0] / (tp[0] + fn[0]) if estimated and tp[0] + fn[0] else None
        recall = [point, low, high]
    # "estimated": every decision of the label is the trained tier's (a null figure
    # then means no decision to measure: nothing said present, or no positives).
    return {
        "precision": _rounded(precision),
        "recall": _rounded(recall),
        "estimated": estimated,
    }


def _draw(rate: Sequence[int], count: int, alpha: float) -> tuple[float, float, float]:
    """Of `count` decisions at the calibration rate k / n: the expected number that
    have the label, and the low and high ends of its predictive interval."""
    return predicted_hits(rate[0], rate[1], count, alpha)


def _rounded(values: Sequence[float | None]) -> list[float | None]:
    return [None if v is None else round(float(v), 4) for v in values]


def estimate_results(route: Mapping[str, Any], results: Any) -> dict[str, Any] | None:
    """record.json route.estimate of a results file, from its record's route section
    (None: the section has no calibration rates, a run of an older version)."""
    from framework.results import read_result_rows

    rates = route.get("rates") or {}
    scored = [tier for tier in SCORED if rates.get(tier)]
    if not scored:
        return None
    labels = list(rates[scored[0]])
    further = list(route.get("further") or {})
    counted = count_decisions(read_result_rows(results), labels, scored, further)
    return estimate_output(rates, counted, alpha=float(route["quality"]["alpha"]))
