"""`labelwise reproduce RUN_DIR [--out DIR] [--allow-changed-input] [--dry-run]`."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.errors import ConfigError, InputError
from framework.results import ResultRow

if TYPE_CHECKING:
    from framework.run_record import RunRecord

__all__ = ["Comparison", "compare_rows", "run"]

DESCRIPTION = """\
Rerun a run from its record.json and check that it sends the same requests.

The config is the one the run was composed with (record.json "config"), not
today's conf/ files; secrets were never saved, so API keys come from the
environment again (${oc.env:...} references are resolved anew). The input is
the recorded file; if its sha256 changed since the run, the rerun is refused
(exit 2) unless --allow-changed-input is given.

Each row's request_hash (the content hash of the exact request: model,
messages, schema, sampling, endpoint) is compared with the original's, and so
are the labels. With the response cache on, identical requests are answered
from it and the rerun makes no calls.

The rerun is a run folder of its own (results.jsonl, record.json, metrics.json,
reproduce.json); by default RUN_DIR/reproduce/DATE_TIME.

--dry-run sends nothing and needs no cache: the engine compiles each row's
requests over a transport that only records them, and their hashes are compared
with the run's (labels are not compared). It answers "would a rerun today send
the same requests?" for a run whose cache is gone, at no cost.

exit status: 0 every original row was rerun with an identical request;
1 some request differs or some row is missing; 2 a missing or changed input,
or a record that cannot be read.
"""


@dataclass(frozen=True)
class Comparison:
    """How a rerun's rows match the original's, id by id."""

    original: int
    compared: int
    identical_requests: int
    identical_labels: int | None  # None: a dry run, which compares requests only
    cache_hits: int
    calls: int
    differing: tuple[str, ...]  # ids whose request differs (the first few)

    @property
    def identical(self) -> bool:
        return self.identical_requests == self.compared == self.original


def run(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from framework.results import RunFolder
    from framework.run_record import RECORD_FILE, load_record

    run_dir = Path(args.run_dir)
    record = load_record(run_dir) if run_dir.is_dir() else None
    if record is None:
        raise InputError(f"{run_dir} has no {RECORD_FILE}; give a run folder made by classify")
    folder = RunFolder.of(run_dir)
    source = check_input(record, allow_changed=args.allow_changed_input)
    out = (
        Path(args.out)
        if args.out
        else run_dir / "reproduce" / f"{datetime.now():%Y-%m-%d_%H-%M-%S}"
    )
    if args.dry_run:
        comparison = compare_rows(folder.rows(), requests_only(record, source), labels=False)
    else:
        output = rerun(record, source, out)
        comparison = compare_rows(folder.rows(), RunFolder.of(output).rows())
    out.mkdir(parents=True, exist_ok=True)
    (out / "reproduce.json").write_text(json.dumps(asdict(comparison), indent=2) + "\n")
    print(describe(comparison, run_dir, out))
    return 0 if comparison.identical else 1


def _parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="labelwise reproduce",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cli.add_argument("run_dir", metavar="RUN_DIR", help="a run folder holding record.json")
    cli.add_argument("--out", metavar="DIR", help="the rerun's folder (default: under RUN_DIR)")
    cli.add_argument(
        "--allow-changed-input",
        action="store_true",
        help="rerun even if the input file's sha256 changed since the run",
    )
    cli.add_argument(
        "--dry-run",
        action="store_true",
        help="send nothing: compare the requests a rerun would send with the run's",
    )
    return cli


def check_input(record: RunRecord, *, allow_changed: bool) -> Path:
    """The recorded input file, refused (ConfigError) if its content changed."""
    from framework.digests import file_sha256

    recorded = record.input
    path = Path(recorded.path or "")
    given = Path(recorded.given or "")
    if not path.is_file() and recorded.given and given.is_file():
        path = given  # the run folder moved (another clone): the input as it was named
    if not path.is_file():
        raise InputError(f"the run's input {path} is gone; restore it to reproduce the run")
    then, now = recorded.sha256, file_sha256(path)
    if then != now and not allow_changed:
        raise ConfigError(
            f"input {path} changed since the run (sha256 {str(then)[:12]}... then, "
            f"{now[:12]}... now); pass --allow-changed-input to rerun on the new content"
        )
    return path


def recorded_config(record: RunRecord, source: Path, output: Path) -> tuple[Any, Any]:
    """The run's composed config (the DictConfig and the RunConfig), on this input and output."""
    from omegaconf import OmegaConf

    from framework.config.load import load_run_config
    from framework.secrets import REDACTED

    cfg = OmegaConf.create(dict(record.config))
    if OmegaConf.select(cfg, "provider.api_key") == REDACTED:
        cfg.provider.api_key = None  # it comes from the environment again
    cfg.input, cfg.output = str(source), str(output)
    return cfg, load_run_config(cfg)


