"""run.executor=ray on a real local Ray cluster (2 CPUs) against the stub: the same results
as a local run, every id once after a kill -9 of the driver, fatal errors and bad configs
said in one line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from framework.config.load import compose, load_run_config
from framework.runner.drivers.ray import actors_for, engine_share
from framework.testing import Reply, StubServer
from tests.support import REPO, classify_command, cli_env, read_jsonl, write_jsonl
from tests.support import run_cli as run_in_repo

pytest.importorskip("ray.data", reason="the Ray executor's tests need labelwise[ray]")

SCIENCE = Reply(content=json.dumps({"labels": ["science"]}))


def classify(
    source: Path | str, output: Path, stub: StubServer, run: Path, *extra: str
) -> list[str]:
    return classify_command(source, output, stub, run, "cache.mode=off", *extra)


def ray_env(**extra: str) -> dict[str, str]:
    """The CLI's environment without a Ray address the caller's shell may have set."""
    env = cli_env(RAY_USAGE_STATS_ENABLED="0", **extra)
    if "RAY_ADDRESS" not in extra:
        env.pop("RAY_ADDRESS", None)
    return env


def run_cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_in_repo(args, env or ray_env(), timeout=240)


def outcomes(path: Path) -> dict[str, tuple[str, tuple[str, ...], str | None]]:
    rows = read_jsonl(path)
    assert len(rows) == len({row["id"] for row in rows}), "an id written twice"
    return {row["id"]: (row["status"], tuple(row["labels"]), row.get("error_kind")) for row in rows}


@pytest.mark.slow
def test_a_ray_run_gives_the_results_of_a_local_run(tmp_path: Path) -> None:
    lines = [json.dumps({"id": f"r{k}", "text": f"story {k}"}) for k in range(40)]
    lines += [
        "this line is not JSON",
        json.dumps({"text": "a row without an id"}),  # named line:N, by both executors
        json.dumps({"id": "r3", "text": "the id r3 again"}),  # a repeat: skipped
        json.dumps({"id": "half", "text": "half an emoji \ud83d"}),  # failed with its reason
        json.dumps({"id": "sep", "text": "a line separator\u2028inside the text"}),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with StubServer(default=SCIENCE) as stub:
        local = run_cli(classify(source, tmp_path / "local.jsonl", stub, tmp_path / "l"))
        on_ray = run_cli(
            classify(source, tmp_path / "ray.jsonl", stub, tmp_path / "r", "run.executor=ray")
        )
    assert local.returncode == 0, local.stderr
    assert on_ray.returncode == 0, on_ray.stderr
    expected = outcomes(tmp_path / "local.jsonl")
    assert outcomes(tmp_path / "ray.jsonl") == expected
    assert expected["line:41"][0] == "failed" and expected["line:42"][0] == "ok"
    assert expected["half"] == ("failed", (), "unreadable")
    record = json.loads((tmp_path / "r" / "record.json").read_text())
    assert record["executor"]["name"] == "ray" and record["executor"]["actors"] == 1
    assert record["totals"]["duplicates"] == 1
    assert json.loads((tmp_path / "l" / "record.json").read_text())["executor"]["name"] == "local"


@pytest.mark.slow
def test_csv_and_parquet_inputs_keep_their_ids_and_gold(tmp_path: Path) -> None:
    csv_source = tmp_path / "in.csv"
    csv_source.write_text(
        'id,text,labels\n007,"a text, quoted",science\n8,another,science|health\n',
        encoding="utf-8",
    )
    parquet_source = tmp_path / "in.parquet"
    pq.write_table(
        pa.table({"id": ["p1", "p2"], "text": ["one", "two"], "labels": [["science"], None]}),
        parquet_source,
    )
    with StubServer(default=SCIENCE) as stub:
        for source in (csv_source, parquet_source):
            done = run_cli(
                classify(
                    source.as_uri() if source is parquet_source else source,  # an URI too
                    tmp_path / f"{source.suffix[1:]}.jsonl",
                    stub,
                    tmp_path / source.suffix[1:],
                    "run.executor=ray",
                    "run.ray.actors=1",
                )
            )
            assert done.returncode == 0, done.stderr
    csv_rows = {row["id"]: row for row in read_jsonl(tmp_path / "csv.jsonl")}
    assert set(csv_rows) == {"007", "8"}  # Ray's own CSV reader would have made 7 of 007
    assert csv_rows["8"]["gold"] == ["science", "health"]
    parquet_rows = {row["id"]: row for row in read_jsonl(tmp_path / "parquet.jsonl")}
    assert parquet_rows["p1"]["gold"] == ["science"] and "gold" not in parquet_rows["p2"]
    record = json.loads((tmp_path / "parquet" / "record.json").read_text())
    assert record["input"]["path"] == parquet_source.as_uri()


@pytest.mark.slow
def test_a_local_run_says_an_uri_is_for_the_ray_executor(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}])
    with StubServer(default=SCIENCE) as stub:
        done = run_cli(classify(source.as_uri(), tmp_path / "out.jsonl", stub, tmp_path / "r"))
    assert done.returncode == 2, done.stderr
    assert "run.executor=ray" in done.stderr and "Traceback" not in done.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def ray_cluster() -> Iterator[str]:
    """A Ray cluster of this machine, started as a team would start theirs: ray start."""
    ray = shutil.which("ray", path=str(Path(sys.executable).parent))
    assert ray is not None
    port = _free_port()
    # Its own folder, short: Ray's socket paths must fit in 107 bytes. A loopback cluster
    # of the test's own, without Ray's token authentication (a team's cluster keeps it).
    env = ray_env(RAY_TMPDIR=tempfile.mkdtemp(prefix="lw-ray-"), RAY_AUTH_MODE="disabled")
    started = subprocess.run(
        [
            ray,
            "start",
            "--head",
            "--num-cpus=2",
            f"--port={port}",
            "--node-ip-address=127.0.0.1",
            "--include-dashboard=false",
            "--disable-usage-stats",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(env["RAY_TMPDIR"], ignore_errors=True)


@pytest.mark.slow
def test_a_killed_driver_resumes_with_every_id_once(tmp_path: Path, ray_cluster: str) -> None:
    rows = [{"id": f"k{k}", "text": f"story {k}"} for k in range(1500)]
    source, output = write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / "out.jsonl"
    env = ray_env(RAY_ADDRESS=ray_cluster, RAY_AUTH_MODE="disabled")
    slow = Reply(content=json.dumps({"labels": ["science"]}), delay=0.05)
    with StubServer(default=slow) as stub:
        args = classify(source, output, stub, tmp_path / "one", "run.executor=ray")
        first = subprocess.Popen(
            [*args, "run.concurrency=8"], cwd=REPO, env=env, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and first.poll() is None:
            if output.exists() and output.read_bytes().count(b"\n") >= 100:
                break
            time.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        written = output.read_bytes().count(b"\n")
        assert 100 <= written < 1500, "killed mid-run"
        second = run_cli(classify(source, output, stub, tmp_path / "two", "run.executor=ray"), env)
    assert second.returncode == 0, second.stderr
    ids = Counter(row["id"] for row in read_jsonl(output))
    assert set(ids) == {f"k{k}" for k in range(1500)} and max(ids.values()) == 1
    record = json.loads((tmp_path / "two" / "record.json").read_text())
    assert record["executor"]["address"] == ray_cluster
    assert record["totals"]["resumed"] >= written - 1  # a torn last line is cut and redone


@pytest.mark.slow
def test_a_fatal_provider_error_stops_the_run_in_one_line(tmp_path: Path) -> None:
    source = write_jsonl(
        tmp_path / "in.jsonl", [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]
    )
    refused = Reply(status=401, error="Incorrect API key provided")
    with StubServer(default=refused) as stub:
        done = run_cli(
            classify(source, tmp_path / "out.jsonl", stub, tmp_path / "r", "run.executor=ray")
        )
    assert done.returncode == 2  # as in a local run: a refused key is the config's to fix
    assert "Traceback" not in done.stderr
    assert "refused the credentials" in done.stderr
    output = tmp_path / "out.jsonl"
    assert not output.exists() or read_jsonl(output) == []  # no row written as failed


@pytest.mark.parametrize(
    ("override", "named"),
    [("sample.size=5", "sample.size"), ("run.ray.address=127.0.0.1:1", "run.ray.address")],
)
@pytest.mark.slow
def test_what_the_ray_executor_cannot_do_is_a_config_error(
    tmp_path: Path, override: str, named: str
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "x"}])
    with StubServer(default=SCIENCE) as stub:
        done = run_cli(
            classify(
                source, tmp_path / "out.jsonl", stub, tmp_path / "r", "run.executor=ray", override
            )
        )
    assert done.returncode == 2, done.stderr
    assert named in done.stderr and "Traceback" not in done.stderr


def test_each_actor_gets_an_equal_share_of_the_run() -> None:
    config = load_run_config(
        compose(
            [
                "provider=openai",
                "model=gpt-4o-mini",
                "run.concurrency=10",
                "run.requests_per_minute=600",
                "run.executor=ray",
                "budget.max_cost=3.0",
                "budget.max_tokens=1000",
            ]
        )
    )
    share = engine_share(config, 4)
    assert share.run.concurrency == 3  # rounded up: 4 x 3 >= 10
    assert share.run.requests_per_minute == 150
    assert share.budget.max_cost == 0.75 and share.budget.max_tokens == 250
    assert share.run.executor == "local"  # an actor classifies in its own process
    assert actors_for(config, {"CPU": 8.0}) == 7
    assert actors_for(config, {"CPU": 1.0}) == 1


@pytest.mark.slow
def test_a_certified_route_on_ray_routes_every_row_as_a_local_run(tmp_path: Path) -> None:
    """quality.llm_rows with a further tier: the calibration phase runs in the driver,
    each actor's route is certified on the same answers (Classifier.carry)."""
    from tests.support.route_calibration import answering, args, further, setup

    pool, source, table = setup(tmp_path, 30)
    found = {}
    with (
        StubServer(responder=answering(table, right=False)) as stub,
        StubServer(responder=answering(table, right=True)) as strong,
    ):
        for executor in ("local", "ray"):
            out = tmp_path / f"{executor}.jsonl"
            extra = [*args(pool, *further(strong)), f"run.executor={executor}"]
            done = run_cli(classify_command(source, out, stub, tmp_path / executor, *extra))
            assert done.returncode == 0, done.stderr
            found[executor] = {row["id"]: (row["tier"], row["labels"]) for row in read_jsonl(out)}
    assert found["ray"] == found["local"] and len(found["ray"]) == 30
    assert "strong" in {tier for tier, _ in found["ray"].values()}
