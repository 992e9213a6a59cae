"""A leaderboard of runs that have metrics: what `labelwise compare` and `labelwise tune`
write.

    runs = find_runs([Path("multirun/2026-11-23/10-00-00")])   # run or sweep folders
    table = write_comparison(runs, out)   # leaderboard.md and .html, two charts; the table

A run is named by the overrides that set it apart from the others (a sweep's swept
values); a folder without metrics.json is left out with a warning.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.errors import InputError
from framework.results import METRICS_FILE
from framework.run_record import RECORD_FILE, RunRecord, load_record

if TYPE_CHECKING:
    from framework.evaluation.metrics import Metrics

__all__ = [
    "BARS",
    "LEADERBOARD",
    "LEADERBOARD_HTML",
    "SCATTER",
    "RunSummary",
    "find_runs",
    "leaderboard",
    "write_comparison",
]

LEADERBOARD = "leaderboard.md"
LEADERBOARD_HTML = "leaderboard.html"
BARS = "per_label_f1.png"
SCATTER = "cost_vs_macro_f1.png"


@dataclass(frozen=True)
class RunSummary:
    name: str
    path: Path
    metrics: Metrics
    totals: dict[str, Any]
    overrides: tuple[str, ...]
    # A cascade's scores of the rows each path labeled (metrics.json "by_path").
    by_path: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return int(self.totals.get("total_tokens") or 0)


def write_comparison(runs: Sequence[RunSummary], out: Path) -> str:
    """leaderboard.md, leaderboard.html and the two charts into `out`; the table."""
    from framework.evaluation.html_leaderboard import write_leaderboard_html

    out.mkdir(parents=True, exist_ok=True)
    table = leaderboard(runs)
    write_charts(runs, out)
    (out / LEADERBOARD).write_text(_markdown(table, runs), encoding="utf-8")
    write_leaderboard_html(runs, out / LEADERBOARD_HTML)
    return table


def find_runs(paths: Sequence[Path]) -> list[RunSummary]:
    """The runs with metrics among these run folders and sweep folders."""
    folders: list[Path] = []
    for path in paths:
        if (path / RECORD_FILE).is_file():
            folders.append(path)
            continue
        jobs = sorted(p.parent for p in path.glob(f"*/{RECORD_FILE}")) if path.is_dir() else []
        jobs.sort(key=lambda p: int(p.name) if p.name.isdigit() else -1)  # 2 before 10
        if not jobs:
            raise InputError(
                f"{path} is neither a run folder (no record.json) nor a sweep folder "
                "of runs; give folders made by labelwise classify"
            )
        folders.extend(jobs)
    runs = [summary for folder in folders if (summary := _summary(folder)) is not None]
    if not runs:
        raise InputError(
            "none of these runs has metrics.json (their inputs had no gold labels); "
            "score them first: labelwise evaluate RUN_DIR --gold FILE"
        )
    return _named(runs)


def _summary(folder: Path) -> RunSummary | None:
    from framework.evaluation.metrics import Metrics

    record = load_record(folder) or RunRecord()
    metrics_file = folder / METRICS_FILE
    if not metrics_file.is_file():
        print(f"labelwise: warning: {folder} has no {METRICS_FILE}; left out", file=sys.stderr)
        return None
    data = json.loads(metrics_file.read_text(encoding="utf-8"))
    metrics = Metrics.from_dict(data)
    # A sweep saves its overrides escaped (http\://...); compare them as typed.
    overrides = tuple(re.sub(r"\\(.)", r"\1", o) for o in record.overrides)
    totals = record.totals or {}
    return RunSummary(str(folder), folder, metrics, totals, overrides, data.get("by_path") or {})


def _named(runs: list[RunSummary]) -> list[RunSummary]:
    """Name each run by the overrides that set it apart (a sweep's swept values)."""
    common = set.intersection(*(set(r.overrides) for r in runs))
    named = []
    for r in runs:
        own = " ".join(o for o in r.overrides if o not in common)
        named.append(replace(r, name=f"{r.path.name}: {own}" if own else str(r.path)))
    return named


def leaderboard(runs: Sequence[RunSummary]) -> str:
    """The runs as a Markdown table, best macro-F1 first."""
    from framework.evaluation.html_leaderboard import LEADERBOARD_HEADER, leaderboard_rows
    from framework.evaluation.markdown import markdown_table

    return markdown_table(LEADERBOARD_HEADER, leaderboard_rows(runs))


def _markdown(table: str, runs: Sequence[RunSummary]) -> str:
    from framework.evaluation.markdown import md_text

    folders = "\n".join(f"- {md_text(r.name)}: {md_text(r.path)}" for r in runs)
    return (
        f"# Leaderboard\n\nSorted by macro-F1; intervals are 95% bootstrap intervals over "
        f"rows.\n\n{table}\n\n## F1 by label\n\n![F1 by label by run]({BARS})\n\n"
        f"## Cost and macro-F1\n\n![cost against macro-F1]({SCATTER})\n\n"
        f"## Runs\n\n{folders}\n"
    )


def write_charts(runs: Sequence[RunSummary], out: Path) -> None:
    """per_label_f1.png (grouped bars) and cost_vs_macro_f1.png (a scatter labelled by run)."""
    from framework.evaluation.png_charts import plot_per_label_f1, quiet_pyplot

    plot_per_label_f1({_short(r.name): r.metrics for r in runs}, out / BARS)
    priced = all(r.totals.get("cost") is not None for r in runs)
    xs = [float(r.totals["cost"]) if priced else float(r.tokens) for r in runs]
    with quiet_pyplot() as plt:
        figure, axes = plt.subplots(figsize=(7, 4.5))
        axes.scatter(xs, [r.metrics.macro.f1 for r in runs])
        for x, r in zip(xs, runs, strict=True):
            axes.annotate(
                _short(r.name),
                (x, r.metrics.macro.f1),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize="small",
            )
        axes.set_xlabel("cost (USD)" if priced else "tokens (cost unknown)")
        axes.set_ylabel("macro-F1")
        axes.set_title("Cost against macro-F1")
        figure.savefig(out / SCATTER, dpi=100, bbox_inches="tight")
        plt.close(figure)


def _short(name: str, limit: int = 40) -> str:
    """A run's name short enough for a chart label."""
    return name if len(name) <= limit else name[: limit - 3] + "..."
