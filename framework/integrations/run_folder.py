"""What a tracker logs of a run, read from its folder and config: params, metrics, files.

    logged = logged_run(run_dir, config)   # config None: the config record.json holds
    logged.params    {"model.name": "gpt-4o-mini", "run.concurrency": "4", ...}
    logged.metrics   {"macro.f1": 0.61, "per_label.space.f1": 0.8, "run.ok": 20, ...}
    logged.files     report.html, record.json, metrics.json, report.md (those that exist)
    logged.texts     {"taxonomy.yaml": ...}
    logged.status    FINISHED, FAILED or KILLED (record.json's status)

Params are the resolved config flattened to dotted keys (the taxonomy's labels as one list:
the taxonomy itself is a file of the run), every secret masked. Metrics are metrics.json's
numbers (per-label figures by label) and the totals record.json holds, under `run.`.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from framework.run_record import RECORD_FILE, load_record
from framework.secrets import redact_tree, redact_url, scrub

if TYPE_CHECKING:
    from framework.config.schema import RunConfig

__all__ = ["LoggedRun", "flatten", "logged_run", "metric_key"]

FILES = ("report.html", RECORD_FILE, "metrics.json", "report.md")
_STATUS = {"finished": "FINISHED", "interrupted": "KILLED"}
_NOT_A_KEY = re.compile(r"[^A-Za-z0-9_\-. /:]")


@dataclass
class LoggedRun:
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "FAILED"


def logged_run(run_dir: Path, config: RunConfig | None = None) -> LoggedRun:
    """What to log of the run in `run_dir` (its config from record.json when not given)."""
    record = load_record(run_dir)
    tree: dict[str, Any] = {}
    if config is not None:
        tree = config.model_dump(mode="json")
    elif record is not None:
        tree = dict(record.config)
    tree = redact_tree(tree)
    logged = LoggedRun(status=_STATUS.get(record.status, "FAILED") if record else "FAILED")
    taxonomy = tree.pop("taxonomy", None)
    if isinstance(taxonomy, dict):
        logged.texts["taxonomy.yaml"] = yaml.safe_dump(taxonomy, sort_keys=False)
        labels = taxonomy.pop("labels", None)
        if isinstance(labels, list):
            taxonomy["labels"] = [
                label.get("id") or label.get("name") if isinstance(label, dict) else label
                for label in labels
            ]
        tree["taxonomy"] = taxonomy
    logged.params = {key: _param(key, value) for key, value in flatten(tree).items()}
    if record is not None:
        logged.metrics.update(_numbers(record.totals or {}, "run"))
        logged.tags = {
            "labelwise.run_dir": str(run_dir.resolve()),
            "labelwise.status": record.status,
            "labelwise.taxonomy": f"{record.taxonomy.name}@{record.taxonomy.version}",
            "labelwise.model": str(record.model.name),
            **({"labelwise.error": scrub(record.error)[:500]} if record.error else {}),
        }
    metrics_file = run_dir / "metrics.json"
    if metrics_file.is_file():
        try:
            scores = json.loads(metrics_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            scores = {}
        logged.metrics.update(_numbers(scores, ""))
    logged.files = [str(run_dir / name) for name in FILES if (run_dir / name).is_file()]
    return logged


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted keys for the leaves of a nested mapping (lists are leaves)."""
    found: dict[str, Any] = {}
    if isinstance(tree, Mapping) and tree:
        for key, value in tree.items():
            found.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif prefix:
        found[prefix] = tree
    return found


def metric_key(key: str) -> str:
    """A key MLflow takes: letters, digits and _-. /: (a label's other characters become _)."""
    return _NOT_A_KEY.sub("_", key)[:250]


def _param(key: str, value: Any) -> str:
    if isinstance(value, str):
        text = redact_url(value) if key.endswith("api_base") else value
    else:
        text = json.dumps(value, ensure_ascii=False)
    return scrub(text)


def _numbers(tree: Any, prefix: str) -> dict[str, float]:
    """The numeric leaves of metrics.json or the totals; lists of per-label records
    ({"label": ..., "f1": ...}) by label, other lists left out."""
    found: dict[str, float] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, int | float):  # bool included: 1.0 or 0.0
            found[metric_key(path)] = float(node)
        elif isinstance(node, Mapping):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else str(key))
        elif isinstance(node, list):
            for entry in node:
                if isinstance(entry, Mapping) and isinstance(entry.get("label"), str):
                    rest = {k: v for k, v in entry.items() if k != "label"}
                    walk(rest, f"{path}.{entry['label']}")

    walk(tree, prefix)
    return {key: value for key, value in found.items() if math.isfinite(value)}
