"""`labelwise batch status RUN_DIR`; `labelwise batch cancel RUN_DIR`.

What in the run folder's batch_jobs.json is trusted (where the key goes, which variable
it is read from, which job store is opened): framework.providers.batch.manifest.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from framework.errors import ConfigError, InputError
from framework.providers.loop_clients import run_loop
from framework.results import RECORD_FILE
from framework.secrets import redact_url

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

A run folder is data, not instructions: the key is read from the provider's usual
variable (OPENAI_API_KEY, ...) and sent to the provider's usual address, or to the
address your own cache recorded for these jobs. A run whose jobs went elsewhere, or
whose key is in another variable, needs your word for it: --api-base URL, --key-env NAME.
"""


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    cancel = args.action == "cancel"
    return run_loop(_status(args.run_dir, cancel, api_base=args.api_base, key_env=args.key_env))


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="labelwise batch",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument("action", choices=["status", "cancel"])
    cli.add_argument("run_dir", metavar="RUN_DIR", help="the run's folder (or its batch_jobs.json)")
    cli.add_argument(
        "--api-base",
        metavar="URL",
        help="the provider's address the jobs were sent to (provider.api_base of the run), "
        "when it is not the provider's usual one nor recorded in your default cache",
    )
    cli.add_argument(
        "--key-env",
        metavar="NAME",
        help="the environment variable holding the key, when not the provider's usual one",
    )
    return cli


def find_manifest(given: Path) -> Path:
    """RUN_DIR/batch_jobs.json, or the one beside the results the run's record names."""
    from framework.providers.batch.manifest import MANIFEST_FILE

    if given.is_file() and given.name == MANIFEST_FILE:
        return given
    candidates = [given / MANIFEST_FILE]
    record = given / RECORD_FILE
    if record.is_file():
        try:
            results = json.loads(record.read_text(encoding="utf-8")).get("results")
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            results = None  # not a record labelwise wrote: only RUN_DIR itself is looked in
        if isinstance(results, str) and results:
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


async def _status(
    run_dir: str, cancel: bool, *, api_base: str | None = None, key_env: str | None = None
) -> int:
    from framework.providers.batch.apis import endpoint_of
    from framework.providers.batch.jobs import ACTIVE
    from framework.providers.batch.manifest import open_manifest
    from framework.providers.batch.providers import batch_api
    from framework.providers.batch.steps import drive_job

    path = find_manifest(Path(run_dir))
    found = open_manifest(path, api_base=api_base, key_env=key_env)
    store, names, endpoint = found.store, found.names, endpoint_of(found.provider)
    try:
        api = batch_api(found.provider, found.model)
        for name in names:
            job = store.job(name)
            if job is None:
                print(f"{name}: not in the batch record of {store.path} (another cache?)")
                continue
            if job.endpoint != endpoint:  # never looked for elsewhere than it was sent
                print(f"{name}: sent to {redact_url(job.endpoint)}, not looked at here")
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
