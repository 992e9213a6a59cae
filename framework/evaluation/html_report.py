"""report.html: the run a person opens from disk, with or without gold labels.

    write_html_report(digest, texts, path, metrics=metrics, title="outputs/...")

With gold (metrics given): the scores with their intervals, precision, recall and
F1 by label, which gold label is predicted as which, how gold labels co-occur,
the errors as a table filtered by label, kind (missed, extra, failed) and
confidence, and the gold rows that may be wrong (html_audit). Without gold: how often
each label was predicted, the confidence histograms and the failed rows. One file,
nothing fetched (html_page).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from framework.evaluation.chart_labels import (
    CHART_LABELS,
    listed_labels,
    listed_note,
    most_frequent,
    shown_note,
)
from framework.evaluation.html_costs import cost_section
from framework.evaluation.html_digest import ErrorRow, RunDigest
from framework.evaluation.html_page import attr_json, esc, page, section, table
from framework.evaluation.metrics import Metrics
from framework.evaluation.svg_charts import bars, heatmap, histogram
from framework.results import ResultRow

__all__ = ["TEXT_LIMIT", "write_html_report"]

TEXT_LIMIT = 600
CHIP_LIMIT = 30  # labels shown in one cell of the errors table


def write_html_report(
    digest: RunDigest,
    texts: Mapping[str, str],
    path: Path,
    *,
    metrics: Metrics | None = None,
    title: str,
    thumbnails: Mapping[str, str] | None = None,
    audit: str = "",
    route: Mapping[str, Any] | None = None,
) -> Path:
    """Write report.html; the sections depend on whether the run was scored.
    `thumbnails`: a data: URI of a row's image by id, shown beside its text; `audit`:
    the markup of the gold audit's section (framework.evaluation.html_audit); `route`:
    a routed run's estimate (framework.evaluation.html_route)."""
    thumbs = thumbnails or {}
    if metrics is not None:
        sections = [
            section("Scores", _scores(metrics), anchor="scores"),
            section("By label", _per_label(metrics), anchor="labels"),
            section("Gold label predicted as", _confusion(digest), anchor="confusion"),
            _errors(digest, texts, thumbs),
            *([audit] if audit else []),
        ]
        subtitle = f"{metrics.scored} of {metrics.rows} rows scored against gold"
    else:
        sections = [section("Labels predicted", _frequencies(digest), anchor="labels")]
        subtitle = f"{digest.rows} rows, no gold labels: what was predicted, how surely"
    if route is not None:
        from framework.evaluation.html_route import route_section

        sections.insert(0, route_section(route))
    if digest.confidences:
        sections.append(section("Confidence by label", _histograms(digest), anchor="confidence"))
    sections.append(_failed(digest, texts, thumbs))
    sections.extend(cost_section(digest))
    path.write_text(
        page(f"Run report: {title}", sections, subtitle=subtitle),
        encoding="utf-8",
        errors="backslashreplace",  # a lone surrogate in a text or id shows as \udc00
    )
    return path


def _scores(m: Metrics) -> str:
    from framework.evaluation.scores import score_rows

    head = (
        f'<p class="muted">95% bootstrap intervals ({m.resamples} resamples, seed {m.seed}); '
        "zero_division=0</p>"
    )
    unknown = (
        f"<p>Ignored labels outside the label set: {esc(', '.join(m.unknown_labels))}</p>"
        if m.unknown_labels
        else ""
    )
    return (
        head + table(["metric", "value", "95% interval"], score_rows(m), ident="scores") + unknown
    )


def _per_label(m: Metrics) -> str:
    scores = {s.label: s for s in m.per_label}
    counts = {s.label: s.support + s.predicted for s in m.per_label}
    charted = [scores[label] for label in most_frequent(list(scores), counts)]
    chart = bars(
        [s.label for s in charted],
        {
            "precision": [s.precision for s in charted],
            "recall": [s.recall for s in charted],
            "F1": [s.f1 for s in charted],
        },
        title="Precision, recall and F1 by label",
    )
    listed = [scores[label] for label in listed_labels(list(scores), counts)]
    rows = [
        [s.label, *(f"{x:.3f}" for x in (s.precision, s.recall, s.f1)), *counts]
        for s in listed
        for counts in [(str(s.support), str(s.predicted))]
    ]
    header = ["label", "precision", "recall", "F1", "support", "predicted"]
    note = _note(
        shown_note(len(charted), len(scores), "in gold or predicted"),
        listed_note(len(listed), len(scores)),
    )
    return note + chart + table(header, rows, numeric=range(1, 6), ident="per-label")


