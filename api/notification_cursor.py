"""Which notifications a stream has dealt with, when ids do not become visible in order.

Ids are handed out at INSERT, not at commit: a lower id can become visible after a higher one.
So a stream cannot keep only the highest id it has seen (`floor = max(id)` loses the late row).
It keeps a floor (every id at or below it is dealt with) and the ids above the floor that it has
seen. The floor advances to the highest id the stream had seen SETTLE_SECONDS earlier: a lower
id still invisible by then would belong to a transaction open for longer than that, and the one
that records a notification is a single INSERT and `pg_notify`. The set stays small (the ids of
the last SETTLE_SECONDS) and nothing is lost or sent twice.
"""

from collections import deque
from collections.abc import Iterable

SETTLE_SECONDS = 60.0


class Cursor:
    def __init__(self, floor: int, seen: Iterable[int], now: float) -> None:
        self.floor = floor
        self.seen = {i for i in seen if i > floor}
        # (when, the highest id seen by then): the floor's future values.
        self._marks: deque[tuple[float, int]] = deque()
        self._mark(now)

    @property
    def highest(self) -> int:
        return max(self.seen, default=self.floor)

    def saw(self, ids: Iterable[int], now: float) -> None:
        """`ids` were read at `now` (a clock reading taken after the read returned)."""
        self.seen.update(i for i in ids if i > self.floor)
        self._mark(now)
        self._settle(now)

    def _mark(self, now: float) -> None:
        highest = self.highest
        if not self._marks or self._marks[-1][1] < highest:
            self._marks.append((now, highest))

    def _settle(self, now: float) -> None:
        moved = False
        while self._marks and self._marks[0][0] <= now - SETTLE_SECONDS:
            _, highest = self._marks.popleft()
            if highest > self.floor:
                self.floor, moved = highest, True
        if moved:
            self.seen = {i for i in self.seen if i > self.floor}
