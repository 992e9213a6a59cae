"""Writing the run record: record.json in every run folder (framework.run_record: the
typed record), enough to rerun the run and trust it.

    with RunRecorder(cfg, classifier, run_dir=..., output=..., overrides=...) as recorder:
        totals = ...                     # record.json says "running" meanwhile
        recorder.finish(totals, metrics)  # "finished"; an exception leaves "failed"/"interrupted"

It holds the config as composed, before interpolation (so `${oc.env:KEY}`
stays a reference, never a value) with every secret replaced by "***"; what
identifies the prompt, taxonomy, model and output mode; the versions of the
packages and of labelwise's own source; the input's sha256; the totals.

Hydra saves command-line overrides in clear text in .hydra/ (a key given as
`provider.api_key=sk-...` included): framework.secrets.scrub_secrets rewrites them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from framework.digests import file_sha256
from framework.inputs.readers import is_uri
from framework.labels.taxonomy import label_ids, taxonomy_hash
from framework.run_record import RunRecord, merge_sections, write_record
from framework.secrets import redact_overrides, redact_tree, redact_url

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier
    from framework.runner.totals import RunTotals

__all__ = ["RunRecorder", "describe_run", "package_versions", "source_version"]

PACKAGES = (
    "labelwise",
    "litellm",
    "hydra-core",
    "omegaconf",
    "jinja2",
    "jsonschema",
    "scikit-learn",
)
_SOURCE_ROOT = Path(__file__).resolve().parents[2]


def source_version(root: Path = _SOURCE_ROOT) -> dict[str, Any] | None:
    """The git commit of labelwise's source and whether it has changes; None if not a checkout."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args],
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    top = git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != root.resolve():
        return None
    changes = git("status", "--porcelain", "--", "framework", "conf", "prompts", "pyproject.toml")
    return {"commit": git("rev-parse", "HEAD"), "dirty": bool(changes)}


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def describe_run(
    cfg: DictConfig,
    classifier: Classifier,
    *,
    run_dir: Path,
    output: Path,
    overrides: Sequence[str],
) -> RunRecord:
    """The record of a run about to start (status "running")."""
    config, plain = classifier.config, OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(plain, dict)
    plain.pop("hydra", None)
    source, taxonomy, model = Path(config.input or ""), config.taxonomy, config.model
    asks = classifier.describe()  # prompt, label keys, output mode, transport
    data = {
        "format": 1,
        "status": "running",
        "started_at": _now(),
        "finished_at": None,
        "run_dir": str(run_dir.resolve()),
        "overrides": redact_overrides(overrides),
        "config": redact_tree(plain),
        "prompt": asks.pop("prompt"),
        "taxonomy": {
            "name": taxonomy.name,
            "version": taxonomy.version,
            "hash": taxonomy_hash(taxonomy),
            "labels": list(label_ids(taxonomy)),
            "none_label": taxonomy.none_label,
            "lineage": taxonomy.lineage,
            "label_keys": asks.pop("label_keys"),
        },
        "model": {
            "name": model.name,
            "provider": config.provider.kind,
            "api_base": redact_url(config.provider.api_base or "") or None,
        },
        "output_mode": asks.pop("output_mode"),
        "transport": asks.pop("transport"),
        "sampling": model.model_dump(include={"temperature", "max_tokens", "seed"}),
        "sample": config.sample.model_dump(),
        "versions": package_versions(),
        "source": source_version(),
        "input": {
            "path": config.input if is_uri(config.input or "") else str(source.resolve()),
            "given": config.input,
            "sha256": file_sha256(source) if source.is_file() else None,
        },
        **classifier.sections(),  # the components': trained, examples, embeddings
        "results": str(output.resolve()),
        "totals": None,
        "metrics": None,
    }
    return RunRecord.model_validate(data)


def _totals(totals: RunTotals) -> dict[str, Any]:
    data = dataclasses.asdict(totals)
    data.pop("warnings", None)
    data.pop("resumed_from", None)
    data.pop("record", None)  # the driver's sections, merged into the record itself
    data.pop("notes", None)
    data.pop("committed_cost", None)  # batch jobs' cost bound, for budgets while collecting
    data.pop("committed_tokens", None)
    if not totals.cost_by_path:  # a run without paths keeps the record it had
        data.pop("cost_by_path", None)
    if not totals.by_tier:
        data.pop("by_tier", None)
    data["done"] = totals.done
    data["total_tokens"] = totals.usage.total_tokens
    data["rows_per_s"] = round(totals.done / totals.elapsed, 3) if totals.elapsed > 0 else None
    data["warnings"] = len(totals.warnings)
    return data


class RunRecorder:
    """Writes record.json when entered, and again with the outcome when left."""

    def __init__(
        self,
        cfg: DictConfig,
        classifier: Classifier,
        *,
        run_dir: Path,
        output: Path,
        overrides: Sequence[str] = (),
    ) -> None:
        self.run_dir = run_dir
        self._classifier = classifier
        self.record = describe_run(
            cfg, classifier, run_dir=run_dir, output=output, overrides=overrides
        )

    def finish(self, totals: RunTotals, metrics: Mapping[str, Any] | None = None) -> None:
        """Record the totals and, when the run was scored, a summary of its metrics."""
        data = self.record.to_json()
        data["totals"] = _totals(totals)
        # The components' sections again (their counters: an embedder's calls), then what
        # the driver adds: where the rows ran, a distillation's fits.
        merge_sections(data, self._classifier.sections())
        data["executor"] = {}
        merge_sections(data, totals.record)
        if totals.resumed_from is not None:
            data["resumed_from"] = dataclasses.asdict(totals.resumed_from)
        if metrics is not None:
            data["metrics"] = dict(metrics)
        data["status"] = "finished"
        self.record = RunRecord.model_validate(data)

    def __enter__(self) -> RunRecorder:
        write_record(self.run_dir, self.record)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        if kind is not None:
            interrupted = issubclass(kind, KeyboardInterrupt | SystemExit | asyncio.CancelledError)
            self.record.status = "interrupted" if interrupted else "failed"
            self.record.error = f"{kind.__name__}: {error}"
        elif self.record.status == "running":
            self.record.status = "failed"
            self.record.error = "the run ended without reporting its totals"
        self.record.finished_at = _now()
        write_record(self.run_dir, self.record)
