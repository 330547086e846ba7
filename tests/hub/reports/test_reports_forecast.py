"""Demand forecast chosen by back-testing, and tomorrow's desks from it (Erlang C)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from hub.reports.forecast import ForecastError, backtest, forecast_from, hourly_arrivals
from hub.reports.planning import staffing_plan
from tests.hub.reports.conftest import RecordBuilder

MONDAY = date(2025, 3, 3)


def mondays_at_eight(values: list[float]) -> tuple[np.ndarray, list[date]]:
    """Weeks of history, arrivals only on Mondays at 8h."""
    days = [MONDAY + timedelta(days=i) for i in range(7 * len(values))]
    counts = np.zeros((len(days), 24))
    for week, value in enumerate(values):
        counts[7 * week, 8] = value
    return counts, days


def test_back_testing_reports_every_models_error_and_keeps_the_best() -> None:
    counts, days = mondays_at_eight([10, 14, 10, 14, 10, 14])
    errors = {b.model: b for b in backtest(counts, days, weeks=2, hours=(8, 8))}
    # Week 5 (10) and week 6 (14) forecast from the weeks before each.
    assert errors["seasonal_naive"].wape == pytest.approx(8 / 24)  # |14 − 10| + |10 − 14|
    assert errors["seasonal_mean"].wape == pytest.approx((2 + 2.4) / 24)  # 12 then 11.6
    assert errors["profile"].wape == pytest.approx(4 / 24)  # mean of the last four Mondays: 12, 12
    assert errors["profile"].mae == pytest.approx(4 / 14)  # 14 hours judged (7 days × 1 hour × 2 weeks)
    forecast = forecast_from("bn-hcc", "dat-dai", counts, days, [MONDAY + timedelta(weeks=6)], 2, (8, 8))
    assert forecast.model == "profile"
    assert forecast.arrivals[0, 8] == pytest.approx(12)
    assert forecast.as_dict()["days"] == [{"date": "2025-04-14", "hours": {"8": 12.0}}]


def test_a_steady_week_is_forecast_exactly_by_every_model() -> None:
    counts, days = mondays_at_eight([7, 7, 7])
    results = backtest(counts, days, weeks=2, hours=(8, 8))
    assert len(results) >= 2 and all(b.wape == 0 for b in results), results


def test_less_than_a_week_of_record_is_refused() -> None:
    counts, days = mondays_at_eight([5])
    with pytest.raises(ForecastError, match="at least one week"):
        forecast_from("bn-hcc", None, counts[:3], days[:3], [MONDAY], 1, (7, 17))


def test_arrivals_are_counted_in_local_hours(engine_builder: RecordBuilder) -> None:
    engine_builder.minutes("bn-hcc", "2025-03-04", "1", 5, 5, "cb-1", start="06:30")  # 23:30 UTC the day before
    engine_builder.minutes("bn-hcc", "2025-03-04", "2", 5, 5, "cb-1", start="08:15")
    engine_builder.minutes("bn-hcc", "2025-03-04", "3", 5, 5, "cb-1", "xay-dung", start="08:45")
    with engine_builder.open() as record:
        (counts,) = record.run(
            lambda conn: hourly_arrivals(
                conn, "bn-hcc", date(2025, 3, 3), date(2025, 3, 4), engine_builder.settings.zone
            )
        )
    land = counts["dat-dai"]
    assert land.shape == (2, 24)
    assert (land[1, 6], land[1, 8], land.sum()) == (1, 1, 2)
    assert counts["xay-dung"][1, 8] == 1


def test_tomorrows_desks_follow_the_forecast_and_the_measured_handling(builder: RecordBuilder) -> None:
    """Two weeks of four land citizens at 8h every weekday, each handled in 15 minutes."""
    for offset in range(14):
        day = MONDAY + timedelta(days=offset)
        if day.weekday() < 5:
            for k in range(4):
                builder.minutes("bn-hcc", day.isoformat(), f"{k}", 5, 15, "cb-1", start=f"08:{10 * k:02d}")
    with builder.open() as record:
        plan = staffing_plan(record, builder.settings, "bn-hcc", MONDAY + timedelta(weeks=2))
    (land,) = plan.services
    assert (land.service, land.mean_service_s, land.service_cv, land.measured) == ("dat-dai", 900, 0, 40)
    assert land.configured_desks == 2  # Quầy 1 and Quầy 2 handle land at the provincial centre
    eight = land.hours[8 - plan.hours[0]]
    # 4 per hour × 15 minutes = 1 Erlang; one desk is saturated; two: P(wait) = 1/3,
    # P(wait > 15 min) = 1/3 × e^−1 = 0.123, so 87.7 % wait less than the target.
    assert eight.arrivals == pytest.approx(4)
    assert eight.desks == 2
    assert eight.answer is not None and eight.answer.within_target == pytest.approx(1 - np.exp(-1) / 3)
    assert plan.desks_per_hour()[8] == 2 and plan.desks_per_hour()[10] == 0
    assert plan.target_s == 900 and "15 phút/lượt giao dịch" in plan.target_text
    assert any("Poisson" in line for line in plan.assumptions)
