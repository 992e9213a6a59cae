"""The results file: JSONL rows appended as they complete, readable for resume.

A run killed at any moment (kill -9 included) leaves at most one torn last
line; opening the journal again cuts it off and reports the ids already done,
so the next run classifies exactly the rows that are missing.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from framework.engine.identity import differences
from framework.errors import InputError, WriteError
from framework.results import ResultRow, id_digest
from framework.runner.claim import JournalClaim
from framework.secrets import scrub

__all__ = [
    "ResultsJournal",
    "Resumed",
    "aside_name",
    "encode_row",
    "export_results",
    "journal_path",
    "read_done",
]


def encode_row(row: dict[str, Any]) -> bytes:
    """One results line. A lone surrogate (an id read from JSON as half an emoji) cannot
    be UTF-8: such a row is written with JSON escapes instead, which read back the same."""
    line = scrub(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
    try:
        return (line + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (scrub(json.dumps(row, separators=(",", ":"))) + "\n").encode("ascii")


def aside_name(path: Path, stamp: str) -> Path:
    """out.jsonl -> out.before-STAMP.jsonl (out.csv.jsonl -> out.before-STAMP.csv.jsonl)."""
    stem, dot, suffixes = path.name.partition(".")
    return path.with_name(f"{stem}.before-{stamp}{dot}{suffixes}")


def read_done(path: Path) -> set[int]:
    """The id digests of a results file's complete rows, without locking or changing it."""
    done: set[int] = set()
    if not path.exists():
        return done
    with path.open("rb") as handle:
        for raw in handle:
            if raw.endswith(b"\n"):
                try:
                    done.add(id_digest(str(json.loads(raw)["id"])))
                except (ValueError, KeyError, TypeError):
                    continue
    return done


Resume = Literal["auto", "force", "never"]


@dataclass(frozen=True)
class Resumed:
    """What a run found in its output: rows from before, and whether their config differs."""

    rows: int
    forced: bool = False
    differences: tuple[str, ...] = ()
    moved_aside: str | None = None  # run.resume=never: where the earlier file went


class ResultsJournal:
    """Appends rows; `done` holds the digests of the ids already present when opened.

    With `taxonomy` ("name@version", hash), every row is stamped with it, and a
    file holding rows stamped with another taxonomy hash is refused: labels
    from two versions of a taxonomy are never mixed in one results file.

    With `identity` (framework.engine.identity), the journal is claimed for this run
    alone (framework.runner.claim) and a file written under another identity is
    refused unless `resume` is "force"; "never" moves an earlier file aside and
    starts a new one.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        taxonomy: tuple[str, str] | None = None,
        retry_failed: bool = False,
        identity: dict[str, Any] | None = None,
        resume: Resume = "auto",
        also_move: tuple[Path, ...] = (),
    ) -> None:
        self.path = Path(path)
        self.done: set[int] = set()
        self.dropped_failed = 0  # failed rows taken out to be classified again
        self.resumed: Resumed | None = None
        self._stamp = {"taxonomy": taxonomy[0], "taxonomy_hash": taxonomy[1]} if taxonomy else {}
        self._claim = JournalClaim(self.path) if identity is not None else None
        try:
            self._open(identity, resume, retry_failed, also_move)
        except BaseException:
            if self._claim is not None:
                self._claim.release()
            raise

    def _open(
        self,
        identity: dict[str, Any] | None,
        resume: Resume,
        retry_failed: bool,
        also_move: tuple[Path, ...],
    ) -> None:
        if self._claim is not None:
            self._claim.acquire()
        moved = self._move_aside(also_move) if resume == "never" else None
        if self.path.exists():
            self._recover()
        if self.done and identity is not None and self._claim is not None:
            before = self._claim.previous.get("identity")
            self.resumed = self._check_identity(before, identity, forced=resume == "force")
        elif moved is not None:
            self.resumed = Resumed(0, moved_aside=moved)
        if retry_failed and self.done:
            self._drop_failed()
        if self._claim is not None:
            self._claim.write(identity)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Unbuffered: each row is one write(2) of a whole line, so a kill
            # leaves complete rows and at most one torn line, never a lost buffer of rows.
            self._handle = self.path.open("ab", buffering=0)
        except OSError as error:
            raise InputError(
                f"output {self.path}: cannot be written ({error.strerror}); choose another "
                "output= or make its folder writable"
            ) from None

    def append(self, row: dict[str, Any]) -> None:
        data = encode_row({**row, **self._stamp})
        start = self._handle.tell()
        try:
            written = self._handle.write(data)
            if written != len(data):  # a short write: the disk filled up mid-row
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        except OSError as error:
            with contextlib.suppress(OSError):
                os.ftruncate(self._handle.fileno(), start)  # no torn row left behind
            raise WriteError(
                f"cannot append to {self.path}: {error.strerror or error}; the rows written so "
                f"far are kept: {_what_to_free(self.path, error)} and run the same command to "
                "resume"
            ) from None

    def close(self) -> None:
        self._handle.close()
        if self._claim is not None:
            self._claim.release()

    def __enter__(self) -> ResultsJournal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _check_identity(
        self, before: dict[str, Any] | None, now: dict[str, Any], *, forced: bool
    ) -> Resumed:
        if before is None:  # written before runs recorded their identity: nothing to compare
            return Resumed(len(self.done))
        found = tuple(differences(before, now))
        if found and not forced:
            shown = "; ".join(found[:6]) + (
                f"; and {len(found) - 6} more" if len(found) > 6 else ""
            )
            raise InputError(
                f"output {self.path} holds {len(self.done)} rows made by a different config "
                f"({shown}); rerun with that config to resume, add run.resume=force to resume "
                "anyway (mixing both in one file), or run.resume=never to start a new file"
            )
        return Resumed(len(self.done), forced=bool(found), differences=found)

    def _move_aside(self, also_move: tuple[Path, ...]) -> str | None:
        """Move an earlier results file (and its exports) aside; the name it went to."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        for companion in also_move:
            if companion.exists() and companion != self.path:
                os.replace(companion, aside_name(companion, stamp))
        target = aside_name(self.path, stamp)
        os.replace(self.path, target)
        return target.name

    def _recover(self) -> None:
        """Read the ids already written; cut a torn last line left by a killed run."""
        keep = 0
        with self.path.open("rb") as handle:
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break
                try:
                    row = json.loads(raw)
                    self.done.add(id_digest(str(row["id"])))
                except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
                    raise InputError(
                        f"{self.path} is not a labelwise results file (a line near byte {keep} "
                        "is not a result row); choose another output= or move it away"
                    ) from None
                self._check_stamp(row)
                keep += len(raw)
        if keep != self.path.stat().st_size:
            os.truncate(self.path, keep)

    def _drop_failed(self) -> None:
        """Rewrite the file without its failed rows, so their ids are classified again."""
        kept = self.path.with_name(self.path.name + ".retry")
        with self.path.open("rb") as source, kept.open("wb") as target:
            for raw in source:
                row = json.loads(raw)
                if row.get("status") == "failed":
                    self.done.discard(id_digest(str(row["id"])))
                    self.dropped_failed += 1
                else:
                    target.write(raw)
        os.replace(kept, self.path)

    def _check_stamp(self, row: dict[str, Any]) -> None:
        expected = self._stamp.get("taxonomy_hash")
        if expected is None or row.get("taxonomy_hash") == expected:
            return
        found = row.get("taxonomy") or "no taxonomy stamp"
        raise InputError(
            f"{self.path} holds rows labeled with {found} (hash {row.get('taxonomy_hash')}), "
            f"not {self._stamp['taxonomy']} (hash {expected}); write to another output= so "
            "labels from two taxonomy versions are not mixed"
        )


