"""Report periods as written on the command line and shown in headers."""

from __future__ import annotations

from datetime import date

import pytest

from hub.reports.periods import PeriodError, PeriodKind, parse_period


@pytest.mark.parametrize(
    ("text", "kind", "first", "last", "label"),
    [
        ("2025-07-14", PeriodKind.DAY, date(2025, 7, 14), date(2025, 7, 14), "Ngày 14/07/2025"),
        ("2025-W29", PeriodKind.WEEK, date(2025, 7, 14), date(2025, 7, 20), "Tuần 29/2025 (14/07–20/07/2025)"),
        ("2024-02", PeriodKind.MONTH, date(2024, 2, 1), date(2024, 2, 29), "Tháng 02/2024"),
        ("2025-Q3", PeriodKind.QUARTER, date(2025, 7, 1), date(2025, 9, 30), "Quý III/2025"),
        ("2025", PeriodKind.YEAR, date(2025, 1, 1), date(2025, 12, 31), "Năm 2025"),
        (
            "2022-12-30..2023-01-03",
            PeriodKind.RANGE,
            date(2022, 12, 30),
            date(2023, 1, 3),
            "Từ 30/12/2022 đến 03/01/2023",
        ),
    ],
)
def test_periods_are_read_and_named_in_vietnamese(
    text: str, kind: PeriodKind, first: date, last: date, label: str
) -> None:
    period = parse_period(text)
    assert (period.kind, period.first, period.last, period.label) == (kind, first, last, label)


def test_charts_show_months_of_a_year_and_days_of_a_month() -> None:
    year = parse_period("2025").buckets()
    assert [b.key for b in year][:2] == ["2025-01", "2025-02"] and len(year) == 12
    assert (year[1].first, year[1].last, year[1].label) == (date(2025, 2, 1), date(2025, 2, 28), "02/2025")
    month = parse_period("2025-02").buckets()
    assert len(month) == 28 and month[0].label == "01/02"


@pytest.mark.parametrize("text", ["2025-13", "2025-Q5", "last year", "2025-02-30", "2025-03-01..2025-02-01"])
def test_unknown_periods_are_refused_with_the_forms_accepted(text: str) -> None:
    with pytest.raises(PeriodError, match="period"):
        parse_period(text)
