"""Label names that look the same but are spelled with other characters, for `labelwise lint`.

    lookalikes({"space": ["space"], "\\u0455pace": ["\\u0455pace"]})
        -> [Lookalike("\\u0455pace", "\\u0455pace", "space", "space")]
    scripts("sp\\u0430ce")  -> ["CYRILLIC", "LATIN"]  (a Cyrillic a)

Two names collide when their skeletons are equal: NFKC (which folds fullwidth and
mathematical letters), case folding, then each character replaced by one
representative of the characters Unicode lists as confusable with it (UTS #39's
confusables, through the confusable_homoglyphs package). Collisions between two
names of plain ASCII (l and 1, O and 0) are left out: whoever types ASCII ids sees
them, and the check is about letters of other scripts passing for Latin ones.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from confusable_homoglyphs import (  # type: ignore[import-untyped]
    categories,
    confusables,
)

__all__ = ["Lookalike", "describe", "lookalikes", "scripts", "skeleton"]

_DIRECTION_MARKS = "\u200e\u200f"


@dataclass(frozen=True)
class Lookalike:
    label: str  # the later label
    name: str  # its id or alias that looks like...
    other_label: str  # ...a name of this earlier label
    other_name: str


def lookalikes(names: Mapping[str, Sequence[str]]) -> list[Lookalike]:
    """Each name (label id -> its id and aliases, in taxonomy order) that looks like a
    name of an earlier label without being spelled the same, not even up to case."""
    seen: dict[str, tuple[str, str]] = {}
    found = []
    for label, spellings in names.items():
        for name in spellings:
            key = skeleton(name)
            other = seen.setdefault(key, (label, name))
            if (
                other[0] != label
                and other[1].casefold() != name.casefold()  # a case collision is an error already
                and not (other[1].isascii() and name.isascii())
            ):
                found.append(Lookalike(label, name, *other))
    return found


def skeleton(name: str) -> str:
    """What a name looks like: equal for names a reader cannot tell apart."""
    return "".join(_representative(c) for c in unicodedata.normalize("NFKC", name).casefold())


def scripts(name: str) -> list[str]:
    """The scripts of a name's letters (LATIN, CYRILLIC, GREEK, ...), if more than one."""
    if not confusables.is_mixed_script(name):
        return []
    return sorted({categories.alias(c) for c in name} - {"COMMON"})


def describe(name: str) -> str:
    """The characters of a name that are not ASCII, with their Unicode names."""
    odd = [c for c in dict.fromkeys(name) if not c.isascii()]
    return ", ".join(f"{c!r} {unicodedata.name(c, f'U+{ord(c):04X}')}" for c in odd)


def _representative(char: str) -> str:
    return _classes().get(char, char)


@cache
def _classes() -> dict[str, str]:
    """Each confusable character -> the one that stands for its class (ASCII first):
    classes are the characters linked by confusable_homoglyphs' table, joined."""
    parent: dict[str, str] = {}

    def root(c: str) -> str:
        while parent.get(c, c) != c:
            parent[c] = parent.get(parent[c], parent[c])  # path halving
            c = parent[c]
        return c

    for key, glyphs in confusables.confusables_data.items():
        char = key.strip(_DIRECTION_MARKS)  # the table wraps right-to-left letters in marks
        for glyph in (g["c"].strip(_DIRECTION_MARKS) for g in glyphs):
            if len(char) == 1 and len(glyph) == 1:  # one for one: a skeleton keeps lengths
                a, b = sorted((root(char), root(glyph)), key=_rank)
                if a != b:
                    parent[b] = a
    return {c: root(c) for c in parent}


def _rank(char: str) -> tuple[bool, int]:
    return (not char.isascii(), ord(char))
