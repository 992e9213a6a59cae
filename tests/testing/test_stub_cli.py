"""The stub as a user runs it to try a config with no key: `labelwise stub` and
`python -m framework.testing` in a process of their own, a classify run of the news
example pointed at them, and the old `python -m framework.stub_server`."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from io import StringIO
from pathlib import Path

import httpx
import pytest

import framework.testing
from framework.testing import Reply, StubServer
from tests.support import REPO, cli_env, read_jsonl
from tests.support.cli import NEWS, labelwise

SPACE = '{"labels": ["space"]}'
LABELWISE_STUB = [sys.executable, "-m", "framework", "stub"]
MODULE = [sys.executable, "-m", "framework.testing"]
OLD_NAME = [sys.executable, "-m", "framework.stub_server"]


@contextmanager
def serving(command: list[str], *flags: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """The stub started as `command` on a free port; its URL (from the line it prints)."""
    process = subprocess.Popen(
        [*command, "--port", "0", *flags],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=cli_env(),
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("stub server on http://127.0.0.1:"), first + process.stderr.read()
        yield first.split()[-1], process
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""


@pytest.mark.slow
@pytest.mark.parametrize(
    "command", [LABELWISE_STUB, MODULE], ids=["labelwise stub", "python -m framework.testing"]
)
def test_a_run_pointed_at_the_stub_command_labels_every_row(
    command: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "results.jsonl"
    with serving(command, "--content", SPACE) as (url, _):
        result = labelwise(
            "classify",
            f"input={NEWS}",
            f"output={out}",
            "provider=openai_compatible",
            f"provider.api_base={url}",
            "model.name=stub",
            "run.progress=off",
            f"hydra.run.dir={tmp_path / 'run'}",
        )
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(out)
    expected = [row["id"] for row in read_jsonl(NEWS)]
    assert sorted(row["id"] for row in rows) == sorted(expected)
    assert {row["status"] for row in rows} == {"ok"}
    assert all(row["labels"] == ["space"] for row in rows)


@pytest.mark.slow
def test_the_stub_command_mixes_the_faults_it_is_given() -> None:
    with serving(LABELWISE_STUB, "--content", SPACE, "--faults", "e500=0.5", "--seed", "3") as (
        url,
        _,
    ):
        statuses = [
            httpx.post(f"{url}/chat/completions", json={"messages": []}).status_code
            for _ in range(40)
        ]
    assert set(statuses) == {200, 500}


@pytest.mark.slow
def test_the_old_module_name_still_serves_and_names_the_new_one() -> None:
    with serving(OLD_NAME, "--content", SPACE) as (url, process):
        answer = httpx.post(f"{url}/chat/completions", json={"messages": []}).json()
    assert answer["choices"][0]["message"]["content"] == SPACE
    assert process.stderr is not None
    said = process.stderr.read()
    assert "framework.testing" in said and "labelwise stub" in said
    assert len(said.strip().splitlines()) == 1


@pytest.mark.slow
def test_labelwise_stub_help_prints_its_flags() -> None:
    result = labelwise("stub", "--help")
    assert result.returncode == 0, result.stderr
    for flag in ("--port", "--latency", "--content", "--faults", "--seed"):
        assert flag in result.stdout
    assert "stub" in labelwise("--help").stdout


def test_an_unknown_fault_is_refused_by_name() -> None:
    with pytest.raises(SystemExit, match="unknown fault 'e999'; choose from e500"):
        framework.testing.fault_mix("e999=0.5", Reply())


def test_the_package_exports_what_a_user_scripts_answers_with() -> None:
    assert {"StubServer", "Reply", "Responder", "FAULTS", "fault_mix", "wire_url"} <= set(
        framework.testing.__all__
    )
    for name in framework.testing.__all__:
        assert getattr(framework.testing, name) is not None
    from framework.stub_server import Reply as OldReply
    from framework.stub_server import StubServer as OldStubServer

    assert (OldReply, OldStubServer) == (Reply, StubServer)


def test_the_example_in_the_package_docstring_runs() -> None:
    doc = framework.testing.__doc__
    assert doc is not None
    block = doc.split("    from framework import Classifier\n", 1)[1].split("\n\n", 1)[0]
    code = "from framework import Classifier\n" + block
    lines = [line.removeprefix("    ") for line in code.splitlines()]
    assert len(lines) <= 6
    printed = StringIO()
    with redirect_stdout(printed):
        exec(compile("\n".join(lines), "framework.testing.__doc__", "exec"), {})
    assert printed.getvalue().strip() == "('space',)"