_OUTPUT_FORMATS = (".jsonl", ".ndjson", ".csv", ".parquet")
_COLUMNS = (
    "id",
    "labels",
    "status",
    "error",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "cost",
    "gold",
    "cache_hits",
    "truncated_from",
    "request_hash",
    "taxonomy",
    "taxonomy_hash",
)
_CHUNK = 5000


def journal_path(output: Path) -> Path:
    """Where rows are appended: the output itself for JSONL; for CSV and Parquet, which
    cannot be appended to safely, a JSONL journal beside it that is exported at the end."""
    suffix = output.suffix.lower()
    if suffix not in _OUTPUT_FORMATS:
        raise InputError(
            f"output {output}: unknown format {suffix or '(no extension)'}; "
            f"use one of {', '.join(_OUTPUT_FORMATS)}"
        )
    return output if suffix in (".jsonl", ".ndjson") else output.with_name(output.name + ".jsonl")


def export_results(journal: Path, output: Path) -> None:
    """Write the journal's rows to a CSV or Parquet output, a chunk at a time."""
    if journal == output:
        return
    partial = output.with_name(output.name + ".partial")
    try:
        if output.suffix.lower() == ".csv":
            _export_csv(journal, partial)
        else:
            _export_parquet(journal, partial)
        partial.replace(output)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise WriteError(
            f"cannot write {output}: {error.strerror}; the results are safe in {journal}: "
            f"{_what_to_free(output, error)} and run the same command to export them"
        ) from None


def _what_to_free(path: Path, error: OSError) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"free space on the disk that holds {path.parent}"
    return f"make {path.parent} writable"


def _flat(data: dict[str, Any]) -> dict[str, Any]:
    row = ResultRow.from_json(data)
    flat: dict[str, Any] = {key: getattr(row, key, None) for key in _COLUMNS}
    flat["labels"] = list(row.labels)
    flat["gold"] = list(row.gold) if row.gold is not None else None
    flat["prompt_tokens"] = row.usage.prompt_tokens
    flat["completion_tokens"] = row.usage.completion_tokens
    return flat


def _rows(journal: Path) -> Any:
    with journal.open("rb") as handle:
        for raw in handle:
            if raw.endswith(b"\n"):
                yield json.loads(raw)


def _export_csv(journal: Path, target: Path) -> None:
    import csv

    with target.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=_COLUMNS)
        writer.writeheader()
        for row in _rows(journal):
            flat = _flat(row)
            for key in ("labels", "gold"):
                if flat[key] is not None:
                    flat[key] = json.dumps(flat[key], ensure_ascii=False)
            writer.writerow(flat)


def _export_parquet(journal: Path, target: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    labels = pa.list_(pa.string())
    schema = pa.schema(
        [
            ("id", pa.string()),
            ("labels", labels),
            ("status", pa.string()),
            ("error", pa.string()),
            ("attempts", pa.int64()),
            ("prompt_tokens", pa.int64()),
            ("completion_tokens", pa.int64()),
            ("cost", pa.float64()),
            ("gold", labels),
            ("cache_hits", pa.int64()),
            ("truncated_from", pa.int64()),
            ("request_hash", pa.string()),
            ("taxonomy", pa.string()),
            ("taxonomy_hash", pa.string()),
        ]
    )
    with pq.ParquetWriter(target, schema) as writer:
        chunk: list[dict[str, Any]] = []
        for row in _rows(journal):
            chunk.append(_flat(row))
            if len(chunk) >= _CHUNK:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                chunk = []
        if chunk:
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
