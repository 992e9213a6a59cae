"""batch_jobs.json beside a batch run's results: written by the run (Manifest: the jobs
it touched, as last recorded), read back by `labelwise batch status|cancel RUN_DIR`
(open_manifest: what in it is trusted).

    Manifest(manifest_path(journal), store, endpoint, config).add(jobs)
    jobs = open_manifest(path, api_base=args.api_base, key_env=args.key_env)
    jobs.provider, jobs.model, jobs.store, jobs.names

A run folder can come from anyone (a colleague's, an archive's), so its manifest is data
about jobs, never a say over where the user's key goes or which files are made:

- the key is read from the provider's usual variable (api_key_env in its
  conf/provider/<kind>.yaml) or from the one the user names with --key-env; a manifest
  naming another variable is refused, with what to pass if it is the user's own;
- the key goes to the provider's usual address, to the one the user confirms with
  --api-base, or to the one this user's own job store (the default cache, which only the
  user's runs write) recorded for these very jobs; any other address is refused;
- the job store is opened only if it is there and is one (JobStore.existing): nothing
  is created where the manifest points.

So `labelwise batch status RUN_DIR` on one's own run needs no flag when it used the
default cache, or the provider's usual address; otherwise --api-base says it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from framework.config.schema import ModelConfig, ProviderConfig, RunConfig
from framework.errors import ConfigError, InputError
from framework.providers.batch.apis import endpoint_of
from framework.providers.batch.jobs import BatchJob, JobStore
from framework.providers.profiles import PROFILES
from framework.resources import cache_dir, conf_dir
from framework.secrets import redact_url

__all__ = [
    "MANIFEST_FILE",
    "Manifest",
    "ManifestJobs",
    "manifest_path",
    "open_manifest",
    "usual_key_env",
]

MANIFEST_FILE = "batch_jobs.json"


def manifest_path(journal: Path) -> Path:
    """Where a batch run writes its manifest: beside its results."""
    return journal.parent / MANIFEST_FILE


@dataclass(frozen=True)
class ManifestJobs:
    """The jobs a manifest names, and how to reach them, as far as they are trusted."""

    provider: ProviderConfig
    model: ModelConfig
    store: JobStore
    names: list[str]


def open_manifest(path: Path, *, api_base: str | None, key_env: str | None) -> ManifestJobs:
    """The manifest at `path`, checked: ConfigError (exit 2, one line saying what to
    pass) where it would send the key elsewhere than the user said, InputError where it
    is not a manifest or its job store is not there."""
    data = _read(path)
    given = data["provider"]
    try:
        fields = {k: v for k, v in given.items() if k not in ("api_key", "api_key_env", "local")}
        provider = ProviderConfig.model_validate(fields)
        model = ModelConfig.model_validate(data["model"])
        names = [str(job["name"]) for job in data.get("jobs", [])]
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{path} is not a batch manifest labelwise wrote ({error})") from None
    env = _key_env(path, provider.kind, given.get("api_key_env"), key_env)
    provider = provider.model_copy(update={"api_key_env": env})
    try:
        store = JobStore.existing(Path(str(data["cache"])))
    except InputError as error:
        raise InputError(
            f"{path}: its job store {error} (labelwise batch reads the cache of the run, "
            "and never makes one)"
        ) from None
    try:
        _check_address(path, provider, store, names, api_base)
    except ConfigError:
        store.close()
        raise
    return ManifestJobs(provider, model, store, names)


def usual_key_env(kind: str) -> str | None:
    """The variable a provider's key is read from unless the user says otherwise: the
    api_key_env of its bundled conf/provider/<kind>.yaml (None: it takes no key)."""
    import yaml

    found = conf_dir() / "provider" / f"{kind}.yaml"
    data = yaml.safe_load(found.read_text(encoding="utf-8")) if found.is_file() else None
    value = data.get("api_key_env") if isinstance(data, dict) else None
    return str(value) if value else None


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise InputError(f"{path} cannot be read as a batch manifest ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("provider"), dict):
        raise InputError(f"{path} is not a batch manifest labelwise wrote (no provider)")
    if not isinstance(data.get("cache"), str):
        raise InputError(f"{path} is not a batch manifest labelwise wrote (no cache)")
    return data


def _key_env(path: Path, kind: str, named: object, given: str | None) -> str | None:
    """The variable the key is read from: the user's --key-env, else the usual one."""
    usual = usual_key_env(kind)
    if given:
        return given
    if named in (None, "", usual):
        return usual
    raise ConfigError(
        f"{path} reads the key from ${named}, not from provider {kind}'s usual "
        f"{'$' + usual if usual else 'none'}; if that variable holds your key for these jobs, "
        f"pass --key-env {named}"
    )


def _check_address(
    path: Path, provider: ProviderConfig, store: JobStore, names: list[str], given: str | None
) -> None:
    """ConfigError unless the key's destination is the usual one, the user's, or the one
    this user's own job store recorded for these jobs."""
    usual = (PROFILES[provider.kind].default_api_base or "").rstrip("/")
    base = (provider.api_base or usual).rstrip("/")
    if given is not None:
        if given.rstrip("/") != base:
            said = redact_url(base) if base else f"provider {provider.kind}'s usual address"
            raise ConfigError(
                f"--api-base {redact_url(given)}: {path} says its jobs were sent to {said}, "
                "and they are looked at only there"
            )
        return
    if base == usual:
        return
    if _own_store(store) and _recorded_there(provider, store, names):
        return
    raise ConfigError(
        f"{path} would send your key to {redact_url(base)}, which is not provider "
        f"{provider.kind}'s usual address nor recorded for these jobs in your own cache; "
        f"if you ran them there, pass --api-base {redact_url(base)}"
    )


def _own_store(store: JobStore) -> bool:
    """The job store is this user's default cache (ResponseCache's default path), which
    only the user's own runs write."""
    own = cache_dir() / "responses.sqlite"
    return own.is_file() and store.path.resolve() == own.resolve()


def _recorded_there(provider: ProviderConfig, store: JobStore, names: list[str]) -> bool:
    """Every job of the manifest the store holds went to this provider and address."""
    found = [job for name in names if (job := store.job(name)) is not None]
    return bool(found) and all(job.endpoint == endpoint_of(provider) for job in found)


class Manifest:
    """batch_jobs.json beside the results: the jobs this run touched, as last recorded."""

    def __init__(self, path: Path, store: JobStore, endpoint: str, config: RunConfig) -> None:
        self.path, self.store = path, store
        # What `labelwise batch status` needs to reach the provider (no key: it is read
        # from the environment, as by the run).
        self.head = {
            "cache": str(store.path),
            "provider": config.provider.model_dump(mode="json", exclude={"api_key", "local"}),
            "model": config.model.model_dump(
                mode="json",
                include={"name", "max_tokens", "input_cost_per_mtok", "output_cost_per_mtok"},
            ),
        }
        # The jobs of earlier runs still in flight are this run's too: it waits for them.
        self.names = [job.name for job in store.jobs(endpoint=endpoint, active=True)]

    def add(self, jobs: Iterable[BatchJob]) -> None:
        for job in jobs:
            if job.name not in self.names:
                self.names.append(job.name)
        self.write()

    def write(self) -> None:
        if not self.names:
            return
        jobs = [found.to_json() for name in self.names if (found := self.store.job(name))]
        data = {**self.head, "jobs": jobs}
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        temporary.replace(self.path)
