"""A clock that a test sets: the hub's parts take ``clock`` callables, so time moves only when the test says."""

from __future__ import annotations

from datetime import datetime


class Clock:
    """Returns ``now``, which the test changes."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now