def _note(*sentences: str) -> str:
    text = " ".join(sentence for sentence in sentences if sentence)
    return f'<p class="muted">{esc(text)}</p>' if text else ""


def _confusion(d: RunDigest) -> str:
    note = (
        '<p class="muted">A row counts in every cell of its gold labels (rows) and predicted '
        "labels (columns): the diagonal is labels found; off it, which label was predicted in "
        f"a gold label's place. {esc('(nothing)')}: rows predicted with no label or failed.</p>"
    )
    grid = heatmap(d.confusion_rows, d.confusion_columns, d.confusion, title="gold -> predicted")
    pairs = heatmap(d.shown, d.shown, d.cooccurrence, title="gold labels together")
    limited = _note(shown_note(len(d.shown), len(d.labels), "in gold or predicted"))
    return note + limited + f'<div class="charts">{grid}{pairs}</div>'


def _frequencies(d: RunDigest) -> str:
    def share(label: str) -> float:
        return d.predicted_counts.get(label, 0) / d.rows if d.rows else 0.0

    charted = most_frequent(d.labels, d.predicted_counts)
    chart = bars(
        charted,
        {"share of rows": [share(x) for x in charted]},
        title="Rows predicted with each label",
    )
    listed = listed_labels(d.labels, d.predicted_counts)
    rows = [[x, str(d.predicted_counts.get(x, 0)), f"{share(x):.1%}"] for x in listed]
    pairs = heatmap(d.shown, d.shown, d.cooccurrence, title="labels predicted together")
    return (
        _note(
            shown_note(len(charted), len(d.labels), "predicted"),
            listed_note(len(listed), len(d.labels)),
        )
        + chart
        + table(["label", "rows", "share"], rows, numeric=(1, 2), ident="frequencies")
        + f'<div class="charts">{pairs}</div>'
    )


def _histograms(d: RunDigest) -> str:
    measured = [label for label in d.labels if label in d.confidences]
    charted = most_frequent(measured, d.counts)
    charts = [histogram(d.confidences[label], title=label) for label in charted]
    note = shown_note(len(charted), len(measured), "in gold or predicted")
    return _note(note) + '<div class="charts">' + "".join(charts) + "</div>"


def _chips(labels: Sequence[str], kind: str = "") -> str:
    """The labels as chips, at most CHIP_LIMIT (a row may hold thousands)."""
    cls = f"chip {kind}".strip()
    chips = "".join(f'<span class="{cls}">{esc(label)}</span>' for label in labels[:CHIP_LIMIT])
    if len(labels) > CHIP_LIMIT:
        chips += f'<span class="muted"> and {len(labels) - CHIP_LIMIT:,} more</span>'
    return chips or '<span class="muted">-</span>'


def _text(texts: Mapping[str, str], row_id: str, thumbs: Mapping[str, str]) -> str:
    text = texts.get(row_id)
    thumb = thumbs.get(row_id)
    image = f'<img class="thumb" src="{esc(thumb)}" alt="its image"> ' if thumb else ""
    if text is None:
        return image + '<span class="muted">(text not available)</span>'
    return image + esc(text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + " [...]")


