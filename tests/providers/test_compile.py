"""What goes on the wire: the compiled litellm request for each output mode."""

from __future__ import annotations

import pytest

from framework.config.load import compose, load_run_config
from framework.config.schema import ModelConfig, ProviderConfig
from framework.errors import ConfigError
from framework.labels.label_set import LabelSet
from framework.providers.compile import compile_request, make_plan
from framework.providers.profiles import PROFILES, choose_output_mode
from tests.support import assert_golden

MESSAGES = ({"role": "system", "content": "S"}, {"role": "user", "content": "U"})


def plan_for(kind: str, mode: str, *overrides: str):  # type: ignore[no-untyped-def]
    config = load_run_config(compose(["provider=openai", "model=gpt-4o-mini", *overrides]))
    schema = LabelSet.build(config.taxonomy, config.validation).schema()
    return make_plan(profile=PROFILES[kind], model=config.model, mode=mode, schema=schema)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "mode"),
    [
        ("openai", "json_schema"),
        ("openai", "tool"),
        ("openai_compatible", "json_object"),
        ("openai", "prompted"),
        ("anthropic", "tool"),
        ("local", "json_object"),
        ("ollama", "json_schema"),
    ],
)
def test_compiled_request_matches_golden(kind: str, mode: str) -> None:
    request = compile_request(MESSAGES, plan_for(kind, mode))
    assert_golden(f"request_{kind}_{mode}.json", dict(request.kwargs))


def test_schema_is_an_array_of_enum_with_unique_and_max_items() -> None:
    config = load_run_config(compose([]))
    labels = LabelSet.build(config.taxonomy, config.validation).schema()["properties"]["labels"]
    assert labels["items"]["enum"] == ["space", "science", "technology", "climate", "none"]
    assert labels["uniqueItems"] is True
    assert labels["maxItems"] == 4  # "none" stands alone
    assert labels["minItems"] == 1


def test_openai_strict_schema_leaves_out_unique_items_but_keeps_max_items() -> None:
    request = compile_request(MESSAGES, plan_for("openai", "json_schema"))
    labels = request.kwargs["response_format"]["json_schema"]["schema"]["properties"]["labels"]
    assert "uniqueItems" not in labels and labels["maxItems"] == 4


def test_anthropic_gets_no_seed() -> None:
    request = compile_request(MESSAGES, plan_for("anthropic", "tool"))
    assert "seed" not in request.kwargs and request.kwargs["temperature"] == 0.0


def test_key_is_a_content_hash_that_ignores_nothing_that_matters() -> None:
    plan = plan_for("openai", "json_schema")
    a = compile_request(MESSAGES, plan)
    assert a.key == compile_request(MESSAGES, plan).key
    other_text = ({"role": "system", "content": "S"}, {"role": "user", "content": "V"})
    assert a.key != compile_request(other_text, plan).key
    assert a.key != compile_request(MESSAGES, plan_for("openai", "json_schema", "model.seed=1")).key
    assert a.key != compile_request(MESSAGES, plan_for("openai", "tool")).key
    assert "api_key" not in a.kwargs


def test_compiling_leaves_the_plan_alone() -> None:
    plan = plan_for("openai", "tool")
    before = repr(plan)
    compile_request(MESSAGES, plan)
    assert repr(plan) == before


def no_litellm(model: str, prefix: str) -> tuple[bool, bool, bool]:
    raise AssertionError("litellm must not be consulted here")


@pytest.mark.parametrize(
    ("kind", "known", "expected"),
    [
        ("openai", (True, True, True), "json_schema"),
        ("openai", (True, False, True), "tool"),
        ("openai", (True, False, False), "prompted"),
        ("openai", (False, False, False), "json_schema"),
        ("anthropic", (False, False, False), "tool"),
        ("openai_compatible", (False, False, False), "json_schema"),
    ],
)
def test_auto_mode_follows_litellm_or_the_profile_default(
    kind: str, known: tuple[bool, bool, bool], expected: str
) -> None:
    provider = ProviderConfig(kind=kind, api_base="http://127.0.0.1:1/v1")  # type: ignore[arg-type]
    choice = choose_output_mode(provider, ModelConfig(name="m"), lambda m, p: known)
    assert choice.mode == expected
    assert choice.reason


@pytest.mark.parametrize("kind", ["local", "llamacpp", "ollama"])
def test_servers_with_one_schema_shape_do_not_ask_litellm(kind: str) -> None:
    provider = ProviderConfig(kind=kind, api_base="http://127.0.0.1:1/v1")  # type: ignore[arg-type]
    choice = choose_output_mode(provider, ModelConfig(name="m"), no_litellm)
    assert choice.mode == PROFILES[kind].default_mode  # type: ignore[index]


@pytest.mark.parametrize(
    ("kind", "mode"), [("local", "json_schema"), ("llamacpp", "tool"), ("openai", "json_object")]
)
def test_an_impossible_forced_mode_is_a_config_error(kind: str, mode: str) -> None:
    provider = ProviderConfig(kind=kind, api_base="http://x/v1", output_mode=mode)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=f"provider.output_mode: {mode} is not possible"):
        choose_output_mode(provider, ModelConfig(name="m"), no_litellm)