def rerun(record: RunRecord, source: Path, out: Path) -> Path:
    """Classify again with the recorded config into `out`; the results file."""
    from framework.evaluation.job import run_job
    from framework.results import RESULTS_FILE

    cfg, _ = recorded_config(record, source, out / RESULTS_FILE)
    outcome = run_job(
        cfg,
        run_dir=out,
        overrides=list(record.overrides),
        progress=False,
        describe={"reproduces": record.run_dir},
    )
    return outcome.output


def requests_only(record: RunRecord, source: Path) -> Iterator[ResultRow]:
    """Each input row with the hash of the first request a rerun would send; nothing sent."""
    from framework.engine.classifier import Classifier
    from framework.inputs.readers import read_rows
    from framework.inputs.sampling import sample_rows
    from framework.learning.prepare import prepare_run

    _, config = recorded_config(record, source, Path(os.devnull))
    prepare_run(config)
    rows: Iterable[Any] = read_rows(source, config.columns)
    if config.sample.size is not None:
        rows = sample_rows(rows, config.sample.size, config.sample.seed)
    with Classifier(config) as classifier:
        for row in rows:
            requests = classifier.requests_for(row.item.text) if row.item is not None else []
            yield ResultRow(row.id, (), request_hash=requests[0].key if requests else None)


def compare_rows(
    original: Iterable[ResultRow], rerun: Iterable[ResultRow], *, labels: bool = True
) -> Comparison:
    """Match rows by id: equal request_hash means an equal request (both None: no request)."""
    before = {r.id: (r.request_hash, sorted(r.labels), r.status) for r in original}
    compared = same_request = same_labels = hits = calls = 0
    differing: list[str] = []
    for row in rerun:
        hits += row.cache_hits
        calls += row.attempts
        then = before.get(row.id)
        if then is None:
            continue
        compared += 1
        if row.request_hash == then[0]:
            same_request += 1
        elif len(differing) < 5:
            differing.append(row.id)
        same_labels += labels and (sorted(row.labels), row.status) == then[1:]
    return Comparison(
        len(before),
        compared,
        same_request,
        same_labels if labels else None,
        hits,
        calls,
        tuple(differing),
    )


def describe(comparison: Comparison, run_dir: Path, out: Path) -> str:
    c = comparison
    lines = [
        f"reproduced {run_dir} in {out}",
        f"  rows compared       {c.compared} of {c.original}",
        f"  identical requests  {c.identical_requests}",
        "  identical labels    "
        + ("(not compared: a dry run)" if c.identical_labels is None else str(c.identical_labels)),
        f"  calls made          {c.calls} (answers from the cache: {c.cache_hits})",
    ]
    if c.differing:
        lines.append(f"  requests differ for ids: {', '.join(c.differing)}")
    if c.compared < c.original:
        lines.append(f"  {c.original - c.compared} original rows were not rerun")
    lines.append("identical requests" if c.identical else "NOT identical")
    return "\n".join(lines)
