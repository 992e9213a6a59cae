"""Every config key with its type, default and meaning, as Markdown, from the schema.

    python -m framework.config.reference > docs/reference.md

One table per section of RunConfig (provider, model, taxonomy, ..., embeddings, ray),
then the `tune.*` keys of `labelwise tune`. A key's default is the value `labelwise
classify` gets with no override (the schema's default, then conf/config.yaml and the
default option of each config group), with the schema's own beside it where the two
differ; its meaning is what the schema says of it (framework.config.key_meanings). A
test compares docs/reference.md with render_reference().
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from framework.config.key_meanings import config_yaml_comments, field_meanings
from framework.config.schema import RunConfig
from framework.config.tune_settings import TuneSettings

__all__ = ["REGENERATE", "Row", "main", "render_reference", "rows_of"]

REGENERATE = "python -m framework.config.reference > docs/reference.md"

# The docs page that tells each section's story (docs/*.md, beside the reference).
PAGES = {
    "provider": "providers.md",
    "model": "providers.md",
    "taxonomy": "taxonomies.md",
    "prompt": "providers.md#prompts",
    "validation": "providers.md#validation-policies",
    "run": "large-runs.md",
    "cache": "large-runs.md#cache",
    "batch": "batch-jobs.md",
    "budget": "large-runs.md#budget",
    "columns": "large-runs.md#inputs-and-outputs",
    "sample": "large-runs.md#inputs-and-outputs",
    "strategy": "strategies-and-confidence.md",
    "thresholds": "strategies-and-confidence.md#thresholds-and-calibration",
    "chunking": "strategies-and-confidence.md#long-texts",
    "trained": "labeled-rows.md",
    "cascade": "labeled-rows.md#a-cascade-the-model-labels-what-it-is-sure-of-the-llm-the-rest",
    "distill": "labeled-rows.md#no-labeled-rows-a-model-distilled-from-the-llms-answers",
    "examples": "labeled-rows.md#labeled-examples-in-the-prompt",
    "embeddings": "labeled-rows.md#embeddings-likeness-and-features-from-an-embedding-model",
    "ray": "large-runs.md#a-ray-cluster",
    "route": "routing.md",
    "quality": "routing.md#targets",
    "tracking": "tracking.md",
    "tracing": "tracing.md",
    "tune": "experiments-and-tune.md#tuning-the-recipe-on-a-labeled-dev-file",
}
# The sections a config group fills as a whole (conf/GROUP/OPTION.yaml).
GROUPS = frozenset(
    {
        "provider",
        "model",
        "taxonomy",
        "prompt",
        "validation",
        "strategy",
        "examples",
        "embeddings",
        "tracking",
        "tracing",
    }
)
INTRO = f"""\
# Configuration reference

<!-- Generated from the schema by `{REGENERATE}`; do not edit by hand. -->

