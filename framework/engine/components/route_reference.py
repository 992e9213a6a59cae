"""quality.reference=llm: a route certified with no gold at all, against the LLM.

    labelwise classify 'route.tiers=[zero_shot,llm]' quality.reference=llm \\
        quality.llm_rows=1000 quality.precision=0.9 input=tickets.jsonl

The calibration rows are `quality.llm_rows` rows drawn with model.seed (0 when null)
from quality.calibration, or, without it, from the run's input: their labels, if any,
are not read. The calibration phase (framework.runner.drivers.route) asks the LLM each
of them as a routed row is asked; the llm tier's decision of each label (its fused
confidence at or above the run's threshold: what a row sent to it gets) is the
reference label. The tiers before it (trained, zero_shot) are then certified against
those reference labels by the same learn-then-test procedure as against gold, so each
label's floors hold for their decisions as agreement with the LLM: "the zero-shot
tier's 'present' agrees with what the LLM would say at least 90% of the time". The llm
tier is the reference: it is not certified, it decides every label the tiers before it
leave open, and people get only the rows whose call failed (route.on_failure=next).
Until the phase has answered, the tiers before it settle nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from framework.config.route_settings import QualitySettings
from framework.config.schema import RunConfig
from framework.engine.components.route_tiers import Calibration
from framework.errors import ConfigError
from framework.learning.certify import Floors, LabelRule, TierRules, shortfalls
from framework.learning.certify_within import certify_within, within_shortfalls

__all__ = [
    "read_reference_rows",
    "reference_labels",
    "settling_nothing",
    "too_few",
    "within_llm",
]

log = logging.getLogger("labelwise")


def read_reference_rows(config: RunConfig, labels: list[str]) -> Calibration:
    """The llm_rows rows the LLM's answers will label: drawn from quality.calibration or
    the input, streamed (a file of any length, memory for the sample only)."""
    from framework.inputs.readers import read_rows
    from framework.inputs.sampling import sample_rows

    quality = config.quality
    key = "quality.calibration" if quality.calibration else "input"
    source = quality.calibration or config.input
    if not source:
        raise ConfigError(
            "quality.calibration: quality.reference=llm draws its calibration rows from "
            "quality.calibration or the run's input; give one (input=FILE)"
        )
    seed = config.model.seed if config.model.seed is not None else 0
    readable = (
        row for row in read_rows(source, config.columns) if row.item and row.item.text.strip()
    )
    rows = sample_rows(readable, quality.llm_rows, seed)
    if len(rows) < quality.llm_rows:
        raise ConfigError(
            f"quality.llm_rows: {quality.llm_rows} rows, but {key} {source} has "
            f"{len(rows)} with a text; give at most {len(rows)}"
        )
    ids = [row.id for row in rows]
    texts = [row.item.text for row in rows if row.item is not None]
    digest = hashlib.sha256(
        "\n".join(f"{i}\t{t}" for i, t in zip(ids, texts, strict=True)).encode()
    ).hexdigest()
    about = {"source": str(source), "rows": len(rows), "sha256": digest, "reference": "llm"}
    return Calibration(labels, ids, texts, None, about, is_pool=False)


def settling_nothing(names: Sequence[str], labels: Sequence[str]) -> list[TierRules]:
    """The tiers' rules before the phase has answered: no label settled."""
    return [
        TierRules(name, tuple(LabelRule(label, None, None) for label in labels)) for name in names
    ]


def reference_labels(
    answers: Mapping[str, Sequence[float]],
    ids: Sequence[str],
    centers: Sequence[float],
) -> Any:
    """rows x labels: the llm tier's decision of each calibration row (in `ids` order):
    its fused confidence at or above the label's threshold."""
    import numpy as np

    scores = np.array([answers[row_id] for row_id in ids], dtype=float)
    return scores >= np.asarray(centers, dtype=float) - 1e-12


def too_few(gold: Any, labels: list[str], floors: Floors, *, alpha: float, rows: int) -> None:
    """A ConfigError, after the phase, when the LLM's answers have too few rows with a
    label for any tier to be certified against them (the answers are kept)."""
    short = shortfalls(gold, labels, floors, alpha=alpha)
    if not short:
        return
    worst = max(short, key=lambda s: s.need / max(1, s.have))
    would = round(rows * worst.need / max(1, worst.have))
    raise ConfigError(
        f"quality.llm_rows: the LLM's answers to {rows} calibration rows cannot certify the "
        "target: "
        + "; ".join(
            s.words().replace("calibration rows have it", "rows the LLM gave it") for s in short
        )
        + f"; about {would} rows would (quality.llm_rows=N; the answers received are kept), "
        "or a lower floor"
    )


def within_llm(  # noqa: PLR0917 (one call site: the route's certify)
    tier: str,
    scores: Any,
    said: Any,
    gold: Any,
    labels: list[str],
    centers: Sequence[float],
    quality: QualitySettings,
) -> TierRules:
    """quality.f1_within: the tier's per-label margins, certified so each label's F1
    of the output stays within the delta of the llm tier's (learning.certify_within);
    a label too few sampled rows can certify is left to the LLM, and the log says so."""
    delta = float(quality.f1_within or 0)
    short = within_shortfalls(said, gold, labels, delta=delta, alpha=quality.alpha)
    if short:
        log.warning(
            "quality.f1_within: the %d sampled rows cannot certify %s; the LLM decides "
            "them (quality.llm_rows=N with more rows would do)",
            len(gold),
            "; ".join(s.words() for s in short),
        )
    return certify_within(
        tier, scores, said, gold, labels, centers, delta=delta, alpha=quality.alpha
    )
