"""Config loading: every bad config names its key or file in one or two lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from framework.config.load import compose, load_run_config
from framework.engine.prompt import PromptRenderer
from framework.errors import ConfigError
from framework.labels.label_set import LabelSet
from tests.support import REPO


def load_error(*overrides: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_run_config(compose(list(overrides)))
    return str(caught.value)


def test_default_config_loads() -> None:
    config = load_run_config(compose([]))
    assert config.provider.kind == "local"
    assert config.taxonomy.name == "news"
    assert [label.id for label in config.taxonomy.labels] == [
        "space",
        "science",
        "technology",
        "climate",
        "none",
    ]


def test_support_tickets_taxonomy_loads() -> None:
    config = load_run_config(compose(["taxonomy=support_tickets"]))
    assert [label.id for label in config.taxonomy.labels] == ["ACCOUNT", "BILLING", "GENERAL_QUERY"]
    assert all(label.examples for label in config.taxonomy.labels)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["provider=opnai"], "provider=opnai: no such option (did you mean openai?)"),
        (["taxonomy=nope"], "taxonomy=nope: no such option"),
        (
            ["validation.max_retires=3"],
            "validation.max_retires: not a known key (did you mean max_retries?)",
        ),
        (
            ["+validation.max_retires=3"],
            "validation.max_retires: not a known key (did you mean max_retries?)",
        ),
        (
            ["taxonomy.labels.science.aliases=[SPACE]"],
            "taxonomy.labels.science: 'SPACE' names both 'space' and 'science'",
        ),
        (
            ["+taxonomy.labels.science.parent=biology"],
            "taxonomy.labels.science.parent: 'biology' is not a label id",
        ),
        (
            ["taxonomy.labels.science.parent=space"],
            "taxonomy.labels.science.parent: not set in the config files; add it with +taxonomy.labels.science.parent=VALUE",
        ),
        (
            ["taxonomy.labels.science.parnt=space"],
            "taxonomy.labels.science.parnt: not a known key (did you mean parent?)",
        ),
        (["taxonomy.none_label=nada"], "taxonomy.none_label: 'nada' is not a label id"),
        (["provider=openai_compatible"], "provider.api_base: required"),
        (["model.temperature=hot"], "model.temperature: Input should be a valid number"),
        (
            ["validation.on_unknown_label=ignore"],
            "validation.on_unknown_label: Input should be 'retry', 'drop' or 'fail'",
        ),
        (
            ["validation.min_labels=3", "validation.max_labels=2"],
            "validation.min_labels: 3 is greater than max_labels (2)",
        ),
        (["run.concurency=2"], "run.concurency: not a known key (did you mean concurrency?)"),
        (
            ["thresholds.per_label={space: 0.3}"],
            "thresholds.per_label: a mapping without the key 'space'; add one entry with +thresholds.per_label.space=VALUE",
        ),
        (["foo.bar=1"], "foo: not a known key; known keys: batch, budget,"),
        (["output.results=x"], "output: a single value, not a section; set it with output=VALUE"),
        (["model.extra.foo=1"], "model.extra: not a known key; known keys:"),
        (
            ["budget.tiers.strong.max_cost=1"],
            "budget.tiers.strong.max_cost: budget.tiers has no entry 'strong' yet; add it with +budget.tiers.strong.max_cost=VALUE",
        ),
        (
            ["provider=openai", "model=gpt-4o-mini", "provider.output_mode=json_object"],
            "provider.output_mode: json_object is not possible",
        ),
    ],
)
def test_config_errors_name_the_key(overrides: list[str], expected: str) -> None:
    # What a provider needs (an api_base, a possible output mode) is checked where the run
    # is built, from the provider's profile; the rest when the config is loaded.
    built = "output_mode" in expected or "api_base" in expected
    message = _mode_error(overrides) if built else load_error(*overrides)
    assert expected in message
    assert len(message.splitlines()) <= 2


def _mode_error(overrides: list[str]) -> str:
    from framework.engine.classifier import Classifier

    with pytest.raises(ConfigError) as caught:
        Classifier(load_run_config(compose([*overrides])))
    return str(caught.value)


def test_yaml_errors_name_the_file(tmp_path: Path) -> None:
    conf = _copy_conf(tmp_path)
    (conf / "validation" / "typo.yaml").write_text("on_unknown_lable: drop\n")
    with pytest.raises(ConfigError) as caught:
        load_run_config(compose(["validation=typo"], config_dir=conf))
    message = str(caught.value)
    assert (
        "validation.on_unknown_lable: not a known key (did you mean on_unknown_label?)" in message
    )
    assert "validation/typo.yaml" in message


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("labels: {}\n", "taxonomy.labels: no labels left; a taxonomy needs at least one label"),
        ("labels:\n  a: {}\n  b: {}\n  a: {description: again}\n", "found duplicate key a"),
        ("labels:\n  - {id: a}\n  - {id: a}\n", "taxonomy.labels: duplicate id 'a'"),
        ("remove: [a]\nlabels:\n  a: {}\n", "taxonomy.labels: no labels left"),
    ],
)
def test_bad_taxonomy_files_name_the_file(tmp_path: Path, body: str, expected: str) -> None:
    (tmp_path / "taxonomy").mkdir()
    (tmp_path / "taxonomy" / "mine.yaml").write_text(f"name: mine\nversion: '1'\n{body}")
    with pytest.raises(ConfigError) as caught:
        load_run_config(compose([f"hydra.searchpath=[file://{tmp_path}]", "taxonomy=mine"]))
    assert expected in str(caught.value)
    assert "taxonomy/mine.yaml" in str(caught.value)


def test_missing_template_is_a_config_error() -> None:
    config = load_run_config(compose(["prompt.template=multilabel.v9"]))
    with pytest.raises(
        ConfigError, match=r"prompt template 'multilabel.v9'.*did you mean multilabel.v[12]"
    ):
        PromptRenderer(config.prompt, LabelSet.build(config.taxonomy, config.validation))


def test_template_with_an_undefined_variable_names_file_line_and_variable(tmp_path: Path) -> None:
    template = tmp_path / "mine.jinja"
    template.write_text("Label this.\n{{ text }}\nUse {{ taxonomi }}.\n")
    config = load_run_config(compose([f"prompt.template={template}"]))
    with pytest.raises(ConfigError) as caught:
        PromptRenderer(config.prompt, LabelSet.build(config.taxonomy, config.validation))
    assert f"{template}:3: the template uses 'taxonomi'" in str(caught.value)
    assert "did you mean taxonomy?" in str(caught.value)


def test_template_syntax_error_names_the_line(tmp_path: Path) -> None:
    template = tmp_path / "broken.jinja"
    template.write_text("{{ text }}\n{% for label in labels %}\n")
    config = load_run_config(compose([f"prompt.template={template}"]))
    with pytest.raises(ConfigError, match=r"broken.jinja:\d+: template syntax error"):
        PromptRenderer(config.prompt, LabelSet.build(config.taxonomy, config.validation))


@pytest.mark.slow
def test_missing_api_key_says_which_variable() -> None:
    from framework.engine.classifier import Classifier

    config = load_run_config(compose(["provider=openai", "model=gpt-4o-mini"]))
    with pytest.raises(ConfigError, match="set OPENAI_API_KEY"):
        Classifier(config)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["provider=opnai"], "provider=opnai: no such option"),
        (["validation.max_retires=3"], "validation.max_retires: not a known key"),
        (["taxonomy.remove=[nope]"], "taxonomy.remove: 'nope' not in the labels"),
        (
            ["prompt.template=multilabel.v9", "input=examples/news/items.jsonl"],
            "prompt template 'multilabel.v9'",
        ),
        (
            [
                "input=does/not/exist.jsonl",
                "provider=openai_compatible",
                "provider.api_base=http://127.0.0.1:9/v1",
                "model.name=m",
            ],
            "does/not/exist.jsonl does not exist",
        ),
        (
            [
                "provider=openai_compatible",
                "provider.api_base=http://127.0.0.1:9/v1",
                "model.name=m",
            ],
            "input: required",
        ),
    ],
)
@pytest.mark.slow
def test_cli_config_errors_exit_2_without_traceback(
    args: list[str], expected: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "framework", "classify", *args, f"hydra.run.dir={tmp_path}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr


def _copy_conf(tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "conf"
    shutil.copytree(REPO / "conf", target)
    return target


def test_an_error_in_an_extended_taxonomy_names_the_file_that_defines_the_label(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "taxonomy"
    folder.mkdir()
    (folder / "base.yaml").write_text(
        "name: base\nversion: '1'\nlabels:\n  A: {}\n  B: {parent: A}\n"
    )
    (folder / "team.yaml").write_text(
        "defaults:\n  - base\n  - _self_\nname: team\nversion: '2'\nlabels:\n  C: {parent: Z}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_run_config(compose([f"hydra.searchpath=[file://{tmp_path}]", "taxonomy=team"]))
    message = str(caught.value)
    assert "taxonomy.labels.C.parent: 'Z' is not a label id" in message
    assert f"in {folder / 'team.yaml'} (which extends base)" in message
