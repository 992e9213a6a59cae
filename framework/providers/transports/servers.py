"""Which of several servers a call goes to: the least busy one, or, for requests with
an affinity (the questions about one text), the one the first of them went to, so
that server's prompt cache reuses what they share."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

__all__ = ["ServerChoice"]

_PINNED = 1024  # texts remembered for server affinity


class ServerChoice:
    """Which of several servers a call goes to: the least busy, or its affinity's."""

    def __init__(self, bases: Sequence[str | None]) -> None:
        self.busy: dict[str | None, int] = dict.fromkeys(bases, 0) or {None: 0}
        self._pinned: OrderedDict[str, str | None] = OrderedDict()  # the most recent only

    def pick(self, affinity: str | None) -> str | None:
        least_busy = min(self.busy, key=self.busy.__getitem__)
        if affinity is None or len(self.busy) == 1:
            return least_busy
        base = self._pinned.setdefault(affinity, least_busy)
        self._pinned.move_to_end(affinity)
        if len(self._pinned) > _PINNED:
            self._pinned.popitem(last=False)
        return base