Every key a run reads, with its type, default and meaning, generated from the typed schema
(framework/config/) by `{REGENERATE}`; a test fails when this page
is stale. Set a key on the command line (`labelwise classify run.concurrency=16`), in an
experiment file or in a config group's YAML. The default is what `labelwise classify` gets
with no override: the schema's default, or the value conf/config.yaml and the default option
of each config group give it (the schema's own beside it where the two differ).
`labelwise classify --cfg job` prints the composed config."""
_MISSING = object()


@dataclass(frozen=True)
class Row:
    """One key of the reference."""

    key: str
    type: str
    default: str
    meaning: str


def main() -> None:
    print(render_reference(), end="")


def render_reference() -> str:
    """docs/reference.md: every key, one table per section."""
    composed, comments = _composed_defaults(), config_yaml_comments()
    sections: dict[str, list[Row]] = {"top level": []}
    for name, field in RunConfig.model_fields.items():
        rows = rows_of(RunConfig, composed, prefix="", only=name, comments=comments)
        section = "top level" if _model_in(field.annotation) is None else name
        sections.setdefault(section, []).extend(rows)
    sections["tune"] = rows_of(TuneSettings, {}, prefix="tune.")
    links = ", ".join(f"[{name}](#{name.replace(' ', '-')})" for name in sections)
    out = [INTRO, "", f"Sections: {links}.", ""]
    for name, rows in sections.items():
        out += _section(name, rows)
    return "\n".join(out).rstrip("\n") + "\n"


def rows_of(
    model: type[BaseModel],
    composed: dict[str, Any],
    *,
    prefix: str,
    only: str | None = None,
    comments: dict[str, str] | None = None,
) -> list[Row]:
    """The rows of a model's fields, nested sections flattened into dotted keys;
    `composed` holds the values the default config gives them, `comments` conf/config.yaml's
    comments by dotted key."""
    found: list[Row] = []
    meanings = field_meanings(model)
    for name, field in model.model_fields.items():
        if only is not None and name != only:
            continue
        key = f"{prefix}{name}"
        given = composed.get(name, _MISSING)
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):  # always there
            found += rows_of(section, _as_dict(given), prefix=f"{key}.", comments=comments)
            continue
        inner = _model_in(field.annotation)
        meaning = meanings.get(name) or (comments or {}).get(key, "")
        found.append(Row(key, _type_of(field), _default_of(field, given), meaning))
        if inner is not None:  # an optional section, or a list or mapping of sections
            keyed = get_origin(field.annotation) in (list, dict)
            part = f"{key}.ID." if keyed else f"{key}."
            found += rows_of(inner, {} if keyed else _as_dict(given), prefix=part)
    return found


def _section(name: str, rows: list[Row]) -> list[str]:
    field = RunConfig.model_fields.get(name)
    model = TuneSettings if name == "tune" else _model_in(field.annotation if field else None)
    doc = inspect.getdoc(model) or "" if model is not None and model.__doc__ else ""
    intro = " ".join(doc.split("\n\n")[0].split())
    out = [f"## {name}", ""] + ([intro, ""] if intro else [])
    if name in GROUPS:
        out += [f"A config group: `{name}=OPTION` picks conf/{name}/OPTION.yaml; the defaults"]
        out += ["below are those of the default option.", ""]
    if name == "tune":
        out += ["Keys of `labelwise tune` only (`labelwise tune --help` lists them too).", ""]
    if name in PAGES:
        out += [f"More in [{PAGES[name].split('#')[0]}]({PAGES[name]}).", ""]
    out += ["| key | type | default | meaning |", "|---|---|---|---|"]
    for row in rows:
        meaning = "" if row.meaning and row.meaning in intro else row.meaning  # said above
        cells = (row.type, row.default, meaning)
        out.append(f"| `{row.key}` | " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return [*out, ""]


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


# Types: `int >= 1 | null`, `list of (a | b), not empty` --------------------------


def _type_of(field: FieldInfo) -> str:
    args = get_args(field.annotation)
    if type(None) not in args:
        return _with_bounds(_type_text(field.annotation), field.metadata)
    kinds = [_type_text(arg) for arg in args if arg is not type(None)]
    return _with_bounds(" | ".join(kinds), field.metadata) + " | null"


def _type_text(annotation: Any) -> str:
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _with_bounds(_type_text(args[0]), args[1:])
    if origin in (Union, types.UnionType):
        return " | ".join(_type_text(arg) for arg in args)
    if origin is Literal:
        return " | ".join(str(arg) for arg in args)
    if origin in (list, dict) and _model_in(args[-1]) is not None:
        return "sections by ID (keys below)"
    if origin in (list, dict):
        inner = [f"({text})" if " " in text else text for text in map(_type_text, args)]
        return f"list of {inner[0]}" if origin is list else f"mapping of {inner[0]} to {inner[1]}"
    if annotation is SecretStr:
        return "secret str"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section (keys below)"
    return str(getattr(annotation, "__name__", annotation))


def _with_bounds(text: str, metadata: Any) -> str:
    signs, extras = [], []
    for item in metadata:
        for attribute, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(item, attribute, None) is not None:
                signs.append(f"{sign} {getattr(item, attribute)}")
        if getattr(item, "min_length", None):
            extras.append(f"at least {item.min_length}" if item.min_length > 1 else "not empty")
        if getattr(item, "pattern", None):
            extras.append(f"matching {item.pattern}")
    return ", ".join([f"{text} {', '.join(signs)}" if signs else text, *extras])


# Defaults -------------------------------------------------------------------------


def _composed_defaults() -> dict[str, Any]:
    """The tree `labelwise classify` composes with no override (interpolations unresolved)."""
    from omegaconf import OmegaConf

    from framework.config.load import compose

    tree = OmegaConf.to_container(compose([]), resolve=False)
    assert isinstance(tree, dict)
    return {str(key): value for key, value in tree.items() if key != "hydra"}


def _default_of(field: FieldInfo, given: Any) -> str:
    if field.is_required():
        return "required" if given is _MISSING or given == "???" else _value(given)
    own = field.get_default(call_default_factory=True)
    if isinstance(own, BaseModel):
        own = own.model_dump(mode="json")
    if given is _MISSING or given == own:
        return _value(own)
    return f"{_value(given)} (schema: {_value(own)})"


def _value(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if value == "":
        return '`""`'
    text = repr(value).replace("'", "") if isinstance(value, list | dict) else str(value)
    if len(text) <= 60:
        return f"`{text}`"
    if isinstance(value, dict):
        return "{" + ", ".join(map(str, value)) + "}"
    return f"{len(value)} items" if isinstance(value, list) else f"`{text[:57]}...`"


if __name__ == "__main__":
    main()
