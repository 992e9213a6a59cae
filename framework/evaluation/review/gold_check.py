"""Which labels an imported gold row may hold: those of the taxonomy the run was labeled with.

    taxonomy = choose_taxonomy(found.rows, run_dir=None, name=None, source="export.json")
    checked = check_labels(found, taxonomy, allow_unknown=False)
    checked.unknown_labels, checked.none_dropped, checked.kept_unknown

The taxonomy comes from --run RUN_DIR (its record.json), --taxonomy NAME
(conf/taxonomy/NAME), or else the stamp the tasks carry (labelwise review export
writes the taxonomy's name and hash into each task): conf/taxonomy/NAME is used
when its hash is the stamp's. A task holding a label outside the taxonomy is left
out, its labels counted and named, unless `allow_unknown`; the taxonomy's none
label beside other labels is dropped (it stands alone, as in a run's answers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from framework.errors import ConfigError, InputError
from framework.evaluation.review.corrections import Corrections, GoldRow
from framework.evaluation.taxonomies import KnownTaxonomy, from_conf, from_record

__all__ = ["Checked", "check_labels", "choose_taxonomy", "unknown_reason"]

NO_TAXONOMY = (
    "give --run RUN_DIR (the run reviewed) or --taxonomy NAME to check the labels against, or "
    "--allow-unknown-labels to import them unchecked"
)


@dataclass
class Checked:
    corrections: Corrections
    taxonomy: KnownTaxonomy | None
    unknown_labels: Counter[str] = field(default_factory=Counter)  # label -> tasks holding it
    kept_unknown: int = 0  # tasks kept with unknown labels (allow_unknown)
    none_dropped: int = 0  # tasks whose none label stood beside others


def unknown_reason(taxonomy: KnownTaxonomy) -> str:
    return f"a label outside taxonomy {taxonomy.name}"


def choose_taxonomy(
    rows: Sequence[GoldRow],
    *,
    run_dir: Path | None,
    name: str | None,
    source: str,
    allow_unknown: bool = False,
) -> KnownTaxonomy | None:
    """The taxonomy to check the rows against; None only with allow_unknown and none known."""
    if run_dir is not None:
        from framework.results import load_record

        if not run_dir.is_dir():
            raise InputError(f"--run {run_dir} is not a run folder; give the folder reviewed")
        known = from_record(load_record(run_dir), f"{run_dir}/record.json")
        if known is None:
            raise InputError(
                f"--run {run_dir} has no record.json naming its taxonomy's labels; give the "
                "folder of a labelwise classify run, or --taxonomy NAME"
            )
        return known
    if name is not None:
        return from_conf(name)
    stamps = {row.taxonomy_hash: row.taxonomy for row in rows if row.taxonomy_hash}
    if len(stamps) > 1:
        if allow_unknown:
            return None
        found = ", ".join(f"{stamp} ({digest})" for digest, stamp in sorted(stamps.items()))
        raise InputError(f"{source} mixes tasks of taxonomies {found}; {NO_TAXONOMY}")
    if not stamps:
        return None if allow_unknown else from_conf(None)
    digest, stamp = next(iter(stamps.items()))
    try:
        known = from_conf(stamp.partition("@")[0])
    except ConfigError:
        known = None
    if known is not None and known.short_hash == digest[:16]:
        return known
    if allow_unknown:
        return None
    held = "does not hold it" if known is None else f"holds another version ({known.name})"
    raise InputError(
        f"the tasks of {source} were labeled with taxonomy {stamp!r} ({digest[:16]}) and "
        f"conf/taxonomy {held}; {NO_TAXONOMY}"
    )


def check_labels(
    found: Corrections, taxonomy: KnownTaxonomy | None, *, allow_unknown: bool = False
) -> Checked:
    """Leave out the rows with labels outside the taxonomy (unless allowed); drop the none
    label where it stands beside others. Changes `found` and says what it did."""
    checked = Checked(found, taxonomy)
    if taxonomy is None:
        return checked
    known, none = set(taxonomy.labels), taxonomy.none_label
    kept: list[GoldRow] = []
    for row in found.rows:
        unknown = [label for label in row.labels if label not in known]
        if unknown:
            checked.unknown_labels.update(unknown)
            if not allow_unknown:
                found.leave_out(unknown_reason(taxonomy), row.task)
                continue
            checked.kept_unknown += 1
        if none is not None and none in row.labels and len(row.labels) > 1:
            checked.none_dropped += 1
            kept.append(replace(row, labels=tuple(x for x in row.labels if x != none)))
        else:
            kept.append(row)
    found.rows = kept
    return checked
