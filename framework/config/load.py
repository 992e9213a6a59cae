"""From overrides to a validated RunConfig, with errors that name the key or file.

    compose(["provider=openai", "model.temperature=0.2"])  -> DictConfig
    load_run_config(cfg)                                   -> RunConfig

`compose` builds the same tree `labelwise classify` sees, without touching
Hydra's global state, so it also works inside a user's own @hydra.main app.
Every Hydra, OmegaConf and schema error becomes a ConfigError of one or two
lines: the dotted key, what is wrong, a "did you mean" where one is close, and
the config file the value came from.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import yaml
from hydra._internal.config_loader_impl import ConfigLoaderImpl
from hydra._internal.utils import create_config_search_path
from hydra.core.config_store import ConfigStore
from hydra.errors import (
    ConfigCompositionException,
    HydraException,
    MissingConfigException,
    OverrideParseException,
)
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException
from pydantic import BaseModel, ValidationError

from framework.config.moved_keys import add_old_paths, move_keys, said_as_written
from framework.config.origins import Origins
from framework.config.schema import RunConfig
from framework.config.yaml_guard import refuse_alias_bombs
from framework.errors import ConfigError, did_you_mean
from framework.resources import conf_dir

__all__ = ["compose", "describe_hydra_error", "load_run_config", "register_schema_defaults"]


SCHEMA_NODE = "labelwise_schema"


def register_schema_defaults() -> None:
    """Give Hydra every schema key with its default, as the config `labelwise_schema`.

    conf/config.yaml lists it first in its defaults, so any key of the schema can
    be overridden on the command line (model.seed=3) even where no YAML file sets
    it, while a misspelt key still fails. Required keys without a default are ???.
    """
    node = _defaults(RunConfig)
    add_old_paths(node)  # run.ray.*, trained.distill.*: still accepted (moved_keys)
    ConfigStore.instance().store(name=SCHEMA_NODE, node=node)


def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    node: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        # A list or mapping of models (budget.tiers) is a value, not a section.
        is_container = getattr(field.annotation, "__origin__", None) in (list, dict)
        inner = None if is_container else _model_in(field.annotation)
        if field.is_required():
            node[name] = _defaults(inner) if inner is not None else "???"
        elif inner is not None and field.default is not None:
            node[name] = _defaults(inner)
        else:
            value = field.get_default(call_default_factory=True)
            node[name] = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
    return node


def compose(overrides: Sequence[str] = (), *, config_dir: Path | None = None) -> DictConfig:
    """The composed config tree for these command-line style overrides."""
    register_schema_defaults()
    refuse_alias_bombs(overrides, config_dir=config_dir or conf_dir())
    search_path = create_config_search_path(str(config_dir or conf_dir()))
    loader = ConfigLoaderImpl(config_search_path=search_path)
    try:
        return loader.load_configuration(
            config_name="config", overrides=list(overrides), run_mode=RunMode.RUN
        )
    except (HydraException, OmegaConfBaseException, yaml.YAMLError) as error:
        raise ConfigError(describe_hydra_error(error)) from None


def load_run_config(cfg: DictConfig) -> RunConfig:
    """Validate a composed tree against the schema; the one place config is checked."""
    origins = Origins.of(cfg)
    plain = {key: cfg[key] for key in cfg if key != "hydra"}
    try:
        container = OmegaConf.to_container(
            OmegaConf.create(plain), resolve=True, throw_on_missing=True
        )
    except MissingMandatoryValue as error:
        key = error.full_key or "?"
        raise ConfigError(
            f"{key}: required but not set; give it on the command line ({key}=...)"
            + origins.describe(key)
        ) from None
    except OmegaConfBaseException as error:
        key = getattr(error, "full_key", None) or "config"
        raise ConfigError(f"{key}: {_first_line(str(error))}" + origins.describe(key)) from None
    assert isinstance(container, dict)
    try:
        moved = move_keys(cast(dict[str, Any], container), _defaults(RunConfig))
    except ValueError as error:
        raise ConfigError(str(error)) from None
    try:
        return RunConfig.model_validate(container)
    except ValidationError as error:
        key, text = _describe_validation_error(error)
        said = said_as_written(text, moved)
        raise ConfigError(said + origins.describe(said_as_written(key, moved))) from None


def describe_hydra_error(error: Exception) -> str:
    """One or two lines for a composition error (unknown option, unknown key, bad override,
    a YAML file that does not parse)."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        context = (
            f" ({error.context} at line {error.context_mark.line + 1})"
            if (error.context and error.context_mark)
            else ""
        )
        return f"{mark.name}:{mark.line + 1}: {error.problem}{context}"
    if isinstance(error, MissingConfigException) and error.missing_cfg_file:
        group, _, option = error.missing_cfg_file.rpartition("/")
        options = list(error.options or [])
        if group and options:
            return (
                f"{group}={option}: no such option{did_you_mean(option, options)}; "
                f"choose one of: {', '.join(options)}"
            )
    text = str(error)
    if isinstance(error, OverrideParseException):
        return f"{error.override}: not an override Hydra can read ({_first_line(error.message)})"
    unknown = re.search(r"Could not override '([^']+)'", text)
    if isinstance(error, ConfigCompositionException) and unknown:
        key = unknown.group(1)
        parent, _, leaf = key.rpartition(".")
        known = _schema_keys(parent.split(".") if parent else [])
        if known is not None and leaf not in known:
            return f"{key}: not a known key{did_you_mean(leaf, known)}; known keys: " + ", ".join(
                sorted(known)
            )
        cause = error.__cause__
        inner = re.search(r"Key '([^']+)' is not in struct", str(cause or ""))
        parents = parent.split(".")
        if known is not None and inner and inner.group(1) in parents:
            # a key inside a mapping entry not there yet (budget.tiers.strong.max_cost)
            mapping = ".".join(parents[: parents.index(inner.group(1))])
            return f"{key}: {mapping} has no entry {inner.group(1)!r} yet; add it with +{key}=VALUE"
        if known is not None and inner and inner.group(1) != leaf:
            return (
                f"{key}: a mapping without the key {inner.group(1)!r}; add one entry with "
                f"+{key}.{inner.group(1)}=VALUE, or replace it whole with ++{key}={{...}}"
            )
        if known is not None:
            return f"{key}: not set in the config files; add it with +{key}=VALUE"
        return _where_it_leaves(key.split(".")) or (
            f"{key}: {_first_line(str(cause) if cause else text)}"
        )
    return _first_line(text) + (
        f"\n  {_first_line(str(error.__cause__))}" if error.__cause__ else ""
    )


