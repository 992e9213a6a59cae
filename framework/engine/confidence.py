"""Per-label confidence in [0, 1], from token log-probabilities or from votes.

Log-probabilities: at the token where the model wrote yes or no (true or
false), the probability of yes is read against no among the most likely
alternatives there, p(yes) / (p(yes) + p(no)); for a label in an array, the
probability of the token that starts it. Votes (self-consistency): the share of
sampled answers that hold the label.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from framework.records import TokenLogprob

__all__ = ["binary_probabilities", "first_token_probabilities", "vote_shares"]


def _word(token: str) -> str:
    return token.strip().strip('"').strip().lower()


def _share(position: TokenLogprob, yes: str, no: str) -> float:
    """p(yes) / (p(yes) + p(no)) at one position, from its alternatives (or its token)."""
    candidates = dict(position.top) or {position.token: position.logprob}
    candidates.setdefault(position.token, position.logprob)
    p_yes = sum(math.exp(lp) for token, lp in candidates.items() if _word(token) == yes)
    p_no = sum(math.exp(lp) for token, lp in candidates.items() if _word(token) == no)
    if p_yes + p_no == 0:
        return 1.0 if _word(position.token) == yes else 0.0
    return p_yes / (p_yes + p_no)


def binary_probabilities(
    logprobs: Sequence[TokenLogprob], *, count: int, kind: str = "boolean"
) -> list[float] | None:
    """The probability of yes (kind "yesno") or true (kind "boolean") at each of the
    first `count` positions where the model wrote one; None if it wrote fewer."""
    yes, no = ("yes", "no") if kind == "yesno" else ("true", "false")
    found = [
        _share(position, yes, no) for position in logprobs if _word(position.token) in (yes, no)
    ]
    return found[:count] if len(found) >= count else None


def first_token_probabilities(
    logprobs: Sequence[TokenLogprob], labels: Sequence[str]
) -> dict[str, float]:
    """For each label written in the answer, the probability of the token that starts it."""
    text, starts = "", []
    for position in logprobs:
        starts.append(len(text))
        text += position.token
    found: dict[str, float] = {}
    for label in labels:
        at = text.find(f'"{label}"')
        if at < 0:
            continue
        at += 1  # the first character of the label, after its quote
        index = max(i for i, start in enumerate(starts) if start <= at)
        if starts[index] + len(logprobs[index].token) <= at and index + 1 < len(logprobs):
            index += 1
        found[label] = math.exp(logprobs[index].logprob)
    return found


def vote_shares(answers: Iterable[Sequence[str]], labels: Sequence[str]) -> dict[str, float]:
    """The share of answers holding each label (0 for every label if there are none)."""
    collected = [set(answer) for answer in answers]
    if not collected:
        return dict.fromkeys(labels, 0.0)
    return {label: sum(label in a for a in collected) / len(collected) for label in labels}
