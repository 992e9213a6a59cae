"""report.html's section of a routed run: rows and cost per tier, and each label's
estimated precision and recall with intervals (record.json route.estimate)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from framework.evaluation.html_page import esc, section, table
from framework.learning.route_words import figure, tier_said

__all__ = ["route_section"]


def route_section(estimate: Mapping[str, Any]) -> str:
    tiers = [
        [
            tier,
            tier_said(tier),
            f"{about['rows']:,}",
            f"{about['share']:.1%}",
            "unknown" if about["cost"] is None else f"${about['cost']:.4f}",
        ]
        for tier, about in estimate["tiers"].items()
    ]
    # a column per machine tier of the route (trained, zero_shot, llm), in its order
    first: Mapping[str, Any] = next(iter(estimate["labels"].values()), {})
    machine = list(first.get("decisions", {}))
    labels = [
        [
            label,
            figure(about["precision"], about.get("estimated", False)),
            figure(about["recall"], about.get("estimated", False)),
            *(
                f"{about['decisions'][tier][0]:,} / {about['decisions'][tier][1]:,}"
                for tier in machine
            ),
        ]
        for label, about in estimate["labels"].items()
    ]
    heads = {"trained": "trained", "zero_shot": "zero-shot", "llm": "LLM"}
    confidence = f"{1 - float(estimate['alpha']):.0%}"
    note = (
        f"<p>Estimated from the calibration rows, before any gold: the machine-labeled "
        f"rows' precision and recall per label, with {confidence} intervals of the "
        "realised figures. People's rows carry no machine labels and are left out. "
        + esc(estimate["llm"] or "Every decision is a certified tier's: all estimated.")
        + "</p>"
    )
    return section(
        "Route: tiers and estimated quality",
        table(["tier", "rows", "count", "share", "cost"], tiers, numeric=(2, 3, 4)),
        note,
        table(
            [
                "label",
                "precision (est.)",
                "recall (est.)",
                *(f"{heads.get(tier, tier)}: present / absent" for tier in machine),
            ],
            labels,
            numeric=tuple(range(1, 3 + len(machine))),
        ),
        anchor="route",
    )
