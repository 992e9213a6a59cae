"""report.html of a run with images: a thumbnail beside each error's text, inlined as a data:
URI (the page still fetches nothing), and all of them under a cap."""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image

from framework.config.schema import ColumnNames
from framework.evaluation.thumbnails import THUMBNAIL_BUDGET, THUMBNAIL_SIDE, read_thumbnails
from framework.testing import Reply, StubServer
from tests.support import classify_command, run_cli, write_jsonl

NAMES = ColumnNames(image="image")


def test_the_errors_of_a_run_with_images_show_their_thumbnails(tmp_path: Path) -> None:
    Image.new("RGB", (800, 600), (200, 30, 30)).save(tmp_path / "a.jpg")
    Image.new("RGB", (50, 40), (30, 30, 200)).save(tmp_path / "b.png")
    source = write_jsonl(
        tmp_path / "items.jsonl",
        [
            {"id": "a", "image": "a.jpg", "labels": ["science"]},  # wrong: an error row
            {"id": "b", "image": "b.png", "labels": ["space"]},  # right: no row in the table
            {"id": "c", "image": "missing.png", "labels": ["space"]},  # failed: no thumbnail
        ],
    )
    with StubServer(default=Reply(content='{"labels": ["space"]}')) as stub:
        done = run_cli(
            classify_command(
                source,
                tmp_path / "out.jsonl",
                stub,
                tmp_path / "run",
                "columns.image=image",
                "model.vision=true",
            )
        )
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    thumbs = re.findall(r'<img class="thumb" src="data:image/jpeg;base64,[^"]+"', page)
    assert len(thumbs) == 1  # a's; b was right, c's image is missing
    assert "img-src data:" in page  # the page's policy lets inline images in, nothing else


def test_thumbnails_are_small_and_stop_at_the_budget(tmp_path: Path) -> None:
    rows = []
    for n in range(400):
        Image.effect_noise((200, 200), 90).convert("RGB").save(tmp_path / f"{n}.png")
        rows.append({"id": f"r{n}", "image": f"{n}.png"})
    source = write_jsonl(tmp_path / "items.jsonl", rows)
    thumbs = read_thumbnails(source, {row["id"] for row in rows}, NAMES)
    assert 0 < len(thumbs) < 400  # noise does not compress: the budget ran out
    assert sum(len(uri) for uri in thumbs.values()) <= THUMBNAIL_BUDGET
    import base64
    import io

    first = base64.b64decode(next(iter(thumbs.values())).partition(",")[2])
    assert max(Image.open(io.BytesIO(first)).size) == THUMBNAIL_SIDE


def test_label_studio_tasks_of_a_run_with_images_carry_them(tmp_path: Path) -> None:
    from framework.cli.main import main

    Image.new("RGB", (1600, 1200), (200, 30, 30)).save(tmp_path / "a.jpg")
    source = write_jsonl(tmp_path / "items.jsonl", [{"id": "a", "image": "a.jpg"}])
    with StubServer(default=Reply(content='{"labels": ["space"]}')) as stub:
        done = run_cli(
            classify_command(
                source,
                tmp_path / "out.jsonl",
                stub,
                tmp_path / "run",
                "columns.image=image",
                "model.vision=true",
            )
        )
    assert done.returncode == 0, done.stderr
    out = tmp_path / "ls"
    assert (
        main(["review", "export", str(tmp_path / "run"), "--rows", "all", "--out", str(out)]) == 0
    )
    import base64
    import io
    import json

    task = json.loads((out / "tasks.json").read_text(encoding="utf-8"))[0]
    preview = base64.b64decode(task["data"]["image"].partition(",")[2])
    assert Image.open(io.BytesIO(preview)).size == (512, 384)
    config = (out / "labeling-config.xml").read_text(encoding="utf-8")
    assert '<Image name="image" value="$image"' in config
