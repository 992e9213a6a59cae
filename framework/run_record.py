"""record.json, typed: what a run folder says of the run that made it.

    record = load_record(run_dir)          # a RunRecord, or None when there is none
    record.taxonomy.labels, record.results, record.totals_of("calls")
    write_record(run_dir, record)          # atomically, every secret scrubbed

Written by the run (framework.runner.recorder) when it starts ("running") and when it
ends ("finished", "failed", "interrupted"); read by evaluate, compare, reproduce,
calibrate, tune, review and `batch status`. A record may come from another machine or
an older labelwise, so reading it is checked: a part this version needs and cannot read
is an InputError naming the file; a key it does not know is kept as it is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from framework.errors import InputError
from framework.secrets import scrub

__all__ = ["RECORD_FILE", "RunRecord", "load_record", "merge_sections", "write_record"]

RECORD_FILE = "record.json"


class _Part(BaseModel):
    """A part of the record: known keys typed, unknown ones kept."""

    model_config = ConfigDict(extra="allow")


class TaxonomyPart(_Part):
    name: str | None = None
    version: str | None = None
    hash: str | None = None
    labels: list[str] = []
    none_label: str | None = None
    lineage: dict[str, str] = {}
    label_keys: dict[str, Any] | None = None


class ModelPart(_Part):
    name: str | None = None
    provider: str | None = None
    api_base: str | None = None


class InputPart(_Part):
    path: str | None = None
    given: str | None = None
    sha256: str | None = None


class RunRecord(_Part):
    """One run's record.json (format 1)."""

    format: int = 1
    status: str = "running"
    started_at: str | None = None
    finished_at: str | None = None
    run_dir: str | None = None
    overrides: list[str] = []
    config: dict[str, Any] = {}
    prompt: dict[str, Any] = {}
    taxonomy: TaxonomyPart = TaxonomyPart()
    model: ModelPart = ModelPart()
    output_mode: dict[str, Any] = {}
    transport: dict[str, Any] = {}
    sampling: dict[str, Any] = {}
    sample: dict[str, Any] = {}
    versions: dict[str, str | None] = {}
    source: dict[str, Any] | None = None
    input: InputPart = InputPart()
    trained: dict[str, Any] | None = None
    examples: dict[str, Any] | None = None
    embeddings: dict[str, Any] | None = None
    results: str | None = None
    totals: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    executor: dict[str, Any] = {}
    resumed_from: dict[str, Any] | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    def to_json(self) -> dict[str, Any]:
        """The record as record.json holds it (every key, nulls included)."""
        return self.model_dump(mode="json")


def load_record(folder: Path) -> RunRecord | None:
    """A run folder's record.json, or None when it has none."""
    path = folder / RECORD_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        raise InputError(f"{path} is not a readable run record: {error}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path} is not a run record (not a JSON object)")
    try:
        return RunRecord.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InputError(f"{path} is not a run record ({where}: {first['msg']})") from None


def write_record(run_dir: Path, record: RunRecord) -> Path:
    """Write record.json atomically: a reader never sees half a record."""
    path = run_dir / RECORD_FILE
    run_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(RECORD_FILE + ".partial")
    text = scrub(json.dumps(record.to_json(), indent=2, ensure_ascii=False) + "\n")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


def merge_sections(into: dict[str, Any], sections: dict[str, Any]) -> None:
    """Merge record sections key by key: {"trained": {"cascade": ...}} fills in the
    trained section another part wrote, without replacing it."""
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge_sections(into[key], value)
        else:
            into[key] = value
