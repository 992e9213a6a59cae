"""What a person reads after a run: metrics.json, report.md and its per-label F1 chart,
and report.html (framework.evaluation.html_run).

    metrics = evaluate_results(results, labels, out_dir=run_dir, input_path=...)

report.md holds the scores with their 95% intervals, the chart, and the ten
worst errors with their texts. Texts come from the input file, streamed; only
the ids shown are kept.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from framework.config.schema import ColumnNames, RunConfig
from framework.evaluation.chart_labels import listed_labels, listed_note
from framework.evaluation.html_run import write_run_html
from framework.evaluation.markdown import markdown_table, md_text
from framework.evaluation.metrics import Metrics, NoGoldLabels, compute_metrics
from framework.evaluation.png_charts import plot_per_label_f1
from framework.evaluation.scores import score_rows
from framework.evaluation.texts import read_texts
from framework.results import (
    CHART_FILE,
    METRICS_FILE,
    REPORT_FILE,
    ResultRow,
    read_result_rows,
)

__all__ = [
    "evaluate_results",
    "headline",
    "markdown_table",
    "metrics_by_path",
    "metrics_table",
    "plot_per_label_f1",
    "read_texts",
    "score_rows",
    "score_run",
    "worst_errors",
    "write_report",
]

TEXT_LIMIT = 300


def evaluate_results(
    results: Path,
    labels: Sequence[str],
    *,
    out_dir: Path,
    none_label: str | None = None,
    gold: Mapping[str, Sequence[str]] | None = None,
    input_path: Path | None = None,
    columns: ColumnNames | None = None,
    resamples: int = 1000,
    title: str = "",
    metrics_file: Path | None = None,
    route: Mapping[str, Any] | None = None,
) -> Metrics | None:
    """Score a results file; write metrics.json, report.md and the chart. None without gold."""
    try:
        metrics = compute_metrics(
            read_result_rows(results), labels, none_label=none_label, gold=gold, resamples=resamples
        )
    except NoGoldLabels:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    by_path = metrics_by_path(results, labels, none_label=none_label, gold=gold)
    data = metrics.to_dict() | ({"by_path": by_path} if by_path else {})
    target = metrics_file or out_dir / METRICS_FILE
    target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    plot_per_label_f1({title or "run": metrics}, out_dir / CHART_FILE)
    errors = worst_errors(read_result_rows(results), gold=gold)
    texts = read_texts(input_path, {row["id"] for row in errors}, columns) if input_path else {}
    write_report(
        metrics, errors, texts, out_dir / REPORT_FILE, title=title or str(results), by_path=by_path
    )
    write_run_html(
        results,
        labels,
        out_dir=out_dir,
        metrics=metrics,
        gold=gold,
        input_path=input_path,
        columns=columns,
        title=title,
        route=route,
    )
    return metrics


def metrics_by_path(
    results: Path,
    labels: Sequence[str],
    *,
    none_label: str | None = None,
    gold: Mapping[str, Sequence[str]] | None = None,
    resamples: int = 1000,
) -> dict[str, dict[str, Any]]:
    """trained.use=cascade: the scores of the rows each path labeled ("trained": the
    model alone; "llm": the LLM fused with it). Empty when no row names a path."""
    paths = sorted(
        {str(row.extra["path"]) for row in read_result_rows(results) if "path" in row.extra}
    )
    found: dict[str, dict[str, Any]] = {}
    for path in paths:
        try:
            part = compute_metrics(
                (row for row in read_result_rows(results) if row.extra.get("path") == path),
                labels,
                none_label=none_label,
                gold=gold,
                resamples=resamples,
            )
        except NoGoldLabels:
            continue
        found[path] = {
            "rows": part.rows,
            "scored": part.scored,
            "macro_f1": part.macro.f1,
            "macro_f1_ci": [part.macro_f1_ci.low, part.macro_f1_ci.high],
            "micro_f1": part.micro.f1,
            "micro_f1_ci": [part.micro_f1_ci.low, part.micro_f1_ci.high],
        }
    return found


def score_run(
    config: RunConfig, output: Path, run_dir: Path, *, estimate: Mapping[str, Any] | None = None
) -> Metrics | None:
    """Score a finished run into its folder (metrics.json, report.md, report.html); None
    without gold (report.html then shows what was predicted); `estimate`: a routed run's
    estimated quality (record.json route.estimate), a section of report.html."""
    from framework.labels.taxonomy import label_ids
    from framework.runner.journal import journal_path

    results, labels = journal_path(output), label_ids(config.taxonomy)
    source = Path(config.input or "")
    metrics = evaluate_results(
        results,
        labels,
        out_dir=run_dir,
        none_label=config.taxonomy.none_label,
        input_path=source,
        columns=config.columns,
        title=str(run_dir),
        route=estimate,
    )
    if metrics is None:  # no gold: report.html of what was predicted, and how surely
        write_run_html(
            results,
            labels,
            out_dir=run_dir,
            input_path=source,
            columns=config.columns,
            title=str(run_dir),
            route=estimate,
        )
    return metrics


def headline(metrics: Metrics) -> str:
    """One line: macro- and micro-F1 with their intervals, and how many rows."""
    macro, micro = metrics.macro_f1_ci, metrics.micro_f1_ci
    return (
        f"macro-F1 {metrics.macro.f1:.3f} [{macro.low:.3f}, {macro.high:.3f}], "
        f"micro-F1 {metrics.micro.f1:.3f} [{micro.low:.3f}, {micro.high:.3f}] "
        f"on {metrics.scored} rows with gold"
    )


def metrics_table(metrics: Metrics) -> str:
    """The scores and the per-label table, as aligned Markdown (also fine on a terminal)."""
    m = metrics
    scores = {s.label: s for s in m.per_label}
    listed = listed_labels(list(scores), {s.label: s.support + s.predicted for s in m.per_label})
    per_label = [
        [
            s.label,
            f"{s.precision:.3f}",
            f"{s.recall:.3f}",
            f"{s.f1:.3f}",
            str(s.support),
            str(s.predicted),
        ]
        for s in (scores[label] for label in listed)
    ]
    head = (
        f"{m.scored} of {m.rows} rows scored against gold; 95% bootstrap intervals "
        f"({m.resamples} resamples, seed {m.seed}); zero_division=0"
    )
    tables = [
        markdown_table(["metric", "value", "95% interval"], score_rows(m)),
        markdown_table(["label", "precision", "recall", "F1", "support", "predicted"], per_label),
    ]
    if len(listed) < len(scores):
        tables.append(listed_note(len(listed), len(scores)) + " metrics.json holds every label.")
    if m.unknown_labels:
        tables.append(
            f"Ignored labels outside the label set: {md_text(', '.join(m.unknown_labels))}"
        )
    return head + "\n\n" + "\n\n".join(tables)


def worst_errors(
    rows: Iterable[ResultRow],
    *,
    gold: Mapping[str, Sequence[str]] | None = None,
    count: int = 10,
) -> list[dict[str, Any]]:
    """The `count` rows furthest from gold (lowest Jaccard, then most wrong labels).

    A failed row counts as an empty prediction. Memory holds `count` rows.
    """

    def scored() -> Iterator[tuple[tuple[float, int, str], dict[str, Any]]]:
        for row in rows:
            expected = gold.get(row.id) if gold is not None else row.gold
            if expected is None:
                continue
            truth, guess = set(expected), set(row.predicted)
            if row.ok and truth == guess:
                continue
            union = truth | guess
            jaccard = len(truth & guess) / len(union) if union else 1.0
            entry: dict[str, Any] = {
                "id": row.id,
                "gold": sorted(truth),
                "predicted": sorted(guess),
                "status": row.status,
                "error": row.error,
            }
            yield (jaccard, -len(truth ^ guess), row.id), entry

    return [entry for _, entry in heapq.nsmallest(count, scored(), key=lambda pair: pair[0])]


def _with_interval(value: float, interval: Sequence[float]) -> str:
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def write_report(
    metrics: Metrics,
    errors: Sequence[Mapping[str, Any]],
    texts: Mapping[str, str],
    path: Path,
    *,
    title: str,
    by_path: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """report.md: the scores, the per-label chart (beside it) and the worst errors."""
    parts = [f"# Evaluation: {md_text(title)}", metrics_table(metrics)]
    if by_path:
        rows = [
            [
                route,
                str(part["scored"]),
                _with_interval(part["macro_f1"], part["macro_f1_ci"]),
                _with_interval(part["micro_f1"], part["micro_f1_ci"]),
            ]
            for route, part in by_path.items()
        ]
        header = ["labeled by (cascade)", "rows scored", "macro-F1", "micro-F1"]
        parts.append("## By path\n\n" + markdown_table(header, rows))
    parts += [
        f"## F1 by label\n\n![F1 by label]({CHART_FILE})",
        f"## The {len(errors)} worst errors",
    ]
    for number, error in enumerate(errors, start=1):
        text = texts.get(error["id"], "(text not available)")
        text = text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + " [...]"
        lines = [
            f"### {number}. {md_text(error['id'])}",
            "",
            "> " + md_text(" ".join(text.split())),
            "",
            f"- gold: {md_text(', '.join(error['gold'])) or '(none)'}",
            f"- predicted: {md_text(', '.join(error['predicted'])) or '(nothing)'}",
        ]
        if error["status"] != "ok":
            lines.append(f"- failed: {md_text(error['error'] or 'no reason recorded')}")
        parts.append("\n".join(lines))
    if not errors:
        parts.append("Every scored row matches its gold labels.")
    path.write_text("\n\n".join(parts) + "\n", encoding="utf-8")
    return path
