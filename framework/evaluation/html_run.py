"""report.html of one run: digest its rows, join the texts shown, write the page.

    write_run_html(results, labels, out_dir=run_dir, metrics=metrics, input_path=...)

Called after report.md for a run with gold (the page then has the audit of its gold:
framework.evaluation.html_audit), and on its own for a run without.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from framework.config.schema import ColumnNames
from framework.evaluation.html_digest import digest_rows
from framework.evaluation.html_report import write_html_report
from framework.evaluation.metrics import Metrics
from framework.results import REPORT_HTML_FILE, read_result_rows

__all__ = ["ERROR_LIMIT", "write_run_html"]

ERROR_LIMIT = 1000  # error rows and failed rows in the page, each (the worst first)


def write_run_html(
    results: Path,
    labels: Sequence[str],
    *,
    out_dir: Path,
    metrics: Metrics | None = None,
    gold: Mapping[str, Sequence[str]] | None = None,
    input_path: Path | None = None,
    columns: ColumnNames | None = None,
    title: str = "",
    route: Mapping[str, Any] | None = None,
) -> Path:
    """Write out_dir/report.html from a results file; texts come from `input_path`."""
    from framework.evaluation.texts import read_texts

    digest = digest_rows(lambda: read_result_rows(results), labels, gold=gold, limit=ERROR_LIMIT)
    ids = {error.id for error in digest.errors} | {row.id for row in digest.failed_rows}
    from framework.evaluation.thumbnails import read_thumbnails

    texts = read_texts(input_path, ids, columns) if input_path and ids else {}
    thumbs = read_thumbnails(input_path, ids, columns) if input_path else {}
    audit = ""
    if metrics is not None:  # a run with gold: the gold rows that may be wrong
        from framework.evaluation.html_audit import audit_section

        audit = audit_section(results, labels, gold=gold, input_path=input_path, columns=columns)
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_html_report(
        digest,
        texts,
        out_dir / REPORT_HTML_FILE,
        metrics=metrics,
        title=title or str(results),
        thumbnails=thumbs,
        audit=audit,
        route=route,
    )
