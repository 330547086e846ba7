"""Demand forecast per unit and service field, by hour of the week, chosen by back-testing on the record.

Demand is the number of tickets issued (citizens arriving, no-shows included) in each local hour. Models:

- ``seasonal_naive`` (the baseline): the same hour one week earlier;
- ``seasonal_mean``: the mean of the same weekday and hour over every week of the history;
- ``weighted_seasonal``: the same, with each older week weighing half as much as the one after it;
- ``profile``: the day's total (mean of the same weekday over the last four weeks) spread over the hours
  by that weekday's hourly shape pooled over the whole history — steadier where counts per hour are small.

Each model is fitted on the history before each of the last ``backtest_weeks`` weeks and forecasts that
week; the one with the lowest weighted absolute percentage error (WAPE = Σ|error| ÷ Σ actual, over the
opening hours) is chosen, and every model's error is reported. Public holidays (Tết, 30/4, 2/9) are not
known to the models: the forecast of a holiday week is the forecast of an ordinary week.

Pure code on arrays; ``hourly_arrivals`` reads the record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from hub.connection import RecordConnection
from protocol.errors import OneStopError

Counts = npt.NDArray[np.float64]  # shape (days, 24): arrivals per local hour
Model = Callable[[Counts, Sequence[date], Sequence[date]], Counts]


class ForecastError(OneStopError, ValueError):
    """Too little record to forecast from."""


def _same_weekday_rows(history_days: Sequence[date], target: date) -> list[int]:
    return [i for i, d in enumerate(history_days) if d.weekday() == target.weekday()]


def seasonal_naive(history: Counts, history_days: Sequence[date], targets: Sequence[date]) -> Counts:
    """Each hour as it was one week earlier (or the latest same weekday when the history is shorter)."""
    index = {d: i for i, d in enumerate(history_days)}
    out = np.zeros((len(targets), 24))
    for row, target in enumerate(targets):
        back = target - timedelta(days=7)
        while back not in index and back >= history_days[0]:
            back -= timedelta(days=7)
        if back in index:
            out[row] = history[index[back]]
    return out


def seasonal_mean(history: Counts, history_days: Sequence[date], targets: Sequence[date]) -> Counts:
    """Each hour as the mean of the same weekday and hour over the history."""
    out = np.zeros((len(targets), 24))
    for row, target in enumerate(targets):
        rows = _same_weekday_rows(history_days, target)
        if rows:
            out[row] = history[rows].mean(axis=0)
    return out


def weighted_seasonal(history: Counts, history_days: Sequence[date], targets: Sequence[date]) -> Counts:
    """Each hour as a mean of the same weekday and hour, each older week weighing half the next one."""
    out = np.zeros((len(targets), 24))
    for row, target in enumerate(targets):
        rows = _same_weekday_rows(history_days, target)
        if rows:
            weights = 0.5 ** np.arange(len(rows) - 1, -1, -1, dtype=np.float64)
            out[row] = (history[rows] * weights[:, None]).sum(axis=0) / weights.sum()
    return out


def profile(history: Counts, history_days: Sequence[date], targets: Sequence[date]) -> Counts:
    """The day's level from the last four same weekdays, shaped by that weekday's pooled hourly profile."""
    out = np.zeros((len(targets), 24))
    for row, target in enumerate(targets):
        rows = _same_weekday_rows(history_days, target)
        if not rows:
            continue
        totals = history[rows].sum(axis=1)
        shape = history[rows].sum(axis=0)
        if shape.sum() > 0:
            out[row] = totals[-4:].mean() * shape / shape.sum()
    return out


MODELS: dict[str, Model] = {
    "seasonal_naive": seasonal_naive,
    "seasonal_mean": seasonal_mean,
    "weighted_seasonal": weighted_seasonal,
    "profile": profile,
}
MODEL_NAMES = {
    "seasonal_naive": "Cùng giờ tuần trước (cơ sở)",
    "seasonal_mean": "Trung bình cùng giờ các tuần",
    "weighted_seasonal": "Trung bình cùng giờ, tuần gần nặng hơn",
    "profile": "Tổng ngày × phân bố theo giờ",
}
BASELINE = "seasonal_naive"


@dataclass(frozen=True, slots=True)
class Backtest:
    """A model's error over the held-out weeks."""

    model: str
    wape: float | None
    mae: float | None
    weeks: int


