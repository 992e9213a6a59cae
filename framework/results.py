"""The results file: JSONL rows appended as they complete, readable for resume.

A run killed at any moment (kill -9 included) leaves at most one torn last
line; opening the journal again cuts it off and reports the ids already done,
so the next run classifies exactly the rows that are missing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from framework.errors import InputError

__all__ = ["ResultsJournal", "export_results", "id_digest", "journal_path"]


def id_digest(row_id: str) -> int:
    """A 64-bit digest of an id: sets of these keep a million ids in a few dozen MB."""
    return int.from_bytes(hashlib.blake2b(row_id.encode("utf-8"), digest_size=8).digest(), "big")


class ResultsJournal:
    """Appends rows; `done` holds the digests of the ids already present when opened.

    With `taxonomy` ("name@version", hash), every row is stamped with it, and a
    file holding rows stamped with another taxonomy hash is refused: labels
    from two versions of a taxonomy are never mixed in one results file.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        taxonomy: tuple[str, str] | None = None,
        retry_failed: bool = False,
    ) -> None:
        self.path = Path(path)
        self.done: set[int] = set()
        self.dropped_failed = 0  # failed rows taken out to be classified again
        self._stamp = {"taxonomy": taxonomy[0], "taxonomy_hash": taxonomy[1]} if taxonomy else {}
        if self.path.exists():
            self._recover()
            if retry_failed:
                self._drop_failed()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: each row is one write(2) of a whole line, so a kill
        # leaves complete rows and at most one torn line, never a lost buffer of rows.
        self._handle = self.path.open("ab", buffering=0)

    def append(self, row: dict[str, Any]) -> None:
        line = json.dumps({**row, **self._stamp}, ensure_ascii=False, separators=(",", ":"))
        line += "\n"
        self._handle.write(line.encode("utf-8"))

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> ResultsJournal:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

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
_COLUMNS = ("id", "labels", "status", "error", "attempts", "prompt_tokens", "completion_tokens",
            "cost", "gold", "cache_hits", "truncated_from", "request_hash", "taxonomy",
            "taxonomy_hash")  # fmt: skip
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
    if output.suffix.lower() == ".csv":
        _export_csv(journal, partial)
    else:
        _export_parquet(journal, partial)
    partial.replace(output)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    usage = row.get("usage") or {}
    flat = {key: row.get(key) for key in _COLUMNS}
    flat["prompt_tokens"] = usage.get("prompt_tokens")
    flat["completion_tokens"] = usage.get("completion_tokens")
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
        [("id", pa.string()), ("labels", labels), ("status", pa.string()), ("error", pa.string()),
         ("attempts", pa.int64()), ("prompt_tokens", pa.int64()), ("completion_tokens", pa.int64()),
         ("cost", pa.float64()), ("gold", labels), ("cache_hits", pa.int64()),
         ("truncated_from", pa.int64()), ("request_hash", pa.string()),
         ("taxonomy", pa.string()), ("taxonomy_hash", pa.string())]
    )  # fmt: skip
    with pq.ParquetWriter(target, schema) as writer:
        chunk: list[dict[str, Any]] = []
        for row in _rows(journal):
            chunk.append(_flat(row))
            if len(chunk) >= _CHUNK:
                writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
                chunk = []
        if chunk:
            writer.write_table(pa.Table.from_pylist(chunk, schema=schema))
