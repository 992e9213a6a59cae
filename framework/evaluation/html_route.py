"""report.html's section of a routed run: rows and cost per tier, and each label's
estimated precision and recall with intervals (record.json route.estimate)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from framework.evaluation.html_page import esc, section, table
from framework.learning.route_words import TIER_NAMES, figure

__all__ = ["route_section"]


def route_section(estimate: Mapping[str, Any]) -> str:
    tiers = [
        [
            tier,
            TIER_NAMES.get(tier, tier),
            f"{about['rows']:,}",
            f"{about['share']:.1%}",
            "unknown" if about["cost"] is None else f"${about['cost']:.4f}",
        ]
        for tier, about in estimate["tiers"].items()
    ]
    labels = [
        [
            label,
            figure(about["precision"], about.get("estimated", False)),
            figure(about["recall"], about.get("estimated", False)),
            f"{about['decisions']['trained'][0]:,} / {about['decisions']['trained'][1]:,}",
            f"{about['decisions']['llm'][0]:,} / {about['decisions']['llm'][1]:,}",
        ]
        for label, about in estimate["labels"].items()
    ]
    confidence = f"{1 - float(estimate['alpha']):.0%}"
    note = (
        f"<p>Estimated from the calibration rows, before any gold: the machine-labeled "
        f"rows' precision and recall per label, with {confidence} intervals of the "
        "realised figures. People's rows carry no machine labels and are left out. "
        + esc(estimate["llm"] or "Every decision is the trained tier's: all estimated.")
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
                "trained: present / absent",
                "LLM: present / absent",
            ],
            labels,
            numeric=(1, 2, 3, 4),
        ),
        anchor="route",
    )
