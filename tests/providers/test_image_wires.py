"""Rows with images on every wire that takes them: `labelwise classify columns.image=image`
against the stub, which reads the image parts of each provider's own format and answers
with the colour it finds in each image (framework.testing.colour_answers). The answer
coming back validated is the proof the image arrived whole and decodable.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from framework.cli.main import main
from framework.providers.image_parts import IMAGES_MARK, with_images
from framework.testing import Reply, StubServer, colour_answers, image_urls_in, images_in, wire_url
from tests.support import cli_env, read_jsonl, run_cli, write_jsonl

PALETTE = {"red": (230, 20, 20), "blue": (20, 20, 230), "green": (20, 200, 20)}
TAXONOMY = """\
name: colours
version: "1.0.0"
description: The colours an image shows.
none_label: none
labels:
  red: {description: Red.}
  blue: {description: Blue.}
  green: {description: Green.}
  none: {description: No colour of these.}
"""
# provider, model, the api_base the provider is pointed at, how the image part looks there
WIRES: dict[str, tuple[str, str, str]] = {
    "openai-http": ("openai", "gpt-4o-mini", "openai"),
    "openai-litellm": ("openai", "gpt-4o-mini", "openai"),
    "azure": ("azure", "gpt-4o-mini", "azure"),
    "anthropic": ("anthropic", "claude-haiku-4-5", "anthropic"),
    "gemini": ("gemini", "gemini-2.5-flash", "gemini"),
    "ollama": ("ollama", "llama3.1", "ollama"),
    "openai_compatible": ("openai_compatible", "stub-vlm", "openai"),
}


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for env in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "AZURE_API_KEY"):
        monkeypatch.setenv(env, "test-key-images")


def paint(path: Path, colour: str, size: tuple[int, int] = (64, 48)) -> Path:
    Image.new("RGB", size, PALETTE[colour]).save(path, format="PNG")
    return path


def colours_input(folder: Path) -> Path:
    """Two rows: one red image with a caption; one row with a blue and a green image."""
    paint(folder / "red.png", "red")
    paint(folder / "blue.png", "blue", (4000, 1000))  # larger than every provider's limit
    paint(folder / "green.png", "green")
    (folder / "taxonomy").mkdir()
    (folder / "taxonomy" / "colours.yaml").write_text(TAXONOMY, encoding="utf-8")
    return write_jsonl(
        folder / "items.jsonl",
        [
            {"id": "one", "text": "a caption", "image": "red.png", "labels": ["red"]},
            {"id": "two", "image": ["blue.png", "green.png"], "labels": ["blue", "green"]},
        ],
    )


def classify(source: Path, stub: StubServer, wire: str, *extra: str) -> tuple[int, Any]:
    kind, model, _ = WIRES[wire]
    base = stub.url if kind in ("openai", "openai_compatible") else wire_url(stub, kind)  # type: ignore[arg-type]
    output = source.parent / "results.jsonl"
    transport = ["provider.transport=litellm"] if wire == "openai-litellm" else []
    code = main(
        [
            "classify",
            f"input={source}",
            f"output={output}",
            f"provider={kind}",
            f"model.name={model}",
            f"provider.api_base={base}",
            f"hydra.searchpath=[file://{source.parent}]",
            "taxonomy=colours",
            "columns.image=image",
            "run.retry.base_delay=0",
            "run.progress=off",
            f"hydra.run.dir={source.parent / 'run'}",
            *(["model.vision=true"] if kind in ("ollama", "openai_compatible") else []),
            *transport,
            *extra,
        ]
    )
    return code, read_jsonl(output) if output.exists() else []


def image_part_of(wire: str, body: dict[str, Any]) -> Any:
    """The first image part, where the wire puts it."""
    shape = WIRES[wire][2]
    if shape in ("openai", "azure"):
        parts = body["messages"][-1]["content"]
        return next(p for p in parts if p["type"] == "image_url")
    if shape == "anthropic":
        parts = body["messages"][-1]["content"]
        return next(p for p in parts if p["type"] == "image")
    if shape == "gemini":
        parts = body["contents"][-1]["parts"]
        return next(p for p in parts if "inline_data" in p or "inlineData" in p)
    return body["messages"][-1]["images"]


@pytest.mark.parametrize("wire", list(WIRES))
def test_each_wire_carries_the_images_and_the_answer_is_validated(
    wire: str, tmp_path: Path
) -> None:
    source = colours_input(tmp_path)
    with StubServer(responder=colour_answers(PALETTE)) as stub:
        code, rows = classify(source, stub, wire)
        bodies = list(stub.requests)
    assert code == 0
    by_id = {row["id"]: row for row in rows}
    assert by_id["one"]["labels"] == ["red"] and by_id["one"]["status"] == "ok"
    assert sorted(by_id["two"]["labels"]) == ["blue", "green"]
    assert len(bodies) == 2
    for body in bodies:
        assert image_part_of(wire, body)
        assert len(images_in(body)) in (1, 2)
    # The 4000x1000 image went out downscaled to the provider's long side.
    two = by_id["two"]["images"]
    assert two[0]["prepared"] == "downscaled from 4000x1000"
    long_side = max(int(n) for n in two[0]["size"].split("x"))
    assert long_side <= 3072 and two[0]["bytes_sent"] < two[0]["bytes_read"] * 10
    assert by_id["one"]["images"][0]["prepared"] == "sent as read"


def test_anthropic_gets_base64_image_blocks_beside_the_text(tmp_path: Path) -> None:
    source = colours_input(tmp_path)
    with StubServer(responder=colour_answers(PALETTE)) as stub:
        code, _ = classify(source, stub, "anthropic")
        body = next(b for b in stub.requests if "a caption" in str(b))
    assert code == 0
    content = body["messages"][0]["content"]
    kinds = [part["type"] for part in content]
    assert kinds == ["text", "image"]  # the default template: the images after the text
    source_block = content[1]["source"]
    assert source_block["type"] == "base64" and source_block["media_type"] == "image/png"
    assert base64.b64decode(source_block["data"]).startswith(b"\x89PNG")


def test_an_https_url_is_passed_through_where_the_provider_fetches_it(tmp_path: Path) -> None:
    url = "https://example.org/cat.jpg"
    source = write_jsonl(tmp_path / "items.jsonl", [{"id": "u", "text": "x", "image": url}])
    (tmp_path / "taxonomy").mkdir()
    (tmp_path / "taxonomy" / "colours.yaml").write_text(TAXONOMY, encoding="utf-8")
    with StubServer() as stub:
        stub.default = stub.default.__class__(content='{"labels": ["red"]}')
        code, rows = classify(source, stub, "openai-http")
        assert code == 0 and rows[0]["status"] == "ok"
        assert image_urls_in(stub.requests[0]) == [url]
        assert rows[0]["images"][0]["prepared"] == "URL passed through"
        # Anthropic does not fetch (litellm would download it): the row fails, no call.
        (tmp_path / "results.jsonl").unlink()
        code, rows = classify(source, stub, "anthropic")
        assert len(stub.requests) == 1
    assert code == 0 and rows[0]["status"] == "failed"
    assert "fetches no URLs" in rows[0]["error"] and rows[0]["error_kind"] == "image"


def test_the_cache_key_holds_the_image_digest_and_serves_a_rerun(tmp_path: Path) -> None:
    source = colours_input(tmp_path)
    with StubServer(responder=colour_answers(PALETTE)) as stub:
        code, first = classify(source, stub, "openai-http")
        (tmp_path / "results.jsonl").unlink()
        code2, again = classify(source, stub, "openai-http")
        calls = len(stub.requests)
        paint(tmp_path / "red.png", "green")  # other bytes: another key, a new call
        (tmp_path / "results.jsonl").unlink()
        code3, changed = classify(source, stub, "openai-http")
        after = len(stub.requests)
    assert code == code2 == code3 == 0
    assert calls == 2 and after == 3
    assert {r["request_hash"] for r in first} == {r["request_hash"] for r in again}
    one = {r["id"]: r for r in changed}["one"]
    assert one["labels"] == ["green"]
    assert one["request_hash"] not in {r["request_hash"] for r in first}
    for folder in (tmp_path / "run",):
        for path in folder.rglob("*"):
            # report.html shows thumbnails of the errors on purpose (test_thumbnails.py)
            if path.is_file() and path.name != "report.html":
                assert b";base64," not in path.read_bytes(), path


def test_plan_counts_the_images_and_the_price_of_one(tmp_path: Path) -> None:
    source = colours_input(tmp_path)
    result = run_cli(
        [
            sys.executable,
            "-m",
            "framework",
            "plan",
            f"input={source}",
            "provider=openai",
            "model=gpt-4o-mini",
            f"hydra.searchpath=[file://{tmp_path}]",
            "taxonomy=colours",
            "columns.image=image",
            f"hydra.run.dir={tmp_path / 'plan'}",
        ],
        env=cli_env(OPENAI_API_KEY="test-key-images"),
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.strip().startswith("images"))
    assert "3 sent, 85 prompt tokens each as litellm counts them" in line
    assert "~$0.000013 an image" in line  # 85 tokens at gpt-4o-mini's $0.15 a million


def test_a_template_places_the_images_and_text_rows_keep_their_messages() -> None:
    image = type("Sent", (), {"url": "data:image/png;base64,AAAA"})()
    messages = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": f"Look:{IMAGES_MARK}Labels?"},
    ]
    placed = with_images(messages, [image, image])
    assert placed[0] == {"role": "system", "content": "S"}
    assert [p["type"] for p in placed[1]["content"]] == ["text", "image_url", "image_url", "text"]
    assert with_images(messages, [])[1] == {"role": "user", "content": "Look:Labels?"}
    plain = [{"role": "user", "content": "U"}]
    assert with_images(plain, []) == plain
    assert [p["type"] for p in with_images(plain, [image])[0]["content"]] == ["text", "image_url"]


@pytest.mark.parametrize("strategy", ["checklist", "per_label"])
def test_every_question_of_a_strategy_carries_the_images(strategy: str, tmp_path: Path) -> None:
    source = colours_input(tmp_path)
    answer = (
        '{"red": true, "blue": false, "green": false, "none": false}'
        if strategy == "checklist"
        else '{"answer": "yes"}'
    )
    with StubServer(default=Reply(content=answer)) as stub:
        code, rows = classify(source, stub, "openai_compatible", f"strategy={strategy}")
        bodies = list(stub.requests)
    assert code == 0 and all(row["status"] == "ok" for row in rows)
    assert len(bodies) == (2 if strategy == "checklist" else 2 * 4)  # per_label: one a label
    assert sorted(len(images_in(body)) for body in bodies)[0] == 1
    assert all(images_in(body) for body in bodies)


def test_a_rerun_into_the_same_output_asks_nothing_again(tmp_path: Path) -> None:
    source = colours_input(tmp_path)
    with StubServer(responder=colour_answers(PALETTE)) as stub:
        stub.enqueue(Reply(status=400, error="bad request"))  # the first row fails
        code, first = classify(source, stub, "openai_compatible")
        code2, again = classify(source, stub, "openai_compatible")  # same output: resumes
        calls = len(stub.requests)
    assert code == code2 == 0
    assert len(first) == 2 and len(again) == 2 and calls == 2  # nothing asked twice


def test_a_batch_job_carries_the_images_in_its_request_lines(tmp_path: Path) -> None:
    source = colours_input(tmp_path)
    with StubServer(responder=colour_answers(PALETTE)) as stub:
        code, rows = classify(
            source,
            stub,
            "openai_compatible",
            "run.mode=batch",
            "batch.poll_interval=0.01",
            "batch.max_poll_interval=0.05",
        )
        bodies = list(stub.requests)
    assert code == 0
    by_id = {row["id"]: row for row in rows}
    assert by_id["one"]["labels"] == ["red"]
    assert sorted(by_id["two"]["labels"]) == ["blue", "green"]
    assert sorted(len(images_in(body)) for body in bodies) == [1, 2]
