"""A run's results, typed: one ResultRow per input id, and the RunFolder that holds them.

    row = ResultRow.from_prediction(prediction, gold=("space",))
    line = row.to_json()                     # the JSONL row: {"id", "labels", "status", ...}
    ResultRow.from_json(line) == row

    folder = RunFolder.of(Path("outputs/2026-12-02/10-00-00"))   # a run folder or a results file
    folder.results, folder.record, folder.metrics_file, folder.report_file
    for row in folder.rows(): ...            # streamed; a repeated id is an InputError

Every reader of results (evaluate, compare, calibrate, reproduce, the exports, the
report) goes through these two, so the file names and the row's fields are
written in this one module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.errors import InputError
from framework.records import Prediction, Usage
from framework.run_record import RECORD_FILE, RunRecord, load_record

__all__ = [
    "CHART_FILE",
    "METRICS_FILE",
    "RECORD_FILE",
    "REPORT_FILE",
    "REPORT_HTML_FILE",
    "RESULTS_FILE",
    "REVIEW_FILE",
    "ResultRow",
    "RunFolder",
    "id_digest",
    "load_record",
    "read_result_rows",
    "usage_json",
]

RESULTS_FILE = "results.jsonl"
METRICS_FILE = "metrics.json"
REPORT_FILE = "report.md"
REPORT_HTML_FILE = "report.html"
CHART_FILE = "per_label_f1.png"
REVIEW_FILE = "review.jsonl"

# Fields a row holds only when they say something (a row stays short).
_OPTIONAL = (
    "error",
    "error_kind",
    "raw",
    "repairs",
    "issues",
    "truncated_from",
    "request_hash",
    "cache_hits",
    "confidence",
    "confidence_method",
    "review",
    "chunks",
    "gold",
    "taxonomy",
    "taxonomy_hash",
)


@dataclass(frozen=True)
class ResultRow:
    """One line of a results file. `extra` keeps fields this version does not know."""

    id: str
    labels: tuple[str, ...]
    status: str = "ok"
    attempts: int = 0
    usage: Usage = field(default_factory=Usage)
    cost: float | None = 0.0
    error: str | None = None
    error_kind: str | None = None
    raw: str | None = None
    repairs: tuple[str, ...] = ()
    issues: tuple[str, ...] = ()
    truncated_from: int | None = None
    request_hash: str | None = None
    cache_hits: int = 0
    confidence: dict[str, float] | None = None
    confidence_method: str | None = None
    review: bool = False
    chunks: int | None = None
    gold: tuple[str, ...] | None = None
    taxonomy: str | None = None
    taxonomy_hash: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def predicted(self) -> tuple[str, ...]:
        """The labels as scored: a failed row predicts nothing."""
        return self.labels if self.ok else ()

    @classmethod
    def from_prediction(
        cls, prediction: Prediction, *, gold: Sequence[str] | None = None
    ) -> ResultRow:
        p = prediction
        return cls(
            p.id,
            p.labels,
            p.status,
            p.attempts,
            p.usage,
            p.cost,
            p.error,
            p.error_kind,
            p.raw,
            p.repairs,
            p.issues,
            p.truncated_from,
            p.request_hash,
            p.cache_hits,
            p.confidence,
            p.confidence_method if p.confidence is not None else None,
            p.review,
            p.chunks,
            tuple(gold) if gold is not None else None,
            extra=dict(p.extra),
        )

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "id": self.id,
            "labels": list(self.labels),
            "status": self.status,
            "attempts": self.attempts,
            "usage": usage_json(self.usage),
            "cost": self.cost,
        }
        for name in _OPTIONAL:
            value = getattr(self, name)
            empty = value == () and name != "gold"  # an empty gold set is a gold set
            if value is None or value is False or empty or (name == "cache_hits" and not value):
                continue
            row[name] = list(value) if isinstance(value, tuple) else value
        if self.confidence is not None:
            row["confidence_method"] = self.confidence_method
        row.update(self.extra)
        return row

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResultRow:
        """A row as written by any labelwise version; unknown fields go to `extra`."""
        usage = data.get("usage") or {}
        gold = data.get("gold")
        known = {"id", "labels", "status", "attempts", "usage", "cost", *_OPTIONAL}
        return cls(
            id=str(data["id"]),
            labels=tuple(data.get("labels") or ()),
            status=str(data.get("status", "ok")),
            attempts=int(data.get("attempts") or 0),
            usage=Usage(
                int(usage.get("prompt_tokens") or 0),
                int(usage.get("completion_tokens") or 0),
                int(usage.get("cached_tokens") or 0),
                int(usage.get("cache_write_tokens") or 0),
            ),
            cost=data.get("cost"),
            error=data.get("error"),
            error_kind=data.get("error_kind"),
            raw=data.get("raw"),
            repairs=tuple(data.get("repairs") or ()),
            issues=tuple(data.get("issues") or ()),
            truncated_from=data.get("truncated_from"),
            request_hash=data.get("request_hash"),
            cache_hits=int(data.get("cache_hits") or 0),
            confidence=data.get("confidence"),
            confidence_method=data.get("confidence_method"),
            review=bool(data.get("review")),
            chunks=data.get("chunks"),
            gold=tuple(gold) if gold is not None else None,
            taxonomy=data.get("taxonomy"),
            taxonomy_hash=data.get("taxonomy_hash"),
            extra={k: v for k, v in data.items() if k not in known},
        )


def read_result_rows(path: Path) -> Iterator[ResultRow]:
    """The rows of a JSONL results file, streamed (a torn last line is left out).

    An id that appears twice is an InputError: scored twice, it would weigh double.
    """
    seen: set[int] = set()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n") or not raw.strip():
                continue
            try:
                data = json.loads(raw)
                row = ResultRow.from_json(data) if isinstance(data, dict) else None
            except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError):
                row = None
            if row is None:
                raise InputError(f"{path} line {number} is not a labelwise result row")
            digest = id_digest(row.id)
            if digest in seen:
                raise InputError(
                    f"{path} line {number}: id {row.id!r} appears more than once (first at "
                    f"line {_first_line_of(path, digest)}); a results file holds each id once, "
                    "so it would be scored twice: remove the repeated rows, or classify into a "
                    "new output="
                )
            seen.add(digest)
            yield row


def id_digest(row_id: str) -> int:
    """A 64-bit digest of an id: sets of these keep a million ids in a few dozen MB.
    (surrogatepass: an id holding a lone surrogate still has a digest, so its failed
    row is found again on resume.)"""
    import hashlib

    data = row_id.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def _first_line_of(path: Path, digest: int) -> int | None:
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                if id_digest(str(json.loads(raw)["id"])) == digest:
                    return number
            except (ValueError, KeyError, TypeError):
                continue
    return None


@dataclass(frozen=True)
class RunFolder:
    """Where a run's files are: given a run folder, or a results file (its folder is then
    the results' folder). `record` is record.json, when there is one."""

    path: Path
    results: Path
    record: RunRecord | None

    @classmethod
    def of(cls, target: Path) -> RunFolder:
        if not target.exists():
            raise InputError(f"{target} does not exist; give a results file or a run folder")
        folder = target if target.is_dir() else target.parent
        record = load_record(folder)
        results = target
        if target.is_dir():
            recorded = Path(record.results) if record and record.results else None
            results = recorded if recorded and recorded.exists() else target / RESULTS_FILE
        if results.suffix.lower() in (".csv", ".parquet"):
            results = results.with_name(results.name + ".jsonl")  # the journal beside it
        if not results.is_file():
            raise InputError(f"no results file {results}; give the results JSONL or its run folder")
        return cls(folder, results, record)

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def report_file(self) -> Path:
        return self.path / REPORT_FILE

    def rows(self) -> Iterator[ResultRow]:
        return read_result_rows(self.results)

    def metrics(self) -> dict[str, Any] | None:
        """metrics.json, read, or None when the run has none (its input had no gold)."""
        if not self.metrics_file.is_file():
            return None
        data = json.loads(self.metrics_file.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else None


def usage_json(usage: Usage) -> dict[str, int]:
    """A row's usage as written: the prompt-cache counts only where the provider reported
    any (rows without them read as they always did)."""
    data = {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens}
    if usage.cached_tokens:
        data["cached_tokens"] = usage.cached_tokens
    if usage.cache_write_tokens:
        data["cache_write_tokens"] = usage.cache_write_tokens
    return data
