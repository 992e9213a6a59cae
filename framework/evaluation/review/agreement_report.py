"""What `labelwise review agreement` (and `lint --agreement`) print: the export read, the
per-label table, the low labels with their descriptions."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.errors import InputError

if TYPE_CHECKING:
    from framework.evaluation.review.agreement import Annotations, LabelAgreement

__all__ = ["agreement", "low_labels", "read_export"]


def read_export(path: Path) -> list[object]:
    """The tasks of a Label Studio JSON export (InputError, one line, otherwise)."""
    try:
        tasks = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{path} does not exist; give the JSON file Label Studio exported"
        ) from None
    except (ValueError, UnicodeDecodeError, RecursionError, IsADirectoryError) as error:
        raise InputError(
            f"{path} is not a JSON export ({error}); export the project as JSON"
        ) from None
    if not isinstance(tasks, list):
        raise InputError(f"{path} is not a Label Studio export (a JSON list of tasks)")
    return tasks


def agreement(args: argparse.Namespace) -> int:
    from framework.evaluation.review.agreement import agreement as measure
    from framework.evaluation.review.agreement import annotations_of, raters_of
    from framework.evaluation.review.tasks import _descriptions, run_labels
    from framework.results import RunFolder
    from framework.run_record import RunRecord

    tasks = read_export(Path(args.export))
    rows, descriptions, labels = None, {}, None
    if args.run:
        folder = RunFolder.of(Path(args.run))
        labels = run_labels(folder)
        record = folder.record or RunRecord()
        descriptions = _descriptions(record)
        rows = list(folder.rows())
    else:
        descriptions = _stamped_descriptions(tasks)
        labels = list(descriptions) or None
    read = annotations_of(tasks, labels)
    if rows is not None:
        _check_stamp(read, folder.record, args.export)
        ids = {row.id for row in rows}
        outside = sum(1 for row_id in read.by_row if row_id not in ids)
        if outside == len(read.by_row) and outside:
            raise InputError(
                f"none of the {outside} annotated tasks of {args.export} is a row of {args.run}; "
                "give the run the tasks were exported from"
            )
        if outside:
            read.skipped["tasks whose ids are not in the run (compared among people only)"] += (
                outside
            )
    if not read.by_row:
        raise InputError(f"{args.export} has no annotated task with a row_id; nothing to compare")
    if labels is None:
        labels = sorted({label for given in read.latest.values() for label in given})
    found = measure(raters_of(read, rows), labels, bootstrap=args.bootstrap, seed=args.seed)
    for reason, count in sorted(read.skipped.items()):
        print(f"labelwise: warning: {count} skipped: {reason}", file=sys.stderr)
    _print(found, args.min_alpha)
    for item in low_labels(found, args.min_alpha):
        said = descriptions.get(item.label) or "(no description)"
        print(
            f"low agreement: {item.label} ({item.comparison}, alpha {item.alpha:.2f}); "
            f"its description: {said!r}: sharpen it, or add examples"
        )
    if args.json:
        Path(args.json).write_text(json.dumps([f.to_json() for f in found], indent=1) + "\n")
    return 0


def low_labels(found: Sequence[LabelAgreement], minimum: float) -> list[LabelAgreement]:
    return [f for f in found if f.alpha is not None and f.alpha < minimum]


def _check_stamp(read: Annotations, record: object, source: str) -> None:
    taxonomy = getattr(record, "taxonomy", None)
    digest = getattr(taxonomy, "hash", None) or ""
    other = {stamp for stamp in read.stamps if digest and not digest.startswith(stamp[:16])}
    if other:
        raise InputError(
            f"the tasks of {source} were made with another taxonomy ({sorted(other)[0][:16]}) "
            f"than the run's ({digest[:16]}); give the run they were exported from"
        )


def _print(found: Sequence[LabelAgreement], minimum: float) -> None:
    if not found:
        print("no comparison: the export needs tasks with two annotations, or --run RUN_DIR")
        return
    print(f"{'comparison':<18} {'label':<16} {'alpha':>6}  {'95% interval':<16} tasks")
    for f in found:
        alpha = "-" if f.alpha is None else f"{f.alpha:.2f}"
        interval = "" if f.low is None else f"[{f.low:.2f}, {f.high:.2f}]"
        flag = "  LOW" if f.alpha is not None and f.alpha < minimum else ""
        print(f"{f.comparison:<18} {f.label[:16]:<16} {alpha:>6}  {interval:<16} {f.units}{flag}")
    print("alpha: Krippendorff's (nominal), - where undefined (a label never or always given)")


def _stamped_descriptions(tasks: Sequence[object]) -> dict[str, str]:
    """The label descriptions of conf/taxonomy/NAME, NAME the tasks' stamp (else none)."""
    from framework.config.load import compose
    from framework.errors import ConfigError
    from framework.evaluation.taxonomies import is_taxonomy_name

    names = {
        str(task["data"].get("taxonomy") or "").partition("@")[0]
        for task in tasks
        if isinstance(task, Mapping) and isinstance(task.get("data"), Mapping)
    } - {""}
    if len(names) != 1 or not is_taxonomy_name(name := names.pop()):
        return {}
    try:
        from omegaconf import OmegaConf

        raw = OmegaConf.to_container(compose([f"taxonomy={name}"]).taxonomy, resolve=True)
    except (ConfigError, Exception):  # a stamp conf/taxonomy does not hold: no descriptions
        return {}
    return descriptions_of(raw) if isinstance(raw, Mapping) else {}


def descriptions_of(raw: Mapping[Any, Any]) -> dict[str, str]:
    labels = raw.get("labels")
    if isinstance(labels, Mapping):
        return {
            str(k): str(v.get("description") or "")
            for k, v in labels.items()
            if isinstance(v, Mapping)
        }
    return {}
