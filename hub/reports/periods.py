"""Report periods: a day, an ISO week, a month, a quarter, a year or a range of local days.

Written as on the command line: ``2025-07-14``, ``2025-W29``, ``2025-07``, ``2025-Q3``, ``2025`` or
``2025-07-01..2025-09-30``. Every period is a closed range of local days in the hub's time zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from protocol.errors import OneStopError

ROMAN_QUARTERS = ("I", "II", "III", "IV")


class PeriodError(OneStopError, ValueError):
    """A period written in a form that is not understood."""


class PeriodKind(StrEnum):
    """How long a period is."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    RANGE = "range"


@dataclass(frozen=True, slots=True)
class Bucket:
    """A part of a period for the charts: a month of a year, a day of a month."""

    key: str
    label: str
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class Period:
    """A closed range of local days."""

    kind: PeriodKind
    first: date
    last: date
    code: str

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return (self.last - self.first).days + 1

    def each_day(self) -> Iterator[date]:
        """Every day of the period, in order."""
        day = self.first
        while day <= self.last:
            yield day
            day += timedelta(days=1)

    @property
    def label(self) -> str:
        """The period in Vietnamese, as a report's header shows it."""
        if self.kind is PeriodKind.DAY:
            return f"Ngày {self.first:%d/%m/%Y}"
        if self.kind is PeriodKind.WEEK:
            iso = self.first.isocalendar()
            return f"Tuần {iso.week}/{iso.year} ({self.first:%d/%m}–{self.last:%d/%m/%Y})"
        if self.kind is PeriodKind.MONTH:
            return f"Tháng {self.first:%m/%Y}"
        if self.kind is PeriodKind.QUARTER:
            return f"Quý {ROMAN_QUARTERS[(self.first.month - 1) // 3]}/{self.first.year}"
        if self.kind is PeriodKind.YEAR:
            return f"Năm {self.first.year}"
        return f"Từ {self.first:%d/%m/%Y} đến {self.last:%d/%m/%Y}"

    def buckets(self) -> list[Bucket]:
        """The parts a chart of this period shows: months of a year or quarter, else days."""
        if self.kind in (PeriodKind.YEAR, PeriodKind.QUARTER) or self.days > 62:
            result = []
            start = self.first
            while start <= self.last:
                following = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
                end = min(self.last, following - timedelta(days=1))
                result.append(Bucket(f"{start:%Y-%m}", f"{start:%m/%Y}", start, end))
                start = following
            return result
        return [Bucket(d.isoformat(), f"{d:%d/%m}", d, d) for d in self.each_day()]


def _month_end(year: int, month: int) -> date:
    return date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)


def parse_period(text: str) -> Period:
    """Read a period: ``2025-07-14``, ``2025-W29``, ``2025-07``, ``2025-Q3``, ``2025``, ``FROM..TO``.

    Raises:
        PeriodError: the text is none of these forms, or names a day that does not exist.
    """
    value = text.strip()
    try:
        if ".." in value:
            start, _, end = value.partition("..")
            first, last = date.fromisoformat(start.strip()), date.fromisoformat(end.strip())
            if last < first:
                raise PeriodError(f"period {text!r} ends before it starts")
            return Period(PeriodKind.RANGE, first, last, f"{first.isoformat()}..{last.isoformat()}")
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            day = date.fromisoformat(value)
            return Period(PeriodKind.DAY, day, day, value)
        if match := re.fullmatch(r"(\d{4})-W(\d{1,2})", value, flags=re.IGNORECASE):
            year, week = int(match[1]), int(match[2])
            first = date.fromisocalendar(year, week, 1)
            return Period(PeriodKind.WEEK, first, first + timedelta(days=6), f"{year}-W{week:02d}")
        if match := re.fullmatch(r"(\d{4})-(\d{1,2})", value):
            year, month = int(match[1]), int(match[2])
            return Period(PeriodKind.MONTH, date(year, month, 1), _month_end(year, month), f"{year}-{month:02d}")
        if match := re.fullmatch(r"(\d{4})-Q([1-4])", value, flags=re.IGNORECASE):
            year, quarter = int(match[1]), int(match[2])
            first_month = 3 * quarter - 2
            return Period(
                PeriodKind.QUARTER, date(year, first_month, 1), _month_end(year, first_month + 2), f"{year}-Q{quarter}"
            )
        if re.fullmatch(r"\d{4}", value):
            year = int(value)
            return Period(PeriodKind.YEAR, date(year, 1, 1), date(year, 12, 31), value)
    except ValueError as error:
        if isinstance(error, PeriodError):
            raise
        raise PeriodError(f"period {text!r}: {error}") from None
    raise PeriodError(
        f"period {text!r} not understood: expected YYYY-MM-DD, YYYY-Www, YYYY-MM, YYYY-Qn, YYYY or FROM..TO"
    )


def year_period(year: int) -> Period:
    """The calendar year."""
    return parse_period(str(year))
