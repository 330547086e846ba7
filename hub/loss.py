"""Loss you can see: the gaps in each device's numbered messages (docs/protocol.md, "Numbering and loss").

A device's outbox numbers what it hands to the broker 1, 2, 3, … in a stream (``seq`` and ``stream`` of
the envelope). The hub keeps, per (site, desk, stream), the highest number received and the ranges of
numbers below it that never arrived. A number that arrives late closes its gap; a number received twice
changes nothing. Since every stream begins at 1, numbers below the first one received are missing too.

Memory and rows are bounded: a stream keeps at most :data:`MAX_OPEN_GAPS` open ranges; beyond that the
lowest range is written off (still counted as missing, but a late arrival in it no longer closes it).

Numbers do not always arrive in order: several hub workers on one shared subscription commit a device's
numbers in whatever order their batches finish, and a broker redelivers out of order after a reconnect.
Each open range therefore keeps when it opened (:attr:`StreamLoss.opened`); :meth:`StreamLoss.overdue` counts
only the numbers in ranges open longer than a grace time (``ingest.missing_grace_s``), which is what the
messages_missing alert reports. The record of gaps itself stays exact.

With several workers the grace alone is not enough: draining a deep backlog, one worker's session queue can
hold a device's earlier numbers for minutes while another worker commits its later ones. So a range counts only
once, besides, every session of the group has been drained past the moment it opened (``drained``: the moment
the group's sessions are all drained up to, measured by probes through the broker's queues, hub/progress.py).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

MAX_OPEN_GAPS = 1000


@dataclass(slots=True)
class StreamLoss:
    """What the hub knows of one device's stream of numbered messages."""

    site: str
    desk: str
    stream: str
    highest: int = 0
    missing: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)  # open ranges (first, last), inclusive, sorted
    written_off: int = 0  # missing numbers in ranges no longer tracked (beyond MAX_OPEN_GAPS)
    opened: list[float] = field(default_factory=list)  # when each open range opened (POSIX seconds), as gaps

    def note(self, numbers: Iterable[int], now: float = 0.0) -> None:
        """Take the numbers of messages that arrived at ``now`` (POSIX seconds), in any order and with repeats."""
        for number in numbers:
            self._note(number, now)
        while len(self.gaps) > MAX_OPEN_GAPS:
            first, last = self.gaps.pop(0)
            self.opened.pop(0)
            self.written_off += last - first + 1

    def overdue(self, now: float, grace_s: float, drained: float = math.inf) -> int:
        """The missing numbers in ranges open for at least ``grace_s`` at ``now`` and opened at or before
        ``drained`` (written-off ones included)."""
        cutoff = min(now - grace_s, drained)
        return self.written_off + sum(
            last - first + 1 for (first, last), since in zip(self.gaps, self.opened, strict=True) if since <= cutoff
        )

    def _note(self, number: int, now: float) -> None:
        if number > self.highest:
            if number > self.highest + 1:
                self.gaps.append((self.highest + 1, number - 1))
                self.opened.append(now)
                self.missing += number - self.highest - 1
            self.highest = number
            return
        at = bisect.bisect_right(self.gaps, (number, float("inf"))) - 1
        if at < 0:
            return  # received before (or written off)
        first, last = self.gaps[at]
        if not first <= number <= last:
            return  # received before
        pieces = [(a, b) for a, b in ((first, number - 1), (number + 1, last)) if a <= b]
        self.gaps[at : at + 1] = pieces
        self.opened[at : at + 1] = [self.opened[at]] * len(pieces)
        self.missing -= 1


def missing_by_device(streams: Iterable[StreamLoss]) -> dict[tuple[str, str], int]:
    """Missing messages per (site, desk), all streams together."""
    totals: dict[tuple[str, str], int] = {}
    for stream in streams:
        key = (stream.site, stream.desk)
        totals[key] = totals.get(key, 0) + stream.missing
    return totals


def overdue_by_device(
    streams: Iterable[StreamLoss], now: float, grace_s: float, drained: float = math.inf
) -> dict[tuple[str, str], int]:
    """Missing messages per (site, desk) in ranges open for at least ``grace_s`` and opened at or before
    ``drained``, all streams together."""
    totals: dict[tuple[str, str], int] = {}
    for stream in streams:
        key = (stream.site, stream.desk)
        totals[key] = totals.get(key, 0) + stream.overdue(now, grace_s, drained)
    return totals
