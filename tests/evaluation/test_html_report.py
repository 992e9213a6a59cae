"""report.html and leaderboard.html as files: their sections, escaping, and the CLI naming them."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from framework.evaluation.html_digest import digest_rows
from framework.evaluation.html_leaderboard import config_differences
from framework.evaluation.html_page import esc
from framework.evaluation.report import evaluate_results
from framework.evaluation.svg_charts import bars, heatmap
from framework.results import ResultRow
from tests.support import write_jsonl
from tests.support.cli import labelwise
from tests.support.reports import HOSTILE, scored_run


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
    rows: list[dict[str, Any]] = [
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
    digest = digest_rows(lambda: rows, ["x", "y"])
    # rows: gold x, gold y, no gold label; columns: predicted x, y, nothing
    assert digest.confusion == [[1, 1, 0], [0, 0, 1], [1, 0, 0]]
    assert digest.cooccurrence == [[1, 0], [0, 1]]
    errors = {e.id: e for e in digest.errors}
    assert errors["1"].extra == ("y",) and errors["1"].confidence == pytest.approx(0.7)
    assert errors["2"].missed == ("y",) and errors["2"].confidence == pytest.approx(0.6)
    assert digest.errors[0].id in ("2", "3")  # Jaccard 0 before 0.5
    limited = digest_rows(lambda: rows, ["x", "y"], limit=1)
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


@pytest.mark.slow
def test_evaluate_and_compare_name_their_html_files(tmp_path: Path) -> None:
    results = scored_run(tmp_path)
    result = labelwise("evaluate", str(results), "--labels", "x,y", "--bootstrap", "20")
    assert result.returncode == 0, result.stderr
    assert f"{tmp_path / 'report.html'} (open it in a browser)" in result.stdout
    assert (tmp_path / "report.html").is_file()
    json.loads((tmp_path / "metrics.json").read_text())


# -- hostile names and texts in the Markdown files, NUL bytes, matplotlib's noise (BUG 20) --

MARKUP = "<img src=x onerror=alert(1)>"


def table_cells(line: str) -> list[str]:
    """The cells of a Markdown table line (an escaped \\| is not a separator)."""
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def hostile_run(folder: Path) -> Path:
    """Results whose ids, labels, error and texts hold markup, `|`, newlines and a NUL."""
    bad_label = f"{MARKUP}|x\ny"
    rows = [
        {"id": f"{MARKUP}`|", "labels": ["a"], "gold": [bad_label], "status": "ok"},
        {"id": "n\nul", "labels": [bad_label], "gold": ["a"], "status": "ok"},
        {"id": "f", "labels": [], "gold": ["a"], "status": "failed", "error": MARKUP},
    ]
    folder.mkdir(parents=True, exist_ok=True)
    results = write_jsonl(folder / "results.jsonl", rows)
    texts = {f"{MARKUP}`|": f"[click](javascript:alert(1)) {MARKUP}", "n\nul": "a\x00b\x1b[31m"}
    write_jsonl(folder / "input.jsonl", [{"id": k, "text": v} for k, v in texts.items()])
    return results


def test_report_md_shows_markup_as_text_and_keeps_its_tables(tmp_path: Path) -> None:
    results = hostile_run(tmp_path)
    labels = ["a", f"{MARKUP}|x\ny"]
    evaluate_results(
        results,
        labels,
        out_dir=tmp_path,
        input_path=tmp_path / "input.jsonl",
        resamples=20,
        title=f"run {MARKUP}",
    )
    report = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "<img" not in report and "\x00" not in report and "\x1b" not in report
    assert "&lt;img src=x onerror=alert(1)&gt;" in report
    assert "[click\\](javascript:" in report  # an escaped ] closes no link
    tables = [line for line in report.splitlines() if line.startswith("|")]
    assert tables and all(len(table_cells(line)) in (3, 6) for line in tables), tables
    per_label = [line for line in tables if len(table_cells(line)) == 6]
    assert len(per_label) == 2 + len(labels)  # header, rule, one line a label: no line broken
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "\x00" not in html and "\x1b" not in html and "a\\x00b\\x1b[31m" in html


@pytest.mark.slow
def test_leaderboard_md_shows_run_names_as_text(tmp_path: Path) -> None:
    runs = []
    for n in (1, 2):
        run = tmp_path / f"{MARKUP} {n}"
        evaluate_results(hostile_run(run), ["a", "b"], out_dir=run, resamples=20)
        record = {"overrides": [f"model.name={MARKUP}|{n}\nx"], "totals": {"cost": 0.0}}
        (run / "record.json").write_text(json.dumps(record))
        runs.append(str(run))
    out = tmp_path / "board"
    result = labelwise("compare", *runs, "--out", str(out))
    assert result.returncode == 0, result.stderr
    board = (out / "leaderboard.md").read_text(encoding="utf-8")
    assert "<img" not in board and "&lt;img src=x onerror=alert(1)&gt;" in board
    tables = [line for line in board.splitlines() if line.startswith("|")]
    assert len(tables) == 4 and len({len(table_cells(line)) for line in tables}) == 1, tables


@pytest.mark.slow
def test_non_latin_label_names_leave_stderr_quiet(tmp_path: Path) -> None:
    """No "Glyph ... missing from font" per character, nor matplotlib's cache warnings
    (its config folder unwritable here)."""
    labels = ["喜び", "悲しみ", "ᚠᚢᚦ"]
    rows = [
        {"id": str(n), "labels": [labels[n % 3]], "gold": [labels[(n + 1) % 3]]} for n in range(6)
    ]
    results = write_jsonl(tmp_path / "results.jsonl", [{"status": "ok", **r} for r in rows])
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = labelwise(
        "evaluate",
        str(results),
        "--labels",
        ",".join(labels),
        "--bootstrap",
        "10",
        MPLCONFIGDIR=str(blocker / "mpl"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert (tmp_path / "per_label_f1.png").read_bytes().startswith(b"\x89PNG")


def test_report_html_of_a_run_with_gold_ranks_its_suspect_gold_first(tmp_path: Path) -> None:
    from tests.support.news_pool import LABELS, pool_rows

    truth = pool_rows(80, seed=2)
    flipped = {f"p{n}" for n in range(3, 80, 10)}  # 8 rows whose gold is wrong
    inputs, results = [], []
    for row in truth:
        right = list(row["labels"])  # type: ignore[call-overload]
        gold = ["none"] if row["id"] in flipped and right != ["none"] else right
        if row["id"] == "p3":
            row["text"] = f"{row['text']} {HOSTILE}"
        inputs.append({"id": row["id"], "text": row["text"]})
        results.append({"id": row["id"], "labels": right, "status": "ok", "gold": gold})
    write_jsonl(tmp_path / "input.jsonl", inputs)
    out = write_jsonl(tmp_path / "results.jsonl", results)
    metrics = evaluate_results(
        out, list(LABELS), out_dir=tmp_path, input_path=tmp_path / "input.jsonl", resamples=20
    )
    assert metrics is not None
    html = (tmp_path / "report.html").read_text()
    assert '<section id="audit"><h2>Gold that may be wrong</h2>' in html
    audit = html.split('<section id="audit">')[1].split("</section>")[0]
    ranked = re.findall(r'<tr><td class="num">\d+</td><td>(p\d+)</td>', audit)
    assert len(ranked) == 20  # the top rows, most suspect first
    wrong = {i for i in flipped if truth[int(i[1:])]["labels"] != ["none"]}
    assert wrong <= set(ranked)  # every wrong gold row among the 20 shown
    assert len(wrong & set(ranked[: len(wrong)])) >= 0.75 * len(wrong)  # most of them first
    assert "gold yes, model" in audit and "run no" in audit  # evidence: model and the run
    assert esc(HOSTILE) in audit and HOSTILE not in html
    # too few gold rows: the section says why, the rest of the page is whole
    few = tmp_path / "few"
    few.mkdir()
    small = scored_run(few)
    assert evaluate_results(small, ["x", "y"], out_dir=few, input_path=few / "input.jsonl")
    page = (few / "report.html").read_text()
    assert "The run&#x27;s gold was not audited" in page or "gold was not audited" in page
    assert "<h2>Errors</h2>" in page


def test_report_html_without_gold_has_no_audit(tmp_path: Path) -> None:
    from framework.evaluation.html_run import write_run_html

    results = write_jsonl(tmp_path / "results.jsonl", [{"id": "1", "labels": ["x"]}])
    html = write_run_html(results, ["x", "y"], out_dir=tmp_path, title="no gold").read_text()
    assert 'id="audit"' not in html and "Gold that may be wrong" not in html
