"""`labelwise batch status RUN_DIR`; `labelwise batch cancel RUN_DIR`."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.errors import ConfigError, InputError
from framework.results import RECORD_FILE

if TYPE_CHECKING:
    from framework.providers.batch.apis import BatchApi
    from framework.providers.batch.jobs import BatchJob, JobStore

__all__ = ["run"]

DESCRIPTION = """\
The provider batch jobs of a run.mode=batch run, from the batch_jobs.json it keeps
beside its results.

  labelwise batch status outputs/DATE/TIME    each job: its state here and at the
                                              provider, requests answered and failed
  labelwise batch cancel outputs/DATE/TIME    cancel the jobs still running; what they
                                              answered is kept, the rest is sent again
                                              by the next run of the same command

A job's states: written (its file is on disk), uploaded, submitted (the provider
runs it), ended, read (its answers are in the response cache).
"""


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    return asyncio.run(_status(args.run_dir, cancel=args.action == "cancel"))


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="labelwise batch",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument("action", choices=["status", "cancel"])
    cli.add_argument("run_dir", metavar="RUN_DIR", help="the run's folder (or its batch_jobs.json)")
    return cli


def find_manifest(given: Path) -> Path:
    """RUN_DIR/batch_jobs.json, or the one beside the results the run's record names."""
    from framework.runner.batch_run import MANIFEST_FILE

    if given.is_file() and given.name == MANIFEST_FILE:
        return given
    candidates = [given / MANIFEST_FILE]
    record = given / RECORD_FILE
    if record.is_file():
        results = json.loads(record.read_text(encoding="utf-8")).get("results")
        if results:
            candidates.append(Path(results).parent / MANIFEST_FILE)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if not given.exists():
        raise InputError(f"{given} does not exist; give the folder of a run.mode=batch run")
    raise InputError(
        f"{given} has no {MANIFEST_FILE}: it is not the folder of a run.mode=batch run "
        "that made provider jobs"
    )


async def _status(run_dir: str, *, cancel: bool) -> int:
    from framework.config.schema import ModelConfig, ProviderConfig
    from framework.providers.batch.jobs import ACTIVE, JobStore
    from framework.providers.batch.providers import batch_api
    from framework.providers.batch.steps import drive_job

    path = find_manifest(Path(run_dir))
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    try:
        provider = ProviderConfig.model_validate(manifest["provider"])
        model = ModelConfig.model_validate(manifest["model"])
    except (KeyError, ValueError) as error:
        raise InputError(f"{path} is not a batch manifest labelwise wrote ({error})") from None
    api = batch_api(provider, model)
    store = JobStore(Path(manifest["cache"]))
    names = [job["name"] for job in manifest.get("jobs", [])]
    try:
        for name in names:
            job = store.job(name)
            if job is None:
                print(f"{name}: not in the batch record of {store.path} (another cache?)")
                continue
            if cancel and job.state in ACTIVE and job.state != "ended":
                job = await _cancel(api, store, job)
            if job.state in ("submitted", "ended"):
                job = await drive_job(api, store, job, lambda: None)
            print(_describe(job))
    finally:
        store.close()
    if not names:
        raise ConfigError(f"{path} names no jobs")
    return 0


async def _cancel(api: BatchApi, store: JobStore, job: BatchJob) -> BatchJob:
    """Cancel a job at the provider; one never submitted ends here, all of it unanswered."""
    if job.state == "submitted":
        await api.cancel(job)
        return store.update(job.name, status="cancelling")
    store.update(job.name, state="ended", status="cancelled before it was submitted")
    store.settle(job.name, [], [])
    return store.job(job.name) or job


def _describe(job: BatchJob) -> str:
    counts = ", ".join(f"{k} {v:,}" for k, v in (job.counts or {}).items())
    where = f" {job.batch_id}" if job.batch_id else ""
    status = f" ({job.status})" if job.status else ""
    failure = f"; the provider says: {job.errors}" if job.errors else ""
    return (
        f"{job.name}{where}: {job.state}{status}, {job.requests:,} requests"
        f"{'; ' + counts if counts else ''}{failure}"
    )
