"""Statistics of the reports, with the definitions of ``hub.figures`` (checked against it by the tests).

- Percentiles: linear interpolation between closest ranks ("type 7", spreadsheet PERCENTILE.INC).
- Shares: hits / total, None for nothing counted.
- Satisfaction intervals: Wilson score interval (95 % by default), which stays inside 0–1 and is honest
  for small samples and for shares near 100 %, unlike the normal approximation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from hub.rollups import times_array

FloatArray = npt.NDArray[np.float64]


def values_from_concat(texts: Iterable[str | bytes | None]) -> FloatArray:
    """Numbers from SQLite ``group_concat`` texts (comma-separated) and from the roll-ups' packed times
    (``hub.rollups.pack_times``), all joined into one array."""
    parts = [t for t in texts if t]
    packed = b"".join(t for t in parts if isinstance(t, bytes))
    joined = ",".join(t for t in parts if isinstance(t, str))
    found = [times_array(packed)] if packed else []
    if joined:
        found.append(np.array(joined.split(","), dtype=np.float64))
    return np.concatenate(found) if found else np.empty(0, dtype=np.float64)


def percentile_sorted(ordered: FloatArray, q: float) -> float | None:
    """The ``q``-th percentile (0–100) of already sorted values, type 7; None for no values."""
    n = len(ordered)
    if n == 0:
        return None
    position = (n - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, n - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (position - low))


@dataclass(frozen=True, slots=True)
class Distribution:
    """Times (seconds) and how many of them were judged against a target and met it."""

    count: int
    mean: float | None
    median: float | None
    p90: float | None
    judged: int
    within: int

    @property
    def within_share(self) -> float | None:
        """Share of the judged times that met the target in force on their day."""
        return self.within / self.judged if self.judged else None

    @staticmethod
    def of(values: FloatArray, judged: int = 0, within: int = 0) -> Distribution:
        """Summarise ``values`` (any order)."""
        ordered = np.sort(values)
        return Distribution(
            count=len(ordered),
            mean=float(ordered.mean()) if len(ordered) else None,
            median=percentile_sorted(ordered, 50),
            p90=percentile_sorted(ordered, 90),
            judged=judged,
            within=within,
        )


@lru_cache(maxsize=8)
def _z(confidence: float) -> float:
    """The standard normal quantile of a two-sided ``confidence``."""
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, total: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval of a share; None when nothing was counted."""
    if total <= 0:
        return None
    z = _z(confidence)
    p = successes / total
    denominator = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denominator
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
