"""Reports of a 10,000-label taxonomy (turn 3, case 169): report.html's heatmaps and
per-label charts hold the most frequent labels only, so memory grows with the labels,
not with their square (it reached 9.5 GB and MemoryError), and the page stays small."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from framework.evaluation.html_run import write_run_html
from tests.support import REPO, cli_env, write_jsonl

LABELS = [f"L{n:05d}" for n in range(10_000)] + ["none"]
CHART_LABELS = 40  # framework.evaluation.chart_labels.CHART_LABELS
HTML_CAP = 2_000_000  # bytes of report.html
# The evaluate process's peak; it is killed past 1.5 GB (the old code went to 9.5 GB).
# Measured on a fresh clone: about 450 MB alone or after any one test folder, 708-714 MB
# late in the whole suite's order (cause not found: the environment at that point
# differs only by KMP_* and TIKTOKEN_CACHE_DIR); the cap keeps a regression's GBs out.
RSS_CAP_MB = 800


def huge_run(folder: Path, rows: int = 300) -> Path:
    """A run folder of a 10,000-label taxonomy: results with gold, and its record.json."""
    rng = random.Random(7)
    common = LABELS[:60]  # most rows use a few labels; some use any of the 10,000

    def some() -> list[str]:
        pool = common if rng.random() < 0.8 else LABELS[:-1]
        return sorted(set(rng.sample(pool, rng.randint(1, 3))))

    results = [
        {
            "id": f"r{n}",
            "labels": some(),
            "gold": some(),
            "status": "ok",
            "confidence": {label: round(rng.random(), 2) for label in rng.sample(common, 5)},
        }
        for n in range(rows)
    ]
    results.append({"id": "wide", "labels": LABELS[:-1], "gold": LABELS[:500], "status": "ok"})
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "results.jsonl", results)
    taxonomy = {"name": "huge", "version": "1", "labels": LABELS, "none_label": "none"}
    (folder / "record.json").write_text(json.dumps({"taxonomy": taxonomy}), encoding="utf-8")
    return folder


def test_report_html_of_10000_labels_is_bounded_in_memory_and_size(tmp_path: Path) -> None:
    run = huge_run(tmp_path / "run")
    tracemalloc.start()
    try:
        path = write_run_html(run / "results.jsonl", LABELS, out_dir=run, title="huge")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"peak {peak / 2**20:.0f} MB"
    html = path.read_text(encoding="utf-8")
    assert len(html.encode()) < HTML_CAP
    # the co-occurrence heatmap: at most CHART_LABELS x CHART_LABELS cells, said on the page
    assert html.count("<rect") < 3 * (CHART_LABELS + 1) ** 2
    assert f"the {CHART_LABELS} most frequent of the 10,001 labels" in html


@pytest.mark.slow
def test_evaluate_a_10000_label_run_in_bounded_memory(tmp_path: Path) -> None:
    run = huge_run(tmp_path / "run")
    command = [sys.executable, "-m", "framework", "evaluate", str(run), "--bootstrap", "50"]
    returncode, peak_mb, stderr = run_with_memory_cap(command, cap_mb=1500)
    assert returncode == 0, stderr[-2000:]
    assert peak_mb < RSS_CAP_MB, f"peak RSS {peak_mb:.0f} MB"
    assert stderr == "", stderr[-2000:]
    html = (run / "report.html").read_bytes()
    assert len(html) < HTML_CAP
    assert b"most frequent of the 10,001 labels" in html
    report = (run / "report.md").read_text(encoding="utf-8")
    assert len(report) < 500_000 and "The table lists the 1,000 most frequent labels" in report
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["per_label"]) == len(LABELS)
    assert (run / "per_label_f1.png").read_bytes().startswith(b"\x89PNG")


def run_with_memory_cap(command: list[str], *, cap_mb: float) -> tuple[int, float, str]:
    """Run a command; kill it if its resident memory passes `cap_mb` (so a regression cannot
    take the machine down). Its exit code, its peak RSS in MB (from wait4) and its stderr."""
    process = subprocess.Popen(
        command, cwd=REPO, env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    killed: list[float] = []

    def watch() -> None:
        status = Path(f"/proc/{process.pid}/status")
        while process.returncode is None:
            try:
                rss = _rss_mb(status.read_text())
            except (OSError, StopIteration):  # gone, or a zombie (no VmRSS line)
                return
            if rss > cap_mb:
                killed.append(rss)
                process.kill()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert process.stderr is not None
    stderr = process.stderr.read().decode("utf-8", "replace")
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    watcher.join(timeout=5)
    assert not killed, f"killed at {killed[0]:.0f} MB resident"
    return process.returncode, usage.ru_maxrss / 1024, stderr


def _rss_mb(status: str) -> float:
    line: Any = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return float(line.split()[1]) / 1024
