"""How a routed run's estimate and plan are said to a person.

estimate_line(estimate)            # the run's summary line (record.json route.estimate)
estimate_rows(estimate, realised)  # `labelwise evaluate`: estimate beside the truth
plan_lines(route, counts, cost)    # `labelwise plan`: tiers, people, the guarantee
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "TIER_NAMES",
    "estimate_line",
    "estimate_rows",
    "figure",
    "guarantee",
    "plan_lines",
    "tier_said",
]

TIER_NAMES = {
    "trained": "settled by the trained tier",
    "zero_shot": "settled by the zero-shot tier",
    "llm": "asked of the LLM tier",
    "human": "left to people",
}


def tier_said(tier: str) -> str:
    """How rows of a tier are said; a further LLM tier has the name the route gave it."""
    return TIER_NAMES.get(tier, f"asked of the {tier} tier")


def figure(value: Sequence[float | None], estimated: bool = False) -> str:
    """An estimate and its interval; a null one is either not estimated (the LLM
    tier's part) or has nothing to measure (no decision of the kind)."""
    point, low, high = value
    if point is None:
        return "no decision to measure" if estimated else f"not estimated [{low:.3f}, {high:.3f}]"
    return f"{point:.3f} [{low:.3f}, {high:.3f}]"


def _cost(cost: float | None) -> str:
    return "cost unknown" if cost is None else f"${cost:.4f}"


def tiers_words(tiers: Mapping[str, Mapping[str, Any]]) -> str:
    return ", ".join(
        f"{about['rows']:,} ({about['share']:.0%}) {tier_said(tier)}, {_cost(about['cost'])}"
        for tier, about in tiers.items()
    )


def estimate_line(estimate: Mapping[str, Any]) -> str:
    """One line: rows and cost per tier, the lowest estimated precision and recall."""
    labels: Mapping[str, Any] = estimate["labels"]
    parts = [f"route: {tiers_words(estimate['tiers'])}"]
    for name in ("precision", "recall"):
        known = [(v[name][0], label) for label, v in labels.items() if v[name][0] is not None]
        if known:
            _, label = min(known)
            parts.append(f"lowest estimated {name} {figure(labels[label][name])} ({label})")
    partial = [
        label
        for label, v in labels.items()
        if sum(v["decisions"]["llm"]) and not v.get("estimated")
    ]
    if partial:
        parts.append(
            f"{len(partial)} of {len(labels)} labels include an uncertified LLM tier's decisions, "
            "not estimated (bounded)"
        )
    alpha = float(estimate["alpha"])
    return "; ".join(parts) + f" ({1 - alpha:.0%} intervals; record.json route.estimate)"


def estimate_rows(
    estimate: Mapping[str, Any], realised: Mapping[str, tuple[float, float]]
) -> list[list[str]]:
    """Per label: estimated precision and recall [interval], the realised ones, and
    whether each realised figure falls within its interval."""
    rows = []
    for label, about in estimate["labels"].items():
        if label not in realised:
            continue
        precision, recall = realised[label]
        rows.append(
            [
                label,
                figure(about["precision"], about.get("estimated", False)),
                f"{precision:.3f}",
                _within(precision, about["precision"]),
                figure(about["recall"], about.get("estimated", False)),
                f"{recall:.3f}",
                _within(recall, about["recall"]),
            ]
        )
    return rows


def _within(value: float, figure: Sequence[float | None]) -> str:
    low, high = float(figure[1] or 0.0), float(figure[2] if figure[2] is not None else 1.0)
    return "yes" if low - 1e-9 <= value <= high + 1e-9 else "NO"


def guarantee(route: Mapping[str, Any]) -> str:
    """The route's guarantee in words."""
    quality = route["quality"]
    confidence = f"{1 - float(quality['alpha']):.0%}"
    precision, recall = quality["precision"], quality["recall"]
    recall = precision if recall is None else recall

    def floor(value: Any) -> str:
        if isinstance(value, dict):
            return ", ".join(f"{label} >= {v}" for label, v in value.items())
        return f">= {value}"

    said = f"every label's precision {floor(precision)}"
    if isinstance(precision, dict):
        said = f"precision of {floor(precision)}"
    certified = [t.replace("_", "-") for t in route["tiers"] if t in ("trained", "zero_shot")]
    who = " and ".join(certified) + (" tiers settle" if len(certified) > 1 else " tier settles")
    words = (
        f"{said} with {confidence} confidence on the labels the {who}, "
        f"and {'their' if len(certified) > 1 else 'its'} misses within a recall floor of "
        f"{floor(recall)}"
    )
    if quality.get("guarantee", "rate") == "realised":  # records before it: rate
        rows = quality.get("output_rows")
        size = "this run's output" if rows is None else f"an output of {rows:,} rows"
        decides = "decide" if len(certified) > 1 else "decides"
        words = (
            f"{said.replace('precision', 'realised precision', 1)} with {confidence} "
            f"confidence on the rows of {size} the {who.rsplit(' ', 1)[0]} {decides} "
            f"(quality.guarantee=realised), and {'their' if len(certified) > 1 else 'its'} "
            f"misses within a recall floor of {floor(recall)} (as a rate)"
        )
    if "llm" in route["tiers"] and route.get("llm") is not None:
        words += (
            f"; the LLM tier is certified the same way on its answers to "
            f"{route['llm']['sample']['rows']} calibration rows (quality.llm_rows)"
        )
    elif "llm" in route["tiers"]:
        words += "; the LLM tier is not certified (its labels carry no guarantee)"
    for name in route.get("further") or {}:
        words += (
            f"; the {name} tier likewise, on its answers to the sampled rows the tiers "
            "before it leave open"
        )
    return words


def plan_lines(route: Mapping[str, Any], counts: Mapping[str, int], llm_cost: str) -> list[str]:
    """`labelwise plan`'s lines of a routed run: the expected share of rows per tier on
    the calibration rows, the rows of this input per tier, the cost, the guarantee."""
    tiers: Sequence[str] = route["tiers"]
    share = (route.get("calibration") or {}).get("share") or {}
    lines = []
    for tier in tiers:
        expected = share.get(tier)
        on_calibration = "" if expected is None else f" ({expected:.0%} of the calibration rows)"
        if tier not in TIER_NAMES:  # a further LLM tier (route.llms)
            lines.append(
                f"{'tier ' + tier:<20}at most {counts.get('llm', 0):,} rows: those the llm "
                "tier leaves unsettled, known once it is certified; its cost: the line "
                f"'{tier} tier' above"
            )
            continue
        cost = {"trained": "no cost", "zero_shot": "no cost", "llm": llm_cost}.get(
            tier, "people's time"
        )
        lines.append(
            f"{'tier ' + tier:<20}{counts.get(tier, 0):,} rows {TIER_NAMES[tier]}"
            f"{on_calibration}; {cost}"
        )
    people = f"{counts.get('human', 0):,}"
    certified = route.get("llm") is not None  # quality.llm_rows
    further = list(route.get("further") or {})
    if further and "human" in tiers:
        people += (
            f" (and the rows the {further[-1]} tier leaves unsettled: known once it is "
            "certified; and its failed calls, with route.on_failure=next)"
        )
    elif "llm" in tiers and "human" in tiers:
        people += " (and the rows whose LLM call fails, with route.on_failure=next)"
        if certified:
            people += ", and the rows the llm tier leaves unsettled: known once it is certified"
    elif "human" not in tiers:
        people += " (the route has no human tier)"
    lines.append(f"{'rows for people':<20}{people}")
    lines.append(f"{'guarantee':<20}{guarantee(route)}")
    return lines
