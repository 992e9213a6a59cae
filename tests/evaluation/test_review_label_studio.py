"""labelwise review: tasks and labeling config from a run, the export back as gold rows;
and the round trip through a real Label Studio server on 127.0.0.1.

The server (label-studio 1.23, SQLite) lives in its own venv, as it pins Django
and much else: .ci/run makes .venv-label-studio, and the test finds its
`label-studio` through $LABELWISE_LABEL_STUDIO_BIN or that folder. Without it
the round trip skips here and fails under CI=true.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from framework.evaluation.review.corrections import corrections_of
from framework.evaluation.review.tasks import build_task, labeling_config
from framework.results import ResultRow
from framework.testing import StubServer
from tests.support import REPO, read_jsonl, stub_overrides
from tests.support.cli import labelwise
from tests.support.reports import answer_by_text

TOKEN = "labelwise0test0token0000000000000000000a"


def test_labeling_config_is_multi_choice_over_the_taxonomy_and_escaped() -> None:
    config = labeling_config(["a", 'b"<&'], {"a": "about <a>"}, title="(taxonomy t@1)")
    assert '<Choices name="labels" toName="text" choice="multiple"' in config
    assert '<Choice value="a" hint="about &lt;a&gt;"/>' in config
    assert "<Choice value='b\"&lt;&amp;'/>" in config
    import xml.etree.ElementTree as ET

    root = ET.fromstring(config)
    assert [c.get("value") for c in root.iter("Choice")] == ["a", 'b"<&']


def test_a_task_carries_the_labels_as_a_prediction_with_a_score() -> None:
    row = ResultRow("7", ("a",), confidence={"a": 0.8, "b": 0.3}, taxonomy="t@1", taxonomy_hash="h")
    task = build_task(row, "some text", model_version="labelwise run")
    assert task["data"]["row_id"] == "7" and task["data"]["taxonomy_hash"] == "h"
    (prediction,) = task["predictions"]
    assert prediction["result"][0]["value"] == {"choices": ["a"]}
    assert prediction["score"] == 0.7  # the least sure decision: not b, at 1 - 0.3
    failed = build_task(
        ResultRow("8", (), status="failed", error="timeout"), "t", model_version="m"
    )
    assert failed["predictions"] == [] and "failed: timeout" in failed["data"]["labelwise"]


def test_corrections_take_the_latest_annotation_and_skip_the_unannotated() -> None:
    def annotation(choices: list[str], when: str, cancelled: bool = False) -> dict[str, object]:
        value = {"from_name": "labels", "type": "choices", "value": {"choices": choices}}
        return {"result": [value], "updated_at": when, "was_cancelled": cancelled}

    tasks = [
        {
            "data": {"row_id": "1", "text": "t1", "taxonomy": "n@1", "taxonomy_hash": "h"},
            "annotations": [
                annotation(["a"], "2026-12-01T10:00"),
                annotation(["b", "c"], "2026-12-02T10:00"),
                annotation(["z"], "2026-12-03T10:00", cancelled=True),
            ],
        },
        {"data": {"row_id": "2", "text": "t2"}, "annotations": []},
        {"id": 9, "row_id": "3", "text": "t3", "labels": {"choices": ["a"]}},  # JSON_MIN
        {"id": 10, "row_id": "4", "text": "t4", "labels": "b"},
    ]
    found = corrections_of(tasks)
    rows = found.rows
    assert found.unannotated == 1 and not found.left_out
    assert [(r.id, r.labels) for r in rows] == [("1", ("b", "c")), ("3", ("a",)), ("4", ("b",))]
    assert rows[0].to_json()["taxonomy_hash"] == "h"


def test_review_mistakes_exit_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "export.json").write_text('{"not": "a list"}')
    result = labelwise(
        "review", "import", str(tmp_path / "export.json"), "--to", str(tmp_path / "g")
    )
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "is not a Label Studio export" in result.stderr
    result = labelwise("review", "import", str(tmp_path / "nope.json"), "--to", str(tmp_path / "g"))
    assert result.returncode == 2 and "does not exist" in result.stderr


# -- the round trip through a real Label Studio ----------------------------------------


def label_studio_bin() -> str:
    found = os.environ.get("LABELWISE_LABEL_STUDIO_BIN") or str(
        REPO / ".venv-label-studio" / "bin" / "label-studio"
    )
    if not Path(found).is_file():
        reason = (
            f"no Label Studio at {found}: python3.11 -m venv .venv-label-studio && "
            ".venv-label-studio/bin/pip install label-studio==1.23.2 (or set "
            "LABELWISE_LABEL_STUDIO_BIN)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Label Studio exited ({process.returncode}): {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"Label Studio did not answer at {url} in 240 s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Label Studio on 127.0.0.1 with a fresh SQLite data dir, and a user with TOKEN."""
    binary = label_studio_bin()
    data, port = tmp_path_factory.mktemp("label-studio"), free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "LABEL_STUDIO_USERNAME": "reviewer@example.com",
        "LABEL_STUDIO_PASSWORD": "labelwise-review-test",
        "LABEL_STUDIO_USER_TOKEN": TOKEN,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "DJANGO_DB": "sqlite",
        # The ML backend under test listens on 127.0.0.1, which Label Studio refuses to
        # call by default (its SSRF protection bans loopback for ML backends and webhooks).
        "ML_BLOCK_LOCAL_IP": "false",
        "USE_DEFAULT_BANNED_SUBNETS": "false",
    }
    log = data / "server.log"
    command = [binary, "start", "--no-browser", "--internal-host", "127.0.0.1", "-p", str(port)]
    command += ["--host", url, "--data-dir", str(data)]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    started = time.monotonic()
    try:
        wait_until_up(url, process, log)
        print(f"Label Studio up in {time.monotonic() - started:.1f} s")
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def news_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("news") / "run"
    source = tmp_path_factory.mktemp("input") / "items.jsonl"
    shutil.copy(REPO / "examples" / "news" / "items.jsonl", source)
    with StubServer(responder=answer_by_text) as stub:
        result = labelwise(
            "classify",
            f"input={source}",
            *stub_overrides(stub),
            f"hydra.run.dir={folder}",
            LABELWISE_CACHE_DIR=str(tmp_path_factory.mktemp("cache")),
        )
    assert result.returncode == 0, result.stderr
    return folder


