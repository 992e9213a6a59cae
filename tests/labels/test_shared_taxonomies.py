"""Shared taxonomies (examples/shared_taxonomies, examples/taxonomy_package):
teams extend a base from their own folders, a package ships taxonomies, and
the README commands work from the repository root."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

from framework.config.load import compose, load_run_config
from framework.config.schema import TaxonomyConfig
from framework.labels.taxonomy import taxonomy_hash
from framework.testing import Reply, StubServer
from tests.support import REPO, read_jsonl, stub_overrides

SHARED = REPO / "examples" / "shared_taxonomies"
PACKAGE = REPO / "examples" / "taxonomy_package"
BASE = ["ACCOUNT_ACCESS", "BILLING", "BUG_REPORT", "FEATURE_REQUEST", "HOW_TO", "OTHER"]


def team_overrides(team: str) -> list[str]:
    # relative file:// folders are read from the current directory (the repo root here)
    folders = f"file://{SHARED / 'shared'},file://{SHARED / team}"
    return [f"hydra.searchpath=[{folders}]", f"taxonomy={team}"]


def team_taxonomy(team: str) -> TaxonomyConfig:
    return load_run_config(compose(team_overrides(team))).taxonomy


def current_ids(taxonomy: TaxonomyConfig) -> list[str]:
    return [label.id for label in taxonomy.current]


def test_support_team_extends_the_base() -> None:
    taxonomy = team_taxonomy("support_team")
    expected = [i for i in BASE if i != "BILLING"] + ["OUTAGE", "DATA_PRIVACY"]
    assert current_ids(taxonomy) == expected
    assert (taxonomy.name, taxonomy.version, taxonomy.none_label) == (
        "support_team",
        "1.1.0",
        "OTHER",
    )
    assert taxonomy.lineage == {"support_base": "2.0.0", "support_team": "1.1.0"}
    bug = next(label for label in taxonomy.labels if label.id == "BUG_REPORT")
    assert bug.description.startswith("One feature misbehaves for this customer")
    assert bug.aliases == ["bug"], "fields the team did not override come from the base"
    retired = next(label for label in taxonomy.labels if label.id == "GENERAL_QUERY")
    assert retired.deprecated and retired.replaced_by == "HOW_TO"


def test_billing_team_extends_the_base() -> None:
    taxonomy = team_taxonomy("billing_team")
    kept = ["ACCOUNT_ACCESS", "HOW_TO", "OTHER"]
    added = ["REFUND", "INVOICE", "PAYMENT_FAILED", "UPGRADE", "DOWNGRADE"]
    assert current_ids(taxonomy) == kept + added
    assert taxonomy.lineage == {"support_base": "2.0.0", "billing_team": "1.2.0"}
    assert taxonomy.exclusive == {"plan_change": ["UPGRADE", "DOWNGRADE"]}
    other = next(label for label in taxonomy.labels if label.id == "OTHER")
    assert other.description.startswith("Not a billing matter")


def test_each_team_has_its_own_hash() -> None:
    base = load_run_config(
        compose([f"hydra.searchpath=[file://{SHARED / 'shared'}]", "taxonomy=support_base"])
    ).taxonomy
    hashes = {
        taxonomy_hash(t)
        for t in (base, team_taxonomy("support_team"), team_taxonomy("billing_team"))
    }
    assert len(hashes) == 3


def test_the_teams_gold_labels_are_their_own() -> None:
    for team in ("support_team", "billing_team"):
        ids = set(current_ids(team_taxonomy(team)))
        rows = read_jsonl(SHARED / team / "tickets.jsonl")
        assert 10 <= len(rows) <= 15
        assert all(row["labels"] and set(row["labels"]) <= ids for row in rows), team
        assert len({label for row in rows for label in row["labels"]}) >= len(ids) - 1, team


def labelwise(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "framework", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True", **(env or {})},
        timeout=180,
    )


def readme_commands() -> list[list[str]]:
    readme = (SHARED / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.DOTALL)
    assert block, "the README has a bash block of commands"
    lines = [line for line in block.group(1).splitlines() if line.startswith("labelwise ")]
    return [shlex.split(line)[1:] for line in lines]


def test_the_readme_lint_commands_find_no_problems() -> None:
    commands = [args for args in readme_commands() if args[0] == "lint"]
    assert len(commands) == 2
    for args in commands:
        result = labelwise(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "  built from examples/shared_taxonomies/shared/taxonomy/support_base.yaml" in (
            result.stdout
        )


def test_the_readme_shows_the_merged_taxonomy() -> None:
    (args,) = [args for args in readme_commands() if "--cfg" in args]
    result = labelwise(*args)
    assert result.returncode == 0, result.stderr
    assert "name: billing_team" in result.stdout and "REFUND:" in result.stdout


def gold_answers(tickets: Path) -> Any:
    """A stub that answers each ticket with its gold labels."""
    gold = {row["text"]: row["labels"] for row in read_jsonl(tickets)}

    def respond(request: dict[str, Any]) -> Reply:
        asked = [m["content"] for m in request["messages"] if m["role"] == "user"][-1]
        labels = next(labels for text, labels in gold.items() if text in str(asked))
        return Reply(content=json.dumps({"labels": labels}))

    return respond


@pytest.mark.slow
@pytest.mark.parametrize("team", ["support_team", "billing_team"])
def test_the_readme_classify_command_runs_a_team(team: str, tmp_path: Path) -> None:
    (args,) = [
        args
        for args in readme_commands()
        if args[0] == "classify" and f"taxonomy={team}" in args and "--cfg" not in args
    ]
    tickets = REPO / next(a.split("=", 1)[1] for a in args if a.startswith("input="))
    out = tmp_path / "results.jsonl"
    with StubServer(responder=gold_answers(tickets)) as stub:
        extra = [*stub_overrides(stub), f"output={out}", f"hydra.run.dir={tmp_path / 'run'}"]
        result = labelwise(*args, *extra)
    assert result.returncode == 0, result.stderr
    taxonomy = team_taxonomy(team)
    rows = read_jsonl(out)
    assert len(rows) == len(read_jsonl(tickets)) and all(r["status"] == "ok" for r in rows)
    assert all(set(r["labels"]) <= set(current_ids(taxonomy)) for r in rows)
    assert all(r["labels"] == r["gold"] for r in rows)
    for row in rows:  # the taxonomy stamp, where the runner writes one
        if "taxonomy_hash" in row:
            assert row["taxonomy"] == f"{team}@{taxonomy.version}"
            assert taxonomy_hash(taxonomy).startswith(row["taxonomy_hash"])


@pytest.fixture(scope="module")
def installed_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "--no-cache-dir",
            "--target",
            str(target),
            str(PACKAGE),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert (target / "acme_taxonomies" / "taxonomy" / "acme_feedback.yaml").is_file()
    return target


@pytest.mark.slow
def test_a_package_ships_taxonomies(installed_package: Path) -> None:
    env = {"PYTHONPATH": str(installed_package)}
    result = labelwise(
        "lint", "hydra.searchpath=[pkg://acme_taxonomies]", "taxonomy=acme_feedback_mobile", env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "  built from pkg://acme_taxonomies/taxonomy/acme_feedback.yaml\n" in result.stdout
    assert "  in pkg://acme_taxonomies/taxonomy/acme_feedback_mobile.yaml\n" in result.stdout
    script = (
        "from framework.config.load import compose, load_run_config;"
        "c = compose(['hydra.searchpath=[pkg://acme_taxonomies]', 'taxonomy=acme_feedback_mobile']);"
        "print(' '.join(label.id for label in load_run_config(c).taxonomy.current))"
    )
    composed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **env},
        timeout=120,
    )
    assert composed.returncode == 0, composed.stderr
    assert composed.stdout.split() == [
        "PERFORMANCE",
        "RELIABILITY",
        "USABILITY",
        "PRICING",
        "MISSING_FEATURE",
        "NO_ASPECT",
        "OFFLINE",
        "PERMISSIONS",
    ]


@pytest.mark.skipif(find_spec("acme_taxonomies") is not None, reason="the package is installed")
def test_without_the_package_the_option_is_missing() -> None:
    result = labelwise("lint", "hydra.searchpath=[pkg://acme_taxonomies]", "taxonomy=acme_feedback")
    assert result.returncode == 2
    assert "labelwise: error: taxonomy=acme_feedback: no such option" in result.stderr
