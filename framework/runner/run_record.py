"""The run record: record.json in every run folder, enough to rerun the run and trust it.

    with RunRecorder(cfg, classifier, run_dir=..., output=..., overrides=...) as recorder:
        totals = ...                     # record.json says "running" meanwhile
        recorder.finish(totals, metrics)  # "finished"; an exception leaves "failed"/"interrupted"

It holds the config as composed, before interpolation (so `${oc.env:KEY}`
stays a reference, never a value) with every secret replaced by "***"; what
identifies the prompt, taxonomy, model and output mode; the versions of the
packages and of labelwise's own source; the input's sha256; the totals.

Hydra saves command-line overrides in clear text in .hydra/ (a key given as
`provider.api_key=sk-...` included): `scrub_secrets` rewrites those files.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, OmegaConf

from framework.digests import file_sha256
from framework.engine.classifier import merge_sections
from framework.inputs.readers import is_uri
from framework.labels.taxonomy import label_ids, taxonomy_hash
from framework.results import RECORD_FILE
from framework.secrets import REDACTED, redact_url, registered, scrub

if TYPE_CHECKING:
    from framework.engine.classifier import Classifier
    from framework.runner.totals import RunTotals

__all__ = [
    "REDACTED",
    "RunRecorder",
    "is_secret_override",
    "redact_overrides",
    "redact_tree",
    "scrub_secrets",
    "source_version",
]

SECRET_KEYS = frozenset({"api_key", "password", "secret", "token", "access_token"})
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


def _is_secret_key(key: object) -> bool:
    return str(key).lower() in SECRET_KEYS


def _is_reference(value: object) -> bool:
    """`${oc.env:KEY}` and other interpolations name a value without holding it."""
    return isinstance(value, str) and value.startswith("${") and value.endswith("}")


def redact_tree(tree: Any) -> Any:
    """A copy of a config tree with the value of every secret key replaced by "***"."""
    if isinstance(tree, dict):
        return {
            key: REDACTED
            if _is_secret_key(key) and value is not None and not _is_reference(value)
            else redact_tree(value)
            for key, value in tree.items()
        }
    if isinstance(tree, list):
        return [redact_tree(value) for value in tree]
    return tree


def redact_overrides(overrides: Iterable[str]) -> list[str]:
    """Command-line overrides with the value of every secret key replaced by "***"."""
    return [f"{o.partition('=')[0]}={REDACTED}" if _secret_override(o) else o for o in overrides]


def is_secret_override(override: str) -> bool:
    """`provider.api_key=sk-...` and the like (not `provider.api_key=${oc.env:K}`)."""
    return _secret_override(override)


def _secret_override(override: str) -> bool:
    key, equals, value = override.partition("=")
    leaf = key.lstrip("+~").rsplit(".", 1)[-1]
    return bool(equals) and _is_secret_key(leaf) and not _is_reference(value)


def _secret_values(cfg: DictConfig, overrides: Iterable[str]) -> set[str]:
    """Every secret in the config (raw and resolved) and in the overrides."""
    found = {o.partition("=")[2] for o in overrides if _secret_override(o)}

    def walk(node: Any, path: str) -> None:
        for key, value in node.items() if isinstance(node, dict) else ():
            dotted = f"{path}{key}"
            if _is_secret_key(key) and isinstance(value, str):
                found.add(value)
                try:
                    resolved = OmegaConf.select(cfg, dotted, throw_on_missing=False)
                except Exception:  # an unresolvable reference holds no value to hide
                    resolved = None
                if isinstance(resolved, str):
                    found.add(resolved)
            walk(value, dotted + ".")

    walk(OmegaConf.to_container(cfg, resolve=False), "")
    return {value for value in found if len(value) >= 4 and not _is_reference(value)}


def scrub_secrets(
    cfg: DictConfig, overrides: Sequence[str], run_dir: Path, sweep_dir: Path | None = None
) -> None:
    """Replace each secret of the config and overrides by "***" in the files Hydra saved:
    run_dir/.hydra/*.yaml and, in a multirun, sweep_dir/multirun.yaml."""
    secrets = _secret_values(cfg, overrides) | registered()
    forms = {form for s in secrets for form in (s, s.replace("'", "''"), json.dumps(s)[1:-1])}
    files = [*sorted((run_dir / ".hydra").glob("*.yaml"))]
    if sweep_dir is not None:
        files.append(sweep_dir / "multirun.yaml")
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        scrubbed = redact_url(text)
        for form in sorted(forms, key=len, reverse=True):
            scrubbed = scrubbed.replace(form, REDACTED)
        if scrubbed != text:
            path.write_text(scrubbed, encoding="utf-8")


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
) -> dict[str, Any]:
    """The record of a run about to start (status "running")."""
    config, plain = classifier.config, OmegaConf.to_container(cfg, resolve=False)
    assert isinstance(plain, dict)
    plain.pop("hydra", None)
    source, taxonomy, model = Path(config.input or ""), config.taxonomy, config.model
    asks = classifier.describe()  # prompt, label keys, output mode, transport, components
    return {
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


def _totals(totals: RunTotals) -> dict[str, Any]:
    data = dataclasses.asdict(totals)
    data.pop("warnings", None)
    data.pop("resumed_from", None)
    data.pop("record", None)  # the driver's sections, merged into the record itself
    data.pop("notes", None)
    data.pop("committed_cost", None)  # batch jobs' cost bound, for budgets while collecting
    data.pop("committed_tokens", None)
    data["done"] = totals.done
    data["total_tokens"] = totals.usage.total_tokens
    data["rows_per_s"] = round(totals.done / totals.elapsed, 3) if totals.elapsed > 0 else None
    data["warnings"] = len(totals.warnings)
    return data


def write_record(run_dir: Path, record: dict[str, Any]) -> Path:
    """Write record.json atomically: a reader never sees half a record."""
    path = run_dir / RECORD_FILE  # framework.results names the run folder's files
    run_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(RECORD_FILE + ".partial")
    text = scrub(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


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
        self.record["totals"] = _totals(totals)
        # The components' sections again (their counters: an embedder's calls), then what
        # the driver adds: where the rows ran, a distillation's fits.
        merge_sections(self.record, self._classifier.sections())
        self.record["executor"] = {}
        merge_sections(self.record, totals.record)
        if totals.resumed_from is not None:
            self.record["resumed_from"] = dataclasses.asdict(totals.resumed_from)
        if metrics is not None:
            self.record["metrics"] = dict(metrics)
        self.record["status"] = "finished"

    def __enter__(self) -> RunRecorder:
        write_record(self.run_dir, self.record)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        if kind is not None:
            interrupted = issubclass(kind, KeyboardInterrupt | SystemExit | asyncio.CancelledError)
            self.record["status"] = "interrupted" if interrupted else "failed"
            self.record["error"] = f"{kind.__name__}: {error}"
        elif self.record["status"] == "running":
            self.record["status"] = "failed"
            self.record["error"] = "the run ended without reporting its totals"
        self.record["finished_at"] = _now()
        write_record(self.run_dir, self.record)
