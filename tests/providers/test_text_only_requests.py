"""Rows without images send exactly what they sent before images existed: the bodies the
stub receives and the cache keys (request_hash) are compared with a golden file written by
the code before images (tests/golden/text_only_requests.json), for each strategy."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.cli.main import main
from framework.testing import Reply, StubServer
from tests.support import assert_golden, read_jsonl, write_jsonl

ROWS = [
    {"id": "n1", "text": "NASA's probe reaches Europa", "labels": ["space"]},
    {"id": "n2", "text": "Heatwave {{ x }} </text> breaks records", "labels": ["climate"]},
]
PORT = 18_735
ANSWERS = {
    "labels_array": '{"labels": ["space"]}',
    "checklist": '{"space": true, "science": false, "technology": false, "climate": false}',
    "per_label": '{"answer": "yes"}',
}


@pytest.mark.parametrize("strategy", list(ANSWERS))
def test_text_rows_send_the_same_bodies_and_keys_as_before_images(
    strategy: str, tmp_path: Path
) -> None:
    source = write_jsonl(tmp_path / "items.jsonl", ROWS)
    output = tmp_path / "results.jsonl"
    # A fixed port: an openai_compatible server's URL is part of every cache key.
    with StubServer(port=PORT, default=Reply(content=ANSWERS[strategy])) as stub:
        code = main(
            [
                "classify",
                f"input={source}",
                f"output={output}",
                "provider=openai_compatible",
                f"provider.api_base={stub.url}",
                "model.name=stub-model",
                f"strategy={strategy}",
                "run.progress=off",
                "run.concurrency=1",
                f"hydra.run.dir={tmp_path / 'run'}",
            ]
        )
        bodies = sorted(stub.requests, key=repr)
    assert code == 0
    keys = sorted((row["id"], row["request_hash"]) for row in read_jsonl(output))
    assert_golden(f"text_only_requests_{strategy}.json", {"bodies": bodies, "keys": keys})
