"""leaderboard.html: runs side by side, and what differs in their configs.

    write_leaderboard_html(runs, out / "leaderboard.html")

`runs` are what `labelwise compare` found (anything with the attributes of
`ComparedRun`). The page holds the leaderboard (best macro-F1 first), macro-
and micro-F1 with their 95% intervals as a chart, F1 of each label by run, and
the config keys whose values differ between the runs (read from each run's
record.json, secrets already redacted there).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from framework.evaluation.chart_labels import (
    listed_labels,
    listed_note,
    most_frequent,
    shown_note,
)
from framework.evaluation.html_page import esc, page, section, table
from framework.evaluation.metrics import Metrics
from framework.evaluation.svg_charts import bars, intervals
from framework.run_record import RunRecord, load_record

__all__ = [
    "LEADERBOARD_HEADER",
    "ComparedRun",
    "config_differences",
    "leaderboard_rows",
    "write_leaderboard_html",
]

LEADERBOARD_HEADER = (
    "#",
    "run",
    "macro-F1 [95% CI]",
    "micro-F1 [95% CI]",
    "exact match",
    "failed",
    "scored",
    "tokens",
    "cost",
    "rows/s",
    "rows to the LLM",
    "macro-F1 by path",
)
MISSING = "(not set)"


class ComparedRun(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def path(self) -> Path: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def totals(self) -> dict[str, Any]: ...
    @property
    def tokens(self) -> int: ...
    @property
    def by_path(self) -> Mapping[str, Mapping[str, Any]]: ...


def ranked(runs: Sequence[ComparedRun]) -> list[ComparedRun]:
    return sorted(runs, key=lambda r: -r.metrics.macro.f1)


def leaderboard_rows(runs: Sequence[ComparedRun]) -> list[list[str]]:
    """One row a run, best macro-F1 first, in the columns of LEADERBOARD_HEADER."""
    rows = []
    for rank, r in enumerate(ranked(runs), start=1):
        m, cost, speed = r.metrics, r.totals.get("cost"), r.totals.get("rows_per_s")
        rows.append(
            [
                str(rank),
                r.name,
                f"{m.macro.f1:.3f} [{m.macro_f1_ci.low:.3f}, {m.macro_f1_ci.high:.3f}]",
                f"{m.micro.f1:.3f} [{m.micro_f1_ci.low:.3f}, {m.micro_f1_ci.high:.3f}]",
                f"{m.subset_accuracy:.3f}",
                f"{m.failed} ({m.failed_rate:.1%})",
                str(m.scored),
                f"{r.tokens:,}",
                "unknown" if cost is None else f"${cost:.4f}",
                "-" if speed is None else f"{speed:.1f}",
                _to_the_llm(r.totals),
                " · ".join(
                    f"{path} {part['macro_f1']:.3f} ({part['rows']} rows)"
                    for path, part in sorted(r.by_path.items())
                )
                or "-",
            ]
        )
    return rows


def _to_the_llm(totals: Mapping[str, Any]) -> str:
    """The rows the LLM was asked about (a cascade's share; none for the model alone)."""
    done = int(totals.get("done") or 0)
    paths = totals.get("by_path") or {}
    if paths:
        sent = int(paths.get("llm", 0))
    else:
        sent = done if totals.get("calls") or totals.get("cache_hits") else 0
    return f"{sent:,} ({sent / done:.0%})" if done else "-"


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """{"a": {"b": 1}} -> {"a.b": "1"}; lists and scalars as compact JSON."""
    if isinstance(tree, Mapping) and tree:
        flat: dict[str, str] = {}
        for key, value in tree.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    text = tree if isinstance(tree, str) else json.dumps(tree, sort_keys=True, default=str)
    return {prefix: text}


def config_differences(configs: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[str]]]:
    """The dotted keys whose values are not the same in every config, with each value."""
    flat = [flatten(config) for config in configs]
    keys = sorted({key for one in flat for key in one})
    found = []
    for key in keys:
        values = [one.get(key, MISSING) for one in flat]
        if len(set(values)) > 1:
            found.append((key, values))
    return found


def write_leaderboard_html(runs: Sequence[ComparedRun], path: Path) -> Path:
    """Write leaderboard.html for these runs."""
    order = ranked(runs)
    names = [r.name for r in order]
    scores = [
        intervals(
            names,
            [
                (r.metrics.macro.f1, r.metrics.macro_f1_ci.low, r.metrics.macro_f1_ci.high)
                for r in order
            ],
            title="macro-F1 and its 95% interval",
        ),
        intervals(
            names,
            [
                (r.metrics.micro.f1, r.metrics.micro_f1_ci.low, r.metrics.micro_f1_ci.high)
                for r in order
            ],
            title="micro-F1 and its 95% interval",
        ),
    ]
    labels = list(dict.fromkeys(label for r in order for label in r.metrics.labels))
    f1 = {r.name: {s.label: s.f1 for s in r.metrics.per_label} for r in order}
    counts: dict[str, int] = {}
    for r in order:
        for s in r.metrics.per_label:
            counts[s.label] = counts.get(s.label, 0) + s.support + s.predicted
    charted = most_frequent(labels, counts)
    by_label = bars(
        charted,
        {name: [f1[name].get(label, 0.0) for label in charted] for name in names},
        title="F1 by label and run",
    )
    listed = listed_labels(labels, counts)
    label_rows = [[label, *(_score(f1[name], label) for name in names)] for label in listed]
    note = " ".join(
        sentence
        for sentence in (
            shown_note(len(charted), len(labels), "in gold or predicted"),
            listed_note(len(listed), len(labels)),
        )
        if sentence
    )
    sections = [
        section(
            "Leaderboard",
            table(
                LEADERBOARD_HEADER,
                leaderboard_rows(runs),
                numeric=(0, 4, 6, 7, 8, 9),
                ident="board",
            ),
            f'<div class="charts">{"".join(scores)}</div>',
            anchor="leaderboard",
        ),
        section(
            "F1 by label",
            f'<p class="muted">{esc(note)}</p>' if note else "",
            by_label,
            table(
                ["label", *names], label_rows, numeric=range(1, len(names) + 1), ident="by-label"
            ),
            anchor="labels",
        ),
        section("What differs in their configs", _differences(order), anchor="config"),
        section(
            "Runs",
            table(["run", "folder"], [[r.name, str(r.path)] for r in order], ident="runs"),
            anchor="runs",
        ),
    ]
    subtitle = f"{len(order)} runs, best macro-F1 first; intervals are 95% bootstrap intervals"
    path.write_text(
        page("Leaderboard", sections, subtitle=subtitle),
        encoding="utf-8",
        errors="backslashreplace",  # a lone surrogate in a name shows as \udc00
    )
    return path


def _score(scores: Mapping[str, float], label: str) -> str:
    return f"{scores[label]:.3f}" if label in scores else "-"


def _differences(runs: Sequence[ComparedRun]) -> str:
    records = [load_record(r.path) or RunRecord() for r in runs]
    configs = [
        {
            "config": record.config,
            "prompt.digest": record.prompt.get("digest"),
            "taxonomy.hash": record.taxonomy.hash,
            "input.sha256": record.input.sha256,
        }
        for record in records
    ]
    found = config_differences(configs)
    if not found:
        return "<p>The runs' configs, prompts, taxonomies and inputs are the same.</p>"
    note = (
        f'<p class="muted">{len(found)} keys differ ({esc(MISSING)}: the key is not in that '
        "run's config).</p>"
    )
    rows = [[key.removeprefix("config."), *values] for key, values in found]
    return note + table(["key", *(r.name for r in runs)], rows, ident="differences")
