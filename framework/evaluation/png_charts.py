"""The PNG charts beside report.md and leaderboard.md, drawn with matplotlib, quietly.

    with quiet_pyplot() as plt:
        figure, axes = plt.subplots()
        ...
    plot_per_label_f1({"run": metrics}, run_dir / "per_label_f1.png")

matplotlib talks on stderr: "Glyph 21916 (...) missing from font(s) DejaVu Sans"
for each character of a label name its font lacks (Japanese, Cyrillic in some
fonts), "Matplotlib is building the font cache" on a first run, and a warning when
its config folder is not writable. None of it is for labelwise's user (a missing
glyph draws as a box in the PNG; report.html shows every name as text), so inside
`quiet_pyplot` those warnings are filtered, by their category and message, and
matplotlib's logger keeps to errors.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.evaluation.chart_labels import most_frequent

if TYPE_CHECKING:
    from framework.evaluation.metrics import Metrics

__all__ = ["plot_per_label_f1", "quiet_pyplot"]

GLYPH_WARNING = r"Glyph \d+ .*missing from (current )?font"


@contextmanager
def quiet_pyplot() -> Iterator[Any]:
    """matplotlib.pyplot on the Agg backend (no display), its font noise kept off stderr."""
    logger = logging.getLogger("matplotlib")
    level = logger.level
    logger.setLevel(logging.ERROR)  # the font cache, an unwritable MPLCONFIGDIR
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=GLYPH_WARNING, category=UserWarning)
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            yield plt
    finally:
        logger.setLevel(level)


def plot_per_label_f1(runs: Mapping[str, Metrics], path: Path) -> Path:
    """Grouped bars: F1 of each label (x) for each run (one colour a run); of a large
    taxonomy, the labels most often in gold or predicted (chart_labels)."""
    every = list(dict.fromkeys(label for m in runs.values() for label in m.labels))
    counts: dict[str, int] = {}
    for metrics in runs.values():
        for score in metrics.per_label:
            counts[score.label] = counts.get(score.label, 0) + score.support + score.predicted
    labels = most_frequent(every, counts)
    width = 0.8 / len(runs)
    with quiet_pyplot() as plt:
        size = (max(6.0, 0.9 * len(labels) * max(1, len(runs) / 2)), 4)
        figure, axes = plt.subplots(figsize=size)
        for n, (name, metrics) in enumerate(runs.items()):
            scores = {s.label: s.f1 for s in metrics.per_label}
            xs = [i + (n - (len(runs) - 1) / 2) * width for i in range(len(labels))]
            axes.bar(xs, [scores.get(label, 0.0) for label in labels], width, label=name)
        axes.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
        axes.set_ylim(0, 1)
        axes.set_ylabel("F1")
        title = "F1 by label"
        if len(labels) < len(every):
            title += f" (the {len(labels)} most frequent of {len(every):,} labels)"
        axes.set_title(title)
        if len(runs) > 1:
            axes.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.3))
        figure.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(figure)
    return path
