"""Writing the gold file of `labelwise review import --to FILE`, without destroying another file.

    check_target(Path("gold.jsonl"), export=Path("export.json"), force=False)
    write_gold(rows, Path("gold.jsonl"))          # atomic: a new file, then a rename

Refused, always: the export itself, a folder, and a run's results (rows with a
`status`, or a journal whose claim `<file>.run.json` lies beside it). Refused unless
`force`: any other file that holds something and was not written by review import
(every row of ours says "source": "label-studio").
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from framework.errors import InputError
from framework.evaluation.review.corrections import GoldRow

__all__ = ["check_target", "write_gold"]

SOURCE = "label-studio"
PEEK_LINES = 50  # rows read to tell what an existing file is
Kind = Literal["empty", "gold", "results", "other"]


def check_target(target: Path, *, export: Path | None, force: bool) -> None:
    """InputError when writing the gold rows to `target` would destroy something."""
    from framework.runner.claim import CLAIM_SUFFIX, claim_path

    if target.is_dir():
        raise InputError(f"--to {target} is a folder; give the gold JSONL file to write")
    if export is not None and target.exists() and _same_file(target, export):
        raise InputError(f"--to {target} is the export being read; give another file (gold.jsonl)")
    journals = (target, target.with_name(target.name + ".jsonl"))  # out.csv: out.csv.jsonl
    claims = [claim_path(journal) for journal in journals if claim_path(journal).exists()]
    if claims or target.name.endswith(CLAIM_SUFFIX):
        beside = f" (its run's claim {claims[0].name} lies beside it)" if claims else ""
        raise InputError(
            f"--to {target} is a run's results file{beside}; review import never replaces a "
            "run's results: give another file (gold.jsonl)"
        )
    kind = _kind_of(target)
    if kind == "results":
        raise InputError(
            f"--to {target} holds a run's results (rows with a status); review import never "
            "replaces a run's results: give another file (gold.jsonl)"
        )
    if kind == "other" and not force:
        raise InputError(
            f"--to {target} exists and was not written by labelwise review import; give "
            "another file, or add --force to replace it"
        )


def write_gold(rows: Iterable[GoldRow], path: Path) -> int:
    """Write gold rows as JSONL (usable as input= and as evaluate --gold); how many.
    The rows go to a new file beside `path`, renamed over it once complete, so a
    failure leaves `path` as it was."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, renamed after)
            "w",
            encoding="utf-8",
            errors="backslashreplace",  # a lone surrogate in a text shows as \udc00
            dir=path.parent,
            prefix=f".{path.name}.",
            suffix=".tmp",
            delete=False,
        )
    except OSError as error:
        raise InputError(f"--to {path}: cannot be written ({error.strerror})") from None
    count = 0
    try:
        with handle:
            for row in rows:
                handle.write(json.dumps(row.to_json(), ensure_ascii=False) + "\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o666 & ~_umask())
        os.replace(handle.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(handle.name)
        raise
    return count


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _kind_of(path: Path) -> Kind:
    """What an existing file holds, from its first rows."""
    if not path.exists() or path.stat().st_size == 0:
        return "empty"
    seen = 0
    try:
        with path.open("rb") as handle:
            for raw in handle:
                if not raw.strip():
                    continue
                row = json.loads(raw)
                if not isinstance(row, dict):
                    return "other"
                if "status" in row:
                    return "results"
                if row.get("source") != SOURCE:
                    return "other"
                seen += 1
                if seen >= PEEK_LINES:
                    break
    except (OSError, ValueError):  # not JSON lines, not UTF-8, unreadable
        return "other"
    return "gold" if seen else "empty"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