def _error_row(error: ErrorRow, texts: Mapping[str, str], thumbs: Mapping[str, str]) -> str:
    conf = "" if error.confidence is None else f"{error.confidence:.3f}"
    detail = ""
    if error.label_confidence:
        detail = ", ".join(f"{k} {v:.2f}" for k, v in sorted(error.label_confidence.items()))
    status = esc(error.status) + (f": {esc(error.error)}" if error.error else "")
    return (
        f'<tr data-missed="{attr_json(list(error.missed))}" '
        f'data-extra="{attr_json(list(error.extra))}" data-status="{esc(error.status)}" '
        f'data-conf="{esc(conf)}"><td>{esc(error.id)}</td><td class="text">'
        f"{_text(texts, error.id, thumbs)}</td><td>{_chips(error.gold)}</td>"
        f"<td>{_chips(error.predicted)}</td><td>{_chips(error.missed, 'missed')}</td>"
        f"<td>{_chips(error.extra, 'extra')}</td>"
        f'<td class="num" title="{esc(detail)}">{esc(conf or "-")}</td><td>{status}</td></tr>'
    )


def _errors(d: RunDigest, texts: Mapping[str, str], thumbs: Mapping[str, str]) -> str:
    offered: Sequence[str] = d.labels
    if len(offered) > CHART_LABELS:  # of a large taxonomy, labels the rows shown hold
        held = Counter(x for e in d.errors for x in (*e.gold, *e.predicted))
        offered = listed_labels(d.labels, held)
    options = "".join(f'<option value="{esc(label)}">{esc(label)}</option>' for label in offered)
    shown = (
        f"the {len(d.errors)} worst of {d.error_count} errors"
        if len(d.errors) < d.error_count
        else f"all {d.error_count} errors"
    )
    controls = (
        '<div class="filters">'
        f'<label>label <select data-filter-label><option value="">any</option>{options}'
        "</select></label>"
        '<label>kind <select data-filter-kind><option value="">any</option>'
        '<option value="missed">missed (in gold, not predicted)</option>'
        '<option value="extra">extra (predicted, not in gold)</option>'
        '<option value="failed">failed rows</option></select></label>'
        '<label>confidence at least <input type="range" min="0" max="1" step="0.05" value="0" '
        "data-filter-conf> <span data-filter-conf-value>0.00</span></label>"
        '<span data-filter-count class="muted"></span></div>'
    )
    header = "".join(
        f"<th>{esc(name)}</th>"
        for name in ("id", "text", "gold", "predicted", "missed", "extra", "confidence", "status")
    )
    body = "\n".join(_error_row(error, texts, thumbs) for error in d.errors)
    note = (
        f'<p class="muted">Showing {shown}, worst first (lowest Jaccard). Confidence: how '
        "sure the model was of what it got wrong (p of an extra label, 1 - p of a missed one); "
        "rows without confidence are hidden once a minimum is set.</p>"
    )
    grid = (
        f'<table data-filter id="errors"><thead><tr>{header}</tr></thead>'
        f"<tbody>\n{body}\n</tbody></table>"
    )
    return (
        f'<section id="errors-section" data-filter-scope><h2>Errors</h2>{note}{controls}{grid}'
        "</section>"
    )


def _failed(d: RunDigest, texts: Mapping[str, str], thumbs: Mapping[str, str]) -> str:
    if not d.failed:
        return section("Failed rows", "<p>No row failed.</p>", anchor="failed")
    kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(d.error_kinds.items()))
    rows = "\n".join(_failed_row(row, texts, thumbs) for row in d.failed_rows)
    more = f" (the first {len(d.failed_rows)} shown)" if len(d.failed_rows) < d.failed else ""
    return section(
        "Failed rows",
        f"<p>{d.failed} rows failed{more}: {esc(kinds)}</p>",
        '<table id="failed"><thead><tr><th>id</th><th>text</th><th>kind</th><th>error</th>'
        f"<th>attempts</th></tr></thead><tbody>\n{rows}\n</tbody></table>",
        anchor="failed",
    )


def _failed_row(row: ResultRow, texts: Mapping[str, str], thumbs: Mapping[str, str]) -> str:
    return (
        f'<tr><td>{esc(row.id)}</td><td class="text">{_text(texts, row.id, thumbs)}</td>'
        f"<td>{esc(row.error_kind or '-')}</td><td>{esc(row.error or '-')}</td>"
        f'<td class="num">{row.attempts}</td></tr>'
    )