def test_review_round_trip_through_label_studio(
    studio: str, news_run: Path, tmp_path: Path
) -> None:
    from label_studio_sdk import LabelStudio

    env = {"LABEL_STUDIO_API_KEY": TOKEN}
    nothing = labelwise("review", "export", str(news_run), "--to", "label-studio")
    assert nothing.returncode == 2 and "no rows to review" in nothing.stderr  # no band, no failure
    pushed = labelwise(
        "review",
        "export",
        str(news_run),
        "--to",
        "label-studio",
        "--rows",
        "all",
        "--url",
        studio,
        **env,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert "20 tasks ->" in pushed.stdout
    project = int(pushed.stdout.split("Label Studio project ")[1].split(":")[0])

    client = LabelStudio(base_url=studio, api_key=TOKEN)
    assert 'choice="multiple"' in client.projects.get(id=project).label_config
    tasks = list(client.tasks.list(project=project, fields="all"))
    assert len(tasks) == 20
    first = next(t for t in tasks if t.data["row_id"] == "n01")
    assert first.total_predictions == 1  # the run's labels, pre-filled for the annotator

    # An annotator corrects n01 (the stub said space, climate, technology).
    client.annotations.create(
        id=first.id,
        result=[
            {
                "from_name": "labels",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": ["space", "science"]},
            }
        ],
    )
    export = tmp_path / "export.json"
    export.write_bytes(b"".join(client.projects.exports.download_sync(project, export_type="JSON")))

    from_file = labelwise("review", "import", str(export), "--to", str(tmp_path / "gold.jsonl"))
    assert from_file.returncode == 0, from_file.stderr
    gold = read_jsonl(tmp_path / "gold.jsonl")
    assert [(g["id"], g["labels"]) for g in gold] == [("n01", ["space", "science"])]
    assert gold[0]["text"].startswith("NASA's Perseverance") and gold[0]["taxonomy_hash"]

    fetched = labelwise(
        "review",
        "import",
        "--url",
        studio,
        "--project",
        str(project),
        "--to",
        str(tmp_path / "g2.jsonl"),
        **env,
    )
    assert fetched.returncode == 0, fetched.stderr
    assert read_jsonl(tmp_path / "g2.jsonl") == gold

    scored = labelwise(
        "evaluate", str(news_run), "--gold", str(tmp_path / "gold.jsonl"), "--bootstrap", "20"
    )
    assert scored.returncode == 0, scored.stderr  # the same taxonomy stamp: accepted
    metrics = json.loads((news_run / "metrics.json").read_text())
    assert metrics["scored"] == 1

    refused = labelwise(
        "review",
        "import",
        "--url",
        studio,
        "--project",
        str(project),
        "--to",
        str(tmp_path / "g3"),
        LABEL_STUDIO_API_KEY="wrong",
    )
    assert refused.returncode == 2 and "refused the key" in refused.stderr


def test_labelwise_is_label_studios_ml_backend(studio: str, tmp_path: Path) -> None:
    from label_studio_sdk import LabelStudio

    from framework.learning.labeled_pool import LabeledPoolDir
    from tests.support import cli_env
    from tests.support.news_pool import LABELS, pool_rows

    pool = LabeledPoolDir(tmp_path / "pool")
    pool.add(pool_rows(80), source="seed")
    first = pool.head().version
    port = free_port()
    command = [sys.executable, "-m", "framework", "review", "serve", str(tmp_path / "pool")]
    server = subprocess.Popen(
        [*command, "--taxonomy", "news", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=cli_env(),
        start_new_session=True,
    )
    assert server.stdout is not None
    try:
        assert server.stdout.readline().strip() == f"model fit on pool version {first}"
        assert "Label Studio ML backend on" in server.stdout.readline()
        assert "Connect Model" in server.stdout.readline()
        client = LabelStudio(base_url=studio, api_key=TOKEN)
        project = client.projects.create(title="ml backend", label_config=labeling_config(LABELS))
        texts = ["rocket orbit moon astronaut", "emissions warming drought carbon"]
        client.projects.import_tasks(
            id=project.id,
            request=[{"row_id": f"m{n}", "text": t, "labelwise": ""} for n, t in enumerate(texts)],
        )
        backend = f"http://127.0.0.1:{port}"
        client.ml.create(url=backend, project=project.id, title="labelwise")
        client.actions.create(id="retrieve_tasks_predictions", project=project.id)
        tasks = sorted(client.tasks.list(project=project.id, fields="all"), key=lambda t: t.id)
        predicted = [client.predictions.list(task=t.id) for t in tasks]
        assert [len(p) for p in predicted] == [1, 1]
        assert predicted[0][0].model_version == first
        assert "space" in predicted[0][0].result[0]["value"]["choices"]
        assert "climate" in predicted[1][0].result[0]["value"]["choices"]
        # Annotations reach the backend as Label Studio's webhook events: a new pool version.
        client.webhooks.create(
            url=f"{backend}/webhook",
            project=project.id,
            send_payload=True,
            send_for_all_actions=False,
            actions=["ANNOTATION_CREATED"],
        )
        choice = {"from_name": "labels", "to_name": "text", "type": "choices"}
        client.annotations.create(
            id=tasks[0].id, result=[{**choice, "value": {"choices": ["space", "science"]}}]
        )
        refit = server.stdout.readline().strip()
        second = pool.head().version
        assert second != first and refit == f"model fit on pool version {second}"
        added = {r["id"]: r for r in pool.rows(second)}["m0"]
        assert added["labels"] == ["space", "science"]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