@dataclass(frozen=True, slots=True)
class Forecast:
    """Arrivals per hour for the coming days, with the model chosen and the errors of all."""

    site: str
    service: str | None
    days: list[date]
    hours: tuple[int, int]
    arrivals: Counts
    model: str
    backtests: list[Backtest]
    history_days: int

    @property
    def chosen(self) -> Backtest:
        """The back-test of the chosen model."""
        return next(b for b in self.backtests if b.model == self.model)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready forecast."""
        first, last = self.hours
        return {
            "site": self.site,
            "service": self.service,
            "model": self.model,
            "history_days": self.history_days,
            "backtests": [
                {"model": b.model, "name": MODEL_NAMES[b.model], "wape": b.wape, "mae": b.mae, "weeks": b.weeks}
                for b in self.backtests
            ],
            "days": [
                {"date": d.isoformat(), "hours": {str(h): float(self.arrivals[i, h]) for h in range(first, last + 1)}}
                for i, d in enumerate(self.days)
            ],
        }


def backtest(history: Counts, history_days: Sequence[date], weeks: int, hours: tuple[int, int]) -> list[Backtest]:
    """Every model's error, forecasting each of the last ``weeks`` weeks from the record before it."""
    first, last = hours
    results = []
    for name, model in MODELS.items():
        absolute = actual = 0.0
        cells = 0
        used = 0
        for k in range(weeks, 0, -1):
            cut = len(history_days) - 7 * k
            if cut < 7:
                continue
            train, train_days = history[:cut], history_days[:cut]
            test_days = history_days[cut : cut + 7]
            predicted = model(train, train_days, test_days)[:, first : last + 1]
            observed = history[cut : cut + 7, first : last + 1]
            absolute += float(np.abs(predicted - observed).sum())
            actual += float(observed.sum())
            cells += observed.size
            used += 1
        results.append(
            Backtest(
                model=name,
                wape=absolute / actual if actual else None,
                mae=absolute / cells if cells else None,
                weeks=used,
            )
        )
    return results


def choose_model(backtests: Sequence[Backtest]) -> str:
    """The model with the lowest WAPE (the baseline when no model could be tested)."""
    tested = [b for b in backtests if b.wape is not None]
    if not tested:
        return BASELINE
    best = min(tested, key=lambda b: (b.wape or 0.0, b.model != BASELINE))
    return best.model


def forecast_from(
    site: str,
    service: str | None,
    history: Counts,
    history_days: Sequence[date],
    targets: Sequence[date],
    backtest_weeks: int,
    hours: tuple[int, int],
) -> Forecast:
    """Back-test the models on ``history`` and forecast ``targets`` with the best.

    Raises:
        ForecastError: less than one week of history.
    """
    if len(history_days) < 7:
        raise ForecastError(f"{len(history_days)} days of record: at least one week is needed to forecast")
    tests = backtest(history, history_days, backtest_weeks, hours)
    model = choose_model(tests)
    return Forecast(
        site=site,
        service=service,
        days=list(targets),
        hours=hours,
        arrivals=MODELS[model](history, history_days, targets),
        model=model,
        backtests=tests,
        history_days=len(history_days),
    )


def hourly_arrivals(
    conn: RecordConnection, site: str, first: date, last: date, zone: ZoneInfo
) -> dict[str | None, Counts]:
    """Tickets issued per local hour at a unit from ``first`` to ``last``, per service field.

    Hours are grouped in SQL on the stored UTC hour and moved to local time here (exact for zones with
    whole-hour offsets, as Asia/Ho_Chi_Minh).
    """
    days = (last - first).days + 1
    result: dict[str | None, Counts] = {}
    rows = conn.execute(
        "SELECT service, substr(issued_at, 1, 13), COUNT(*) FROM visits WHERE site = ? AND day BETWEEN ? AND ? "
        "AND issued_at IS NOT NULL GROUP BY 1, 2",
        (site, (first - timedelta(days=1)).isoformat(), (last + timedelta(days=1)).isoformat()),
    ).fetchall()
    for service, hour_text, count in rows:
        local = datetime.fromisoformat(f"{hour_text}:00:00+00:00").astimezone(zone)
        index = (local.date() - first).days
        if 0 <= index < days:
            counts = result.get(service)
            if counts is None:
                counts = result[service] = np.zeros((days, 24))
            counts[index, local.hour] += count
    return result
