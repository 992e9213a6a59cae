"""`labelwise calibrate RESULTS_OR_RUN_DIR [--metric f1] [--out FILE] [--taxonomy NAME]`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.errors import ConfigError, InputError

if TYPE_CHECKING:
    from framework.run_record import RunRecord

__all__ = ["run"]

DESCRIPTION = """\
Choose per-label thresholds that maximise an F-score on a labeled dev set, and
save them as a versioned file a later run loads:

  labelwise classify input=dev.jsonl strategy=per_label          # rows with confidence
  labelwise calibrate outputs/DATE/TIME --out thresholds.json
  labelwise classify input=new.jsonl strategy=per_label thresholds.path=thresholds.json

The dev run's rows need a per-label confidence (strategy.confidence=logprobs or
self_consistency) and gold labels. The file is stamped with the taxonomy it was
tuned for (from the run's record.json, or --taxonomy NAME); a run with another
version of the taxonomy refuses it.
"""


def run(argv: list[str]) -> int:
    from framework.evaluation.calibration import calibrate, thresholds_artifact
    from framework.labels.thresholds import FORMAT
    from framework.results import RunFolder

    args = _parser().parse_args(argv)
    folder = RunFolder.of(Path(args.results))
    results, record = folder.results, folder.record
    taxonomy = _taxonomy(record, args.taxonomy)
    rows = list(folder.rows())
    stamps = {str(row.taxonomy_hash) for row in rows if row.taxonomy_hash}
    if stamps and stamps != {taxonomy["hash"][:16]}:
        raise InputError(
            f"{results} was labeled with taxonomy hash {', '.join(sorted(stamps))}, "
            f"not {taxonomy['name']}'s ({taxonomy['hash'][:16]})"
        )
    try:
        chosen = calibrate(rows, taxonomy["labels"], metric=args.metric, default=args.default)
    except ValueError as error:
        raise InputError(
            f"{results}: {error}; run the dev set with strategy.confidence=logprobs or "
            "self_consistency and gold labels in the input"
        ) from None
    out = Path(args.out) if args.out else results.parent / "thresholds.json"
    artifact = thresholds_artifact(
        results, record, taxonomy, rows=rows, chosen=chosen, metric=args.metric
    )
    out.write_text(json.dumps(artifact, indent=2) + "\n")
    before, after = f"{args.metric} before", f"{args.metric} after"
    print(f"{'label':<20} {'threshold':>9} {before:>12} {after:>11} {'support':>8}")
    for c in chosen:
        print(
            f"{c.label:<20} {c.threshold:>9.3f} {c.before:>12.3f} {c.after:>11.3f} {c.support:>8}"
        )
    mean_before = sum(c.before for c in chosen) / len(chosen)
    mean_after = sum(c.after for c in chosen) / len(chosen)
    print(f"\nmacro {args.metric} on the dev set: {mean_before:.3f} -> {mean_after:.3f}")
    print(f"wrote {out} ({FORMAT}); use it with thresholds.path={out}")
    return 0


def _parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="labelwise calibrate",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument(
        "results", metavar="RESULTS_OR_RUN_DIR", help="the dev run's results or folder"
    )
    cli.add_argument("--metric", default="f1", help="f1 (default), f0.5 (precision), f2 (recall)")
    cli.add_argument("--out", metavar="FILE", help="default: thresholds.json beside the results")
    cli.add_argument("--taxonomy", metavar="NAME", help="when the results have no record.json")
    cli.add_argument("--default", type=float, default=0.5, help="threshold of labels never seen")
    return cli


def _taxonomy(record: RunRecord | None, name: str | None) -> dict[str, Any]:
    if name:
        from framework.config.load import compose, load_run_config
        from framework.labels.taxonomy import label_ids, taxonomy_hash

        taxonomy = load_run_config(compose([f"taxonomy={name}"])).taxonomy
        return {
            "name": taxonomy.name,
            "version": taxonomy.version,
            "hash": taxonomy_hash(taxonomy),
            "labels": list(label_ids(taxonomy)),
        }
    if record and record.taxonomy.hash:
        return record.taxonomy.model_dump()
    raise ConfigError(
        "--taxonomy: the results have no record.json; name the taxonomy they "
        "were labeled with (--taxonomy NAME)"
    )
