"""report.html's "Gold that may be wrong": the run's gold rows ranked as `labelwise audit`
ranks them (framework.evaluation.review.audit: cleanlab's multi-label label-issue finder
on cross-fitted probabilities), the most suspect first, each with its suspect labels
and the evidence: the model's probability and what the run's LLM answered.

    audit_section(results, labels, gold=gold, input_path=source, columns=columns)

Only for a run with gold; when the audit cannot run (cleanlab not installed, too few
gold rows, a label no gold row holds, more than AUDIT_ROWS gold rows) the section says
why instead. It costs the report a few seconds (cleanlab's import, five fits of a
word TF-IDF model).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from framework.config.schema import ColumnNames
from framework.errors import InputError
from framework.evaluation.html_page import esc, section
from framework.results import read_result_rows

__all__ = ["AUDIT_TOP", "audit_section"]

AUDIT_TOP = 20  # rows shown, most suspect first
AUDIT_ROWS = 50_000  # a run with more gold rows is audited by `labelwise audit` only
AUDIT_LABELS = 500  # and labels: a model is fit per label, five times over
TEXT_LIMIT = 600


def audit_section(
    results: Path,
    labels: Sequence[str],
    *,
    gold: Mapping[str, Sequence[str]] | None = None,
    input_path: Path | None = None,
    columns: ColumnNames | None = None,
    top: int = AUDIT_TOP,
) -> str:
    """The section's markup ("" for a run without gold rows)."""
    from framework.evaluation.review.queue import sources_of
    from framework.evaluation.texts import read_texts

    held: dict[str, list[str]] = {}
    answers: dict[str, list[str]] = {}
    for row in read_result_rows(results):
        given = gold.get(row.id) if gold is not None else row.gold
        if given is None:
            continue
        held[row.id] = [label for label in given if label in labels]
        if row.ok:
            said = sources_of(row).get("llm")
            answers[row.id] = [k for k, p in said.items() if p >= 0.5] if said else list(row.labels)
    if not held:
        return ""
    texts = read_texts(input_path, set(held), columns) if input_path else {}
    rows = [(i, texts[i], held[i]) for i in held if texts.get(i, "").strip()]  # words to learn
    if not rows:  # before importing cleanlab and scikit-learn (100+ MB) for nothing
        return _said("The run's gold was not audited: its texts are not in the run's input.")
    if len(labels) > AUDIT_LABELS:  # a model a label, five times over
        return _said(
            f"{len(labels):,} labels: more than the report audits ({AUDIT_LABELS:,}); rank the "
            "gold with labelwise audit INPUT --run RUN_DIR --out ranked.jsonl."
        )
    if len(rows) > AUDIT_ROWS:  # five model fits on every row: minutes, not seconds
        return _said(
            f"{len(rows):,} gold rows: more than the report audits ({AUDIT_ROWS:,}); rank "
            "them with labelwise audit INPUT --run RUN_DIR --out ranked.jsonl."
        )
    try:
        import warnings

        from framework.evaluation.review.audit import audit_gold

        with warnings.catch_warnings():  # scikit-learn's and cleanlab's notes on rare labels:
            warnings.simplefilter("ignore")  # a report says nothing on stderr
            ranked = audit_gold(rows, list(labels), llm=answers)
    except ImportError:
        return _said("The audit of the run's gold needs cleanlab: pip install 'labelwise[review]'.")
    except InputError as error:
        return _said(f"The run's gold was not audited: {error}.")
    except ValueError as error:  # scikit-learn: texts with too few words to learn from
        return _said(f"The run's gold was not audited: its texts gave no words ({error}).")
    issues = sum(row.issue for row in ranked)
    note = (
        f'<p class="muted">{len(ranked)} gold rows ranked by cleanlab\'s multi-label '
        f"label-issue finder on cross-fitted probabilities (each row scored by a model that "
        f"never saw it); {issues} with a label issue. The {min(top, len(ranked))} most "
        "suspect, lowest label quality first: each suspect label with whether gold holds "
        "it, the model's probability and the run's answer. The same ranking, every row: "
        "<code>labelwise audit INPUT --run RUN_DIR --out ranked.jsonl</code>.</p>"
    )
    header = "".join(
        f"<th>{name}</th>"
        for name in ("rank", "id", "text", "gold", "suspect labels", "quality", "issue")
    )
    body = "\n".join(
        f'<tr><td class="num">{rank}</td><td>{esc(row.id)}</td>'
        f'<td class="text">{esc(_short(row.text))}</td><td>{_chips(row.labels)}</td>'
        f"<td>{'; '.join(_suspect(s.label, s.gold, s.model, s.llm) for s in row.suspects)}</td>"
        f'<td class="num">{row.quality:.3f}</td><td>{"yes" if row.issue else "no"}</td></tr>'
        for rank, row in enumerate(ranked[:top], start=1)
    )
    grid = f'<table id="audit"><thead><tr>{header}</tr></thead><tbody>\n{body}\n</tbody></table>'
    return section("Gold that may be wrong", note, grid, anchor="audit")


def _said(text: str) -> str:
    return section("Gold that may be wrong", f'<p class="muted">{esc(text)}</p>', anchor="audit")


def _short(text: str) -> str:
    return text if len(text) <= TEXT_LIMIT else text[:TEXT_LIMIT] + " [...]"


def _chips(labels: Sequence[str]) -> str:
    chips = "".join(f'<span class="chip">{esc(label)}</span>' for label in labels)
    return chips or '<span class="muted">-</span>'


def _suspect(label: str, in_gold: bool, model: float, llm: bool | None) -> str:
    said = f"gold {'yes' if in_gold else 'no'}, model {model:.2f}"
    if llm is not None:
        said += f", run {'yes' if llm else 'no'}"
    return f'<span class="chip">{esc(label)}</span> <span class="muted">({esc(said)})</span>'
