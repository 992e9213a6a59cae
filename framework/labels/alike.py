"""Which labels read alike: their names (difflib ratio) or their descriptions (the share
of content words they have in common), for `labelwise lint`.

    alike_names([{"refund"}, {"refunds"}], 0.85)         -> [Alike(0, 1, 0.92)]
    alike_word_sets([{"solar", "panel"}, ...], 0.5, 3)   -> [Alike(i, j, share)]

Up to EVERY_PAIR_LIMIT labels, every pair is compared. Past it that is quadratic
(10,000 labels are 50 million pairs: hours of difflib), so each label is compared
with its nearest neighbours only, a blocking that finds the usual cases in
seconds: names sorted as written and sorted backwards (a change at the end, or at
the start, keeps two names adjacent), and descriptions that share one of their
rarest words (two word sets with a share of at least t have one of their
len - ceil(t * len) + 1 rarest words in common). Each label is then reported once,
beside the first label it is alike; pairs that differ both early and late in the
name, or that share only common words with many labels, can be missed.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from itertools import combinations

__all__ = ["EVERY_PAIR_LIMIT", "NEIGHBOURS", "Alike", "alike_names", "alike_word_sets"]

# Labels up to which every pair is compared (300 labels: 45,000 pairs, about a second).
EVERY_PAIR_LIMIT = 300
# Past it, the neighbours each label is compared with, in each order.
NEIGHBOURS = 5


@dataclass(frozen=True)
class Alike:
    first: int  # index of the earlier label
    second: int  # index of the later one, which the finding is about
    score: float


def alike_names(names: Sequence[set[str]], threshold: float) -> list[Alike]:
    """Pairs of labels (each given by its names) with two names at least `threshold`
    alike by difflib's ratio, earlier label first."""
    if len(names) <= EVERY_PAIR_LIMIT:
        pairs: Iterable[tuple[int, int]] = combinations(range(len(names)), 2)
    else:
        flat = [(name, i) for i, group in enumerate(names) for name in group]
        owners = [i for _, i in flat]
        pairs = _neighbours([name for name, _ in flat], owners)
        pairs |= _neighbours([name[::-1] for name, _ in flat], owners)

    def score(i: int, j: int) -> float:
        return max(_ratio(a, b, threshold) for a in names[i] for b in names[j])

    return _alike(pairs, score, threshold, every_pair=len(names) <= EVERY_PAIR_LIMIT)


def alike_word_sets(sets: Sequence[set[str]], threshold: float, min_size: int) -> list[Alike]:
    """Pairs of labels whose word sets (both of `min_size` words or more) share at
    least `threshold` of their union, earlier label first."""
    if len(sets) <= EVERY_PAIR_LIMIT:
        pairs: Iterable[tuple[int, int]] = combinations(range(len(sets)), 2)
    else:
        pairs = _sharing_rare_words(sets, threshold, min_size)

    def score(i: int, j: int) -> float:
        a, b = sets[i], sets[j]
        return len(a & b) / len(a | b) if min(len(a), len(b)) >= min_size else 0.0

    return _alike(pairs, score, threshold, every_pair=len(sets) <= EVERY_PAIR_LIMIT)


def _alike(
    pairs: Iterable[tuple[int, int]],
    score: Callable[[int, int], float],
    threshold: float,
    *,
    every_pair: bool,
) -> list[Alike]:
    """The pairs scoring `threshold` or more: all of them when every pair is compared,
    else each later label once, beside the first label it is alike."""
    if every_pair:
        scored = (Alike(i, j, score(i, j)) for i, j in pairs)
        return [alike for alike in scored if alike.score >= threshold]
    found: dict[int, Alike] = {}
    for i, j in sorted(pairs, key=lambda pair: (pair[1], pair[0])):
        if j not in found and (value := score(i, j)) >= threshold:
            found[j] = Alike(i, j, value)
    return sorted(found.values(), key=lambda alike: (alike.first, alike.second))


def _ratio(a: str, b: str, threshold: float) -> float:
    """difflib's ratio, skipped (0) where its cheap upper bounds are below threshold."""
    matcher = SequenceMatcher(None, a, b)
    if matcher.real_quick_ratio() < threshold or matcher.quick_ratio() < threshold:
        return 0.0
    return matcher.ratio()


def _neighbours(keys: Sequence[str], owners: Sequence[int]) -> set[tuple[int, int]]:
    """Pairs of owners whose keys are within NEIGHBOURS places of each other in sorted order."""
    order = sorted(range(len(keys)), key=keys.__getitem__)
    pairs: set[tuple[int, int]] = set()
    for place, item in enumerate(order):
        for other in order[place + 1 : place + 1 + NEIGHBOURS]:
            i, j = sorted((owners[item], owners[other]))
            if i != j:
                pairs.add((i, j))
    return pairs


def _sharing_rare_words(
    sets: Sequence[set[str]], threshold: float, min_size: int
) -> set[tuple[int, int]]:
    """Pairs of sets that share one of their rarest words, each compared with the
    NEIGHBOURS sets before it among those holding that word."""
    frequency = Counter(word for words in sets for word in words)
    holders: dict[str, list[int]] = {}
    for i, words in enumerate(sets):
        if len(words) < min_size:
            continue
        rarest = sorted(words, key=lambda word: (frequency[word], word))
        for word in rarest[: len(words) - math.ceil(threshold * len(words)) + 1]:
            holders.setdefault(word, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for members in holders.values():
        for place, j in enumerate(members):
            pairs.update((i, j) for i in members[max(0, place - NEIGHBOURS) : place])
    return pairs
