"""Checking a taxonomy against the practices that make labels work.

    lint_taxonomy(taxonomy, hierarchy="add_parents") -> [Finding]

Errors are what the schema rejects (framework.config.taxonomy_checks and the
TaxonomyConfig fields), all of them at once rather than the first one: lint
reads the raw composed taxonomy before any model is built. Warnings are the
practices of docs/taxonomies.md ("Linting"): a flat set of at most MAX_LABELS labels, a way
out for inputs that match nothing, one level of abstraction, labels that do
not read alike, a description on every label, examples for all or none,
replacements for retired labels, a lineage that names the taxonomy itself.
`labelwise lint` prints them (framework/cli/commands/lint.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import ValidationError

from framework.config.schema import LabelSpec, TaxonomyConfig
from framework.config.taxonomy_checks import read_labels, structural_problems
from framework.errors import did_you_mean
from framework.labels.alike import EVERY_PAIR_LIMIT, alike_names, alike_word_sets
from framework.labels.lookalikes import describe, lookalikes, scripts

__all__ = ["Finding", "Level", "lint_taxonomy"]

Level = Literal["error", "warning"]
Hierarchy = Literal["add_parents", "leaves_only", "as_is"]

# The seed practice: keep label sets under 20-30; models confuse large flat sets.
MAX_LABELS = 30
# difflib ratio at which two ids or display names read as the same label
# (REFUND/REFUNDS 0.92, ACCOUNT/ACCOUNTS 0.93; UPGRADE/DOWNGRADE 0.63).
NAME_SIMILARITY = 0.85
# Share of content words two descriptions have in common (Jaccard) at which
# they describe the same thing (the bundled taxonomies and examples stay under 0.3).
DESCRIPTION_OVERLAP = 0.5
# Descriptions shorter than this (in content words) are not compared.
MIN_DESCRIPTION_WORDS = 3
# Once this share of the labels have examples, the labels without any stand out.
EXAMPLES_SHARE = 0.5
# Names (id, display name or alias) that make a label the catch-all for inputs
# that match nothing, whether or not it is the none_label.
CATCH_ALL_NAMES = frozenset(
    {"none", "other", "others", "misc", "miscellaneous", "unknown", "general", "no label"}
)
_STOPWORDS = frozenset(
    (
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "are",
        "from",
        "not",
        "any",
        "its",
        "about",
        "what",
        "who",
        "how",
        "but",
        "all",
        "other",
        "into",
        "their",
        "them",
        "they",
        "has",
        "have",
        "can",
        "use",
        "one",
    )
)
_ERROR_REASONS = {  # by the last part of the key, else the first
    "parent": "a hierarchy needs parents that are current labels, without cycles",
    "replaced_by": "old answers and gold data are read as the replacement: a current label",
    "none_label": "the none label answers inputs that match nothing: it must be a current label",
    "exclusive": "an exclusive group names two current labels or more, never answered together",
    "remove": "remove takes out labels of the taxonomies this one extends, and no others",
    "labels": "an answer names a label by its id or an alias, so each must name one label",
}
_SCHEMA_REASON = "the schema rejects this taxonomy: classify stops at the first such problem"
_LOOKALIKE_REASON = (
    "names that look the same cannot be told apart by the people who read the results, "
    "and a model answers the one it can spell: write each id in one script, and make ids "
    "differ in what they show"
)


@dataclass(frozen=True)
class Finding:
    level: Level
    key: str
    message: str
    reason: str


def lint_taxonomy(
    taxonomy: TaxonomyConfig | Mapping[str, Any], *, hierarchy: Hierarchy = "add_parents"
) -> list[Finding]:
    """Every error and warning, errors first, of a TaxonomyConfig or the raw composed
    mapping; `hierarchy` (the validation policy's) decides if parents are offered."""
    raw = taxonomy.model_dump() if isinstance(taxonomy, TaxonomyConfig) else dict(taxonomy)
    labels, errors = _read_labels(raw)
    errors += _field_errors(raw)
    none_label = raw.get("none_label") if isinstance(raw.get("none_label"), str) else None
    exclusive = raw.get("exclusive")
    groups = (
        {str(k): [str(m) for m in v] for k, v in exclusive.items() if isinstance(v, list)}
        if (isinstance(exclusive, Mapping))
        else {}
    )
    for problem in structural_problems(labels, none_label=none_label, exclusive=groups):
        errors.append(Finding("error", problem.key, problem.message, _reason(problem.key)))
    errors += _lookalike_errors(labels)
    current = [label for label in labels if not label.deprecated]
    read = _Read(raw, labels, current, none_label, hierarchy)
    warnings = [
        Finding("warning", key, message, reason)
        for check, reason in WARNINGS
        for key, message in check(read)
    ]
    return [*errors, *warnings]


def _read_labels(raw: Mapping[str, Any]) -> tuple[list[LabelSpec], list[Finding]]:
    labels, problems = read_labels(raw)
    reasons = {"remove": _ERROR_REASONS["remove"]}
    return labels, [
        Finding("error", p.key, p.message, reasons.get(p.key, _SCHEMA_REASON)) for p in problems
    ]


def _reason(key: str) -> str:
    parts = key.split(".")
    return _ERROR_REASONS.get(parts[-1]) or _ERROR_REASONS.get(parts[0], _SCHEMA_REASON)


def _lookalike_errors(labels: Sequence[LabelSpec]) -> list[Finding]:
    """Ids and aliases that look like another label's ('space' with a Cyrillic dze for its s,
    beside 'space')."""
    found = []
    for x in lookalikes({label.id: [label.id, *label.aliases] for label in labels}):
        whose = "" if x.other_name == x.other_label else f" (an alias of {x.other_label!r})"
        message = (
            f"{x.name!r} looks like {x.other_name!r}{whose} but is spelled with other "
            f"characters ({describe(x.name + x.other_name)})"
        )
        found.append(Finding("error", f"labels.{x.label}", message, _LOOKALIKE_REASON))
    return found


def _field_errors(raw: Mapping[str, Any]) -> list[Finding]:
    """What the schema says about the fields other than labels (name, version, ...)."""
    rest = {k: v for k, v in raw.items() if k != "labels" and v != "???"}
    try:
        TaxonomyConfig.model_validate({**rest, "labels": []})
    except ValidationError as error:
        return _from_validation(error, "")
    return []


def _from_validation(error: ValidationError, prefix: str) -> list[Finding]:
    found = []
    for problem in error.errors():
        if not problem["loc"]:
            continue  # a whole-taxonomy check: structural_problems reports those one by one
        key = ".".join(part for part in (prefix, *map(str, problem["loc"])) if part)
        known = (LabelSpec if prefix else TaxonomyConfig).model_fields
        message = {
            "missing": "required but not set",
            "extra_forbidden": f"not a known key{did_you_mean(key.split('.')[-1], known)}",
        }.get(problem["type"], f"{problem['msg']} (got {problem.get('input')!r})")
        found.append(Finding("error", key, message, _SCHEMA_REASON))
    return found


@dataclass(frozen=True)
class _Read:  # the taxonomy as far as it could be read, for the warning checks
    raw: Mapping[str, Any]
    labels: Sequence[LabelSpec]
    current: Sequence[LabelSpec]
    none_label: str | None
    hierarchy: Hierarchy


Pairs = list[tuple[str, str]]  # (key, message)


def _size(t: _Read) -> Pairs:
    if len(t.current) <= MAX_LABELS:
        return []
    message = f"{len(t.current)} labels on offer; keep a flat set to {MAX_LABELS} at most"
    if len(t.current) > EVERY_PAIR_LIMIT:
        message += (
            f" (past {EVERY_PAIR_LIMIT} labels, lint compares each name and description with "
            "its nearest neighbours only, not with every other label)"
        )
    return [("labels", message)]


def _catch_all(t: _Read) -> Pairs:
    names = {_plain(n) for x in t.current for n in (x.id, x.name, *x.aliases) if n}
    if t.none_label is not None or t.raw.get("allow_empty") is True or names & CATCH_ALL_NAMES:
        return []
    return [
        (
            "none_label",
            "no none_label, no catch-all label (other, none, ...) and allow_empty is false",
        )
    ]


def _unnamed_none(t: _Read) -> Pairs:
    """A label named "none" that is not the none_label: it may stand beside others."""
    if t.none_label is not None:
        return []
    return [
        (
            f"labels.{x.id}",
            f"named {x.id!r} but none_label is not set, so it is an ordinary label",
        )
        for x in t.current
        if _plain(x.id) in ("none", "no label", "nothing")
    ]


def _levels(t: _Read) -> Pairs:
    """A parent offered beside its children: labels at two levels of abstraction."""
    parent_of = {label.id: label.parent for label in t.current}
    rooted = _rooted(parent_of)
    children: dict[str, list[str]] = {}
    for label in t.current:
        if label.parent in parent_of and t.hierarchy != "leaves_only" and rooted[label.parent]:
            children.setdefault(label.parent, []).append(label.id)
    return [
        (f"labels.{parent}", f"offered flat beside its children {', '.join(kids)}")
        for parent, kids in children.items()
    ]


def _rooted(parent_of: Mapping[str, str | None]) -> dict[str, bool]:
    """Whether each label's chain of parents ends (a cycle is an error already); each
    label is walked once."""
    rooted: dict[str, bool] = {}
    for start in parent_of:
        path: dict[str, None] = {}  # in order, and quick to look up
        node: str | None = start
        while node is not None and node in parent_of and node not in rooted and node not in path:
            path[node] = None
            node = parent_of[node]
        ends = node is None or rooted.get(node, node not in path)  # back on the path: a cycle
        rooted.update(dict.fromkeys(path, ends))
    return rooted


def _similar_names(t: _Read) -> Pairs:
    unique = list({label.id: label for label in t.current}.values())  # a repeated id is an error
    names = [{_plain(label.id), _plain(label.name or label.id)} for label in unique]
    return [
        (
            f"labels.{unique[x.second].id}",
            f"reads like {unique[x.first].id!r} ({x.score:.2f} alike)",
        )
        for x in alike_names(names, NAME_SIMILARITY)
    ]


def _similar_descriptions(t: _Read) -> Pairs:
    words = [_content_words(label.description) for label in t.current]
    return [
        (
            f"labels.{t.current[x.second].id}.description",
            f"described like {t.current[x.first].id!r} ({x.score:.0%} of the words in common)",
        )
        for x in alike_word_sets(words, DESCRIPTION_OVERLAP, MIN_DESCRIPTION_WORDS)
    ]


def _mixed_scripts(t: _Read) -> Pairs:
    """An id or alias of letters from two scripts ('space' with a Cyrillic a)."""
    names = {label.id: [label.id, *label.aliases] for label in t.current}
    reported = {x.name for x in lookalikes(names)}  # errors already
    return [
        (
            f"labels.{label_id}",
            f"{name!r} mixes {' and '.join(s.title() for s in found)} letters ({describe(name)})",
        )
        for label_id, spellings in names.items()
        for name in spellings
        if name not in reported and (found := scripts(name))
    ]


def _descriptions(t: _Read) -> Pairs:
    return [
        (f"labels.{x.id}.description", f"no description; the model sees only the id {x.id!r}")
        for x in t.current
        if not x.description.strip()
    ]


def _multiline(t: _Read) -> Pairs:
    """A name or description over several lines, in a prompt that lists a label a line."""
    return [
        (f"labels.{x.id}.{field}", f"runs over {len(text.strip().splitlines())} lines")
        for x in t.current
        for field, text in (("name", x.name or ""), ("description", x.description))
        if len(text.strip().splitlines()) > 1
    ]


def _examples(t: _Read) -> Pairs:
    have, n = sum(1 for label in t.current if label.examples), len(t.current)
    if not have or have == n or have / n < EXAMPLES_SHARE:
        return []
    message = f"no examples, while {have} of the {n} labels have some"
    return [(f"labels.{x.id}.examples", message) for x in t.current if not x.examples]


def _retired(t: _Read) -> Pairs:
    return [
        (f"labels.{x.id}.replaced_by", "deprecated without a replacement")
        for x in t.labels
        if x.deprecated and x.replaced_by is None
    ]


def _lineage(t: _Read) -> Pairs:
    lineage, name, version = t.raw.get("lineage"), t.raw.get("name"), t.raw.get("version")
    if not isinstance(lineage, Mapping) or not lineage or lineage.get(name) == version:
        return []
    if name in lineage:
        return [("lineage", f"names {name} {lineage[name]!r}, not this version {version!r}")]
    return [("lineage", f"does not name this taxonomy; add {name}: {str(version)!r} to it")]


# Each warning with the reason printed under it (the practices of docs/taxonomies.md).
WARNINGS: tuple[tuple[Callable[[_Read], Pairs], str], ...] = (
    (
        _size,
        "models confuse large flat label sets and skip labels far down the list; split "
        "the taxonomy, or group labels under parents offered one level at a time",
    ),
    (
        _catch_all,
        "an input that matches no label is forced into a wrong one; add an 'other' "
        "label and name it in none_label, or set allow_empty: true",
    ),
    (
        _unnamed_none,
        "a 'none' label that is not the taxonomy's none_label can be answered "
        "beside real labels, and an empty answer is not read as it; set none_label to its id",
    ),
    (
        _levels,
        "models choose inconsistently between a category and its members offered in "
        "one flat list; set validation.hierarchy=leaves_only to offer only the most specific "
        "labels, or fold the children into the parent",
    ),
    (
        _mixed_scripts,
        "a model writes a name in one script, so an answer that spells it with the look-alike "
        "letters of the other does not match it; write each id and alias in one script",
    ),
    (
        _similar_names,
        "labels that read alike split one concept in two and the model picks "
        "between them at random; merge them, or rename one so the difference shows",
    ),
    (
        _similar_descriptions,
        "labels described alike overlap, so the model cannot tell which "
        "one an input belongs to; say what sets each apart, or merge them",
    ),
    (
        _descriptions,
        "an id alone is ambiguous: the model guesses the label's scope from one "
        "word; say what belongs under it, and what does not",
    ),
    (
        _multiline,
        "the prompt lists the labels one a line, so the later lines of a description read "
        "as lines of their own (one that starts with '- ' as another label); write it on one "
        "line (YAML's folded style, >, joins its lines)",
    ),
    (
        _examples,
        "few-shot examples pull answers towards the labels that have them; give "
        "every label one, or none",
    ),
    (
        _retired,
        "answers and gold data that still say the old id cannot be mapped to a "
        "current label; set replaced_by, or remove the label if nothing uses it",
    ),
    (
        _lineage,
        "runs record the lineage to say which shared taxonomies a result was built "
        "from; without its own entry a team taxonomy is recorded as its base",
    ),
)


def _plain(name: str) -> str:
    return re.sub(r"[\s_\-]+", " ", name.casefold()).strip()


def _content_words(text: str) -> set[str]:
    words = re.findall(r"[a-z0-9]+", text.casefold())
    return {w.removesuffix("s") for w in words if len(w) > 2 and w not in _STOPWORDS}