def _describe_validation_error(error: ValidationError) -> tuple[str, str]:
    """The dotted key a schema error is about, and one line saying what is wrong."""
    problems = error.errors()
    first = problems[0]
    path = [str(part) for part in first["loc"]]
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        known = _schema_keys(path[:-1]) or []
        text = f"{'.'.join(path)}: not a known key{did_you_mean(path[-1], known)}"
    elif first["type"] == "missing":
        text = f"{'.'.join(path)}: required but not set"
    else:
        named = re.match(r"^([A-Za-z_][^:\n]*?): (.*)$", message, re.DOTALL)
        known = _schema_keys(path) or []
        if named and named.group(1).split(".")[0] in known:
            path, message = [*path, named.group(1)], named.group(2)
        if first["type"] != "value_error":
            message = f"{message} (got {first.get('input')!r})"
        text = f"{'.'.join(path)}: {message}"
    if len(problems) > 1:
        text += f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})"
    return ".".join(path), text


def _schema_keys(path: Sequence[str]) -> list[str] | None:
    """The field names of the schema model at a dotted path, or None if it is not a model."""
    model: type[BaseModel] = RunConfig
    keyed = False  # the previous part named a list or mapping of models: this one is a key
    for part in path:
        if keyed:
            keyed = False
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        inner = _model_in(field.annotation)
        if inner is None:
            return None
        model = inner
        keyed = getattr(field.annotation, "__origin__", None) in (list, dict)
    return list(model.model_fields)


def _where_it_leaves(parts: Sequence[str]) -> str | None:
    """For a dotted key whose parent is no section: the first part that is not a key
    (foo.bar=1), or a single value given a key under it (output.results=x). None inside
    a mapping or list, whose keys are the user's."""
    model: type[BaseModel] = RunConfig
    for depth, part in enumerate(parts[:-1]):
        name = ".".join(parts[: depth + 1])
        field = model.model_fields.get(part)
        if field is None:
            known = sorted(model.model_fields)
            return f"{name}: not a known key{did_you_mean(part, known)}; known keys: " + (
                ", ".join(known)
            )
        if _holds_keys(field.annotation):
            return None
        inner = _model_in(field.annotation)
        if inner is None:
            return f"{name}: a single value, not a section; set it with {name}=VALUE"
        model = inner
    return None


def _holds_keys(annotation: Any) -> bool:
    """A mapping or a list (somewhere in a union): its keys are not the schema's."""
    if getattr(annotation, "__origin__", None) in (dict, list):
        return True
    return any(_holds_keys(arg) for arg in getattr(annotation, "__args__", ()))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "invalid configuration"
