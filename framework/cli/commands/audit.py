"""`labelwise audit GOLD_FILE [--out RANKED.jsonl]`: gold rows whose labels may be wrong."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from framework.errors import InputError

if TYPE_CHECKING:
    from framework.evaluation.review.audit import SuspectRow

__all__ = ["run"]

DESCRIPTION = """\
Rank the rows of a gold file (JSONL, CSV or Parquet with id, text, labels) most suspect
first: cleanlab's multi-label label-issue finder on the cross-fitted probabilities of a
TF-IDF + logistic-regression model (each row scored by a model that never saw it).
Each row says which of its labels are suspect, the model's probability of each, and,
with --run RUN_DIR (a run over the same ids), what the LLM answered.

  labelwise audit gold.jsonl --taxonomy goemotions_ekman --out ranked.jsonl
  labelwise audit gold.jsonl --run outputs/DATE/TIME --top 20
  labelwise audit gold.jsonl --taxonomy news --top 50 --export audit-tasks/

--export DIR writes the --top rows as Label Studio tasks (the gold as the prediction to
confirm or fix, the suspect labels said); review import reads the project's export back.

The labels are the taxonomy's (--taxonomy NAME, or that of --run), else those the file
holds; rows without gold labels or with unreadable lines are skipped and counted.
"""


def run(argv: list[str]) -> int:
    cli = argparse.ArgumentParser(
        prog="labelwise audit",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument("gold", metavar="GOLD_FILE")
    cli.add_argument("--out", metavar="RANKED.jsonl", help="every row, most suspect first")
    which = cli.add_mutually_exclusive_group()
    which.add_argument("--taxonomy", metavar="NAME", help="the labels of conf/taxonomy/NAME")
    which.add_argument("--run", metavar="RUN_DIR", help="a run over these rows: its LLM's answers")
    cli.add_argument("--folds", type=int, default=5, help="cross-fitting folds (default 5)")
    cli.add_argument("--top", type=int, default=10, help="rows printed (default 10)")
    cli.add_argument(
        "--export",
        metavar="DIR",
        help="also write the --top rows as Label Studio tasks (tasks.json, labeling-config.xml)",
    )
    args = cli.parse_args(argv)

    from framework.config.schema import ColumnNames
    from framework.evaluation.review.audit import audit_gold
    from framework.inputs.pools import read_labeled

    gold = Path(args.gold)
    if not gold.is_file():
        raise InputError(f"{gold} is not a file; give the gold rows (JSONL, CSV or Parquet)")
    labels, llm = _labels_and_answers(args)
    pool = read_labeled(gold, ColumnNames(), set(labels) if labels else None)
    for warning in pool.warnings(str(gold)):
        print(f"labelwise: warning: {warning}", file=sys.stderr)
    if not pool.rows:
        raise InputError(f"{gold} has no rows with gold labels; nothing to audit")
    if not labels:
        labels = sorted({label for _, _, held in pool.rows for label in held})
    ranked = audit_gold(pool.rows, labels, folds=args.folds, llm=llm)
    if args.out:
        _write(ranked, Path(args.out))
    issues = sum(row.issue for row in ranked)
    skipped = f"; {pool.unlabeled} rows without gold skipped" if pool.unlabeled else ""
    print(f"{len(ranked)} gold rows audited, {issues} with a label issue (cleanlab){skipped}")
    for row in ranked[: args.top]:
        said = ", ".join(
            f"{s.label} (gold {'yes' if s.gold else 'no'}, model {s.model:.2f}"
            + ("" if s.llm is None else f", llm {'yes' if s.llm else 'no'}")
            + ")"
            for s in row.suspects
        )
        print(f"  {row.id}  quality {row.quality:.3f}  suspect: {said}")
    if args.out:
        print(f"ranked rows -> {args.out}")
    if args.export:
        tasks = _export(ranked[: args.top], labels, Path(args.export))
        print(f"{tasks} most suspect rows as Label Studio tasks -> {args.export}/tasks.json")
    return 0


def _export(rows: list[SuspectRow], labels: list[str], out: Path) -> int:
    """The rows as Label Studio tasks: the gold as the prediction to confirm or fix."""
    from framework.evaluation.review.tasks import (
        CONFIG_FILE,
        TASKS_FILE,
        build_task,
        labeling_config,
    )
    from framework.results import ResultRow

    tasks = []
    for row in rows:
        task = build_task(ResultRow(row.id, row.labels), row.text, model_version="labelwise audit")
        why = "; ".join(
            f"{s.label} (gold {'yes' if s.gold else 'no'}, model {s.model:.2f})"
            for s in row.suspects
        )
        task["data"]["labelwise"] = f"gold: {', '.join(row.labels) or '(none)'} | suspect: {why}"
        task["data"]["why"] = f"suspect gold: {why}"
        tasks.append(task)
    out.mkdir(parents=True, exist_ok=True)
    (out / TASKS_FILE).write_text(
        json.dumps(tasks, indent=1, ensure_ascii=False) + "\n", "utf-8", errors="backslashreplace"
    )
    (out / CONFIG_FILE).write_text(labeling_config(labels, title="(audit)"), encoding="utf-8")
    return len(tasks)


def _labels_and_answers(args: argparse.Namespace) -> tuple[list[str], dict[str, list[str]] | None]:
    if args.taxonomy:
        from framework.evaluation.taxonomies import from_conf

        return list(from_conf(args.taxonomy).labels), None
    if not args.run:
        return [], None
    from framework.evaluation.review.queue import sources_of
    from framework.evaluation.review.tasks import run_labels
    from framework.results import RunFolder

    folder = RunFolder.of(Path(args.run))
    answers = {}
    for row in folder.rows():
        if row.ok:
            said = sources_of(row).get("llm")
            answers[row.id] = [k for k, p in said.items() if p >= 0.5] if said else list(row.labels)
    return run_labels(folder), answers


def _write(ranked: list[SuspectRow], path: Path) -> None:
    import os
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as handle:
        for rank, row in enumerate(ranked, start=1):
            handle.write(json.dumps({"rank": rank, **row.to_json()}, ensure_ascii=False) + "\n")
    os.replace(handle.name, path)
