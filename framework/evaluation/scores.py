"""The scores of a run as [metric, value, 95% interval] rows, for report.md and report.html."""

from __future__ import annotations

from framework.evaluation.metrics import Metrics

__all__ = ["score_rows"]


def score_rows(m: Metrics) -> list[list[str]]:
    """The scores as [metric, value, 95% interval] rows (report.md and report.html)."""

    def ci(low: float, high: float) -> str:
        return f"{low:.3f} - {high:.3f}"

    scores = [
        ["macro-F1", f"{m.macro.f1:.3f}", ci(m.macro_f1_ci.low, m.macro_f1_ci.high)],
        ["micro-F1", f"{m.micro.f1:.3f}", ci(m.micro_f1_ci.low, m.micro_f1_ci.high)],
        ["weighted-F1", f"{m.weighted.f1:.3f}", ""],
        ["samples-F1", f"{m.samples.f1:.3f}", ""],
        ["macro precision / recall", f"{m.macro.precision:.3f} / {m.macro.recall:.3f}", ""],
        ["micro precision / recall", f"{m.micro.precision:.3f} / {m.micro.recall:.3f}", ""],
        ["exact match (subset accuracy)", f"{m.subset_accuracy:.3f}", ""],
        ["Hamming loss", f"{m.hamming_loss:.3f}", ""],
        ["Jaccard (samples / macro)", f"{m.jaccard_samples:.3f} / {m.jaccard_macro:.3f}", ""],
        ["failed rows", f"{m.failed} ({m.failed_rate:.1%})", ""],
    ]
    if m.none_rate is not None:
        scores.append([f"rows predicted {m.none_label!r}", f"{m.none_rate:.1%}", ""])
    return scores
