"""report.html and leaderboard.html as files: their sections, escaping, and the CLI naming them."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from framework.evaluation.html_digest import digest_rows
from framework.evaluation.html_leaderboard import config_differences
from framework.evaluation.html_page import esc
from framework.evaluation.report import evaluate_results
from framework.evaluation.svg_charts import bars, heatmap
from framework.results import ResultRow
from tests.support import write_jsonl
from tests.test_record import labelwise

HOSTILE = (
    '</script><script>window.pwned=1</script><img src=x onerror="window.pwned=2">'
    "<b>bold</b> & 'quotes'"
)


class Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def scored_run(folder: Path) -> Path:
    """A results file and its input: errors of each kind, a failed row, a hostile text."""
    rows = [
        {"id": "a", "labels": ["x"], "gold": ["x"], "confidence": {"x": 0.9, "y": 0.1}},
        {"id": "b", "labels": ["x", "y"], "gold": ["x"], "confidence": {"x": 0.8, "y": 0.95}},
        {"id": "c", "labels": [], "gold": ["y"], "confidence": {"x": 0.1, "y": 0.3}},
        {"id": "evil", "labels": ["y"], "gold": ["x"]},
        {
            "id": "f",
            "labels": [],
            "status": "failed",
            "error": "timeout",
            "error_kind": "timeout",
            "gold": ["x"],
        },
    ]
    results = write_jsonl(folder / "results.jsonl", [{"status": "ok", **row} for row in rows])
    texts = {"a": "first", "b": "second", "c": "third", "evil": HOSTILE, "f": "fifth"}
    write_jsonl(folder / "input.jsonl", [{"id": k, "text": v} for k, v in texts.items()])
    return results


def test_report_html_holds_the_sections_and_escapes_every_text(tmp_path: Path) -> None:
    results = scored_run(tmp_path)
    metrics = evaluate_results(
        results, ["x", "y"], out_dir=tmp_path, input_path=tmp_path / "input.jsonl", resamples=50
    )
    assert metrics is not None
    html = (tmp_path / "report.html").read_text()
    for heading in ("Scores", "By label", "Gold label predicted as", "Errors", "Failed rows"):
        assert f"<h2>{heading}</h2>" in html
    assert f"{metrics.macro.f1:.3f}" in html and "95% interval" in html
    assert esc(HOSTILE) in html  # shown as text, verbatim
    tags = tags_of(html)
    assert [tag for tag, _ in tags].count("script") == 1  # ours only
    assert not [attrs for tag, attrs in tags if tag == "img"]
    assert not [attrs for _, attrs in tags if any(k.startswith("on") for k in attrs)]
    assert "pwned" not in html.split("<script>")[-1]  # the script block is ours
    # nothing is fetched: no external reference, and a policy that forbids any
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    policy = next(a["content"] for t, a in tags if a.get("http-equiv") == "Content-Security-Policy")
    assert policy is not None and "default-src 'none'" in policy
    rows = [a for t, a in tags if t == "tr" and "data-missed" in a]
    assert len(rows) == 4  # b (extra y), c (missed y), evil (both), f (failed)
    by_kind = {(a["data-missed"], a["data-extra"], a["data-status"]) for a in rows}
    assert ('["x"]', '["y"]', "ok") in by_kind and ('["x"]', "[]", "failed") in by_kind


def test_report_html_without_gold_shows_frequencies_confidence_and_failures(tmp_path: Path) -> None:
    rows = [
        {"id": "1", "labels": ["x"], "status": "ok", "confidence": {"x": 0.9, "y": 0.2}},
        {"id": "2", "labels": ["x", "y"], "status": "ok", "confidence": {"x": 0.7, "y": 0.6}},
        {
            "id": "3",
            "labels": [],
            "status": "failed",
            "error": "<b>boom</b>",
            "error_kind": "bad_request",
        },
    ]
    results = write_jsonl(tmp_path / "results.jsonl", rows)
    from framework.evaluation.html_run import write_run_html

    path = write_run_html(results, ["x", "y"], out_dir=tmp_path, title="no gold")
    html = path.read_text()
    assert "<h2>Labels predicted</h2>" in html and "<h2>Confidence by label</h2>" in html
    assert "<h2>Scores</h2>" not in html and "data-filter" not in html.split("<script>")[0]
    assert "1 rows failed: bad_request 1" in html and "&lt;b&gt;boom&lt;/b&gt;" in html
    assert '<td>x</td><td class="num">2</td><td class="num">66.7%</td>' in html  # of 3 rows


def test_digest_counts_confusion_and_the_confidence_of_mistakes() -> None:
    rows = [
        ResultRow("1", ("x", "y"), gold=("x",), confidence={"x": 0.9, "y": 0.7}),
        ResultRow("2", (), gold=("y",), confidence={"x": 0.2, "y": 0.4}),
        ResultRow("3", ("x",), gold=()),
    ]
    digest = digest_rows(rows, ["x", "y"])
    # rows: gold x, gold y, no gold label; columns: predicted x, y, nothing
    assert digest.confusion == [[1, 1, 0], [0, 0, 1], [1, 0, 0]]
    assert digest.cooccurrence == [[1, 0], [0, 1]]
    errors = {e.id: e for e in digest.errors}
    assert errors["1"].extra == ("y",) and errors["1"].confidence == pytest.approx(0.7)
    assert errors["2"].missed == ("y",) and errors["2"].confidence == pytest.approx(0.6)
    assert digest.errors[0].id in ("2", "3")  # Jaccard 0 before 0.5
    limited = digest_rows(rows, ["x", "y"], limit=1)
    assert len(limited.errors) == 1 and limited.error_count == 3 and limited.errors[0].id != "1"


def test_charts_escape_their_names_and_scale_counts() -> None:
    svg = bars(["<a>"], {"s&p": [0.5]}, title="t<")
    assert "<a>" not in svg and "&lt;a&gt;" in svg and "s&amp;p" in svg and "t&lt;" in svg
    grid = heatmap(["r"], ["c1", "c2"], [[0, 7]], title="h")
    assert ">7</text>" in grid and "r / c2: 7" in grid


def test_config_differences_name_each_differing_key() -> None:
    found = config_differences(
        [
            {"config": {"model": {"name": "a", "seed": 1}, "prompt": {"few_shot": True}}},
            {"config": {"model": {"name": "b", "seed": 1}}},
        ]
    )
    assert found == [
        ("config.model.name", ["a", "b"]),
        ("config.prompt.few_shot", ["true", "(not set)"]),
    ]


def test_evaluate_and_compare_name_their_html_files(tmp_path: Path) -> None:
    results = scored_run(tmp_path)
    result = labelwise("evaluate", str(results), "--labels", "x,y", "--bootstrap", "20")
    assert result.returncode == 0, result.stderr
    assert f"{tmp_path / 'report.html'} (open it in a browser)" in result.stdout
    assert (tmp_path / "report.html").is_file()
    json.loads((tmp_path / "metrics.json").read_text())
