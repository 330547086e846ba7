"""Decision 766/QĐ-TTg: points for "satisfaction with receiving and resolving administrative procedures".

Points = 6 × min(1, satisfied share / 0.90); a unit with no counted rating at all gets 0 points, and is
warned about: the buttons may be broken, unplugged, or never offered to citizens.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_POINTS = 6.0
FULL_POINTS_SHARE = 0.90


def points_766(satisfied: int, ratings: int) -> float:
    """The points a unit earns (or is on course for) with ``satisfied`` of ``ratings`` counted ratings."""
    if ratings <= 0:
        return 0.0
    return MAX_POINTS * min(1.0, (satisfied / ratings) / FULL_POINTS_SHARE)


@dataclass(frozen=True, slots=True)
class UnitPoints:
    """One unit's Decision 766 satisfaction points over a period."""

    site: str
    name: str
    level: str
    ratings: int
    satisfied: int
    transactions: int

    @property
    def share(self) -> float | None:
        """Satisfied share of counted ratings."""
        return self.satisfied / self.ratings if self.ratings else None

    @property
    def points(self) -> float:
        """6 × min(1, share / 0.90); 0 without ratings."""
        return points_766(self.satisfied, self.ratings)

    @property
    def warning(self) -> str | None:
        """Why a reader should look at this unit, in Vietnamese; None when nothing is wrong."""
        if self.ratings == 0:
            served = f"đã phục vụ {self.transactions:,} lượt nhưng ".replace(",", ".") if self.transactions else ""
            return f"Không có đánh giá nào: {served}chưa thu được đánh giá; điểm hài lòng bằng 0."
        return None
