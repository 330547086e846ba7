"""Tomorrow's desks: the demand forecast of each service field, and the desks each hour needs (Erlang C).

For a unit and a day: the arrivals per hour of each field (``hub.reports.forecast``, the model chosen by
back-testing), the mean handling time measured at that unit over the same history, the wait target in force
that day for the unit's level, and the fewest desks that keep a citizen's wait within it with the configured
probability (``hub.reports.staffing``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from hub.config import HubSettings
from hub.reports.forecast import MODEL_NAMES, Forecast, forecast_from, hourly_arrivals
from hub.reports.record import Record
from hub.reports.staffing import QueueAnswer, StaffingError, desks_needed
from hub.reports.targets import day_targets, describe_target

MIN_MEASURED = 30  # fewer handling times than this: use the unit's mean over every field

ASSUMPTIONS = [
    "Người dân đến ngẫu nhiên, độc lập (Poisson): giờ mở cửa và sau giờ nghỉ trưa thường dồn khách, cần nhiều"
    " quầy hơn số tính được.",
    "Thời gian xử lý coi như phân phối mũ (hệ số biến thiên CV = 1): CV đo được nhỏ hơn 1 thì mô hình hơi dư"
    " an toàn; CV lớn hơn 1 (vài hồ sơ rất lâu) thì mô hình đánh giá thấp thời gian chờ.",
    "Mỗi giờ tính như trạng thái ổn định: hàng tồn từ giờ trước chuyển sang giờ sau không được tính.",
    "Các quầy cùng lĩnh vực dùng chung một hàng, gọi theo thứ tự; nếu mỗi quầy một hàng riêng hoặc quầy phục vụ"
    " nhiều lĩnh vực thì cần nhiều quầy hơn. Không tính người bỏ về, người vắng mặt khi gọi, việc ngoài quầy.",
    "Dự báo không biết ngày lễ, Tết: tuần có ngày lễ được dự báo như tuần thường.",
]


@dataclass(frozen=True, slots=True)
class HourPlan:
    """One hour of one field: arrivals forecast and the Erlang C answer."""

    hour: int
    arrivals: float
    answer: QueueAnswer | None
    problem: str | None = None

    @property
    def desks(self) -> int | None:
        """Desks needed (None when no number of desks is enough)."""
        return self.answer.servers if self.answer else None


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """One service field of the unit on the day."""

    service: str | None
    service_name: str
    forecast: Forecast
    mean_service_s: float
    service_cv: float | None
    measured: int
    configured_desks: int
    hours: list[HourPlan]


@dataclass(frozen=True, slots=True)
class StaffingPlan:
    """A unit's desks per hour for one day."""

    site: str
    site_name: str
    day: date
    probability: float
    target_s: float | None
    target_text: str
    services: list[ServicePlan]
    hours: tuple[int, int]
    assumptions: list[str]

    def desks_per_hour(self) -> dict[int, int]:
        """Desks needed over every field, per hour (fields do not share desks: the sum)."""
        first, last = self.hours
        return {h: sum(p.hours[h - first].desks or 0 for p in self.services) for h in range(first, last + 1)}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready plan."""
        return {
            "site": self.site,
            "site_name": self.site_name,
            "date": self.day.isoformat(),
            "probability": self.probability,
            "target_wait_s": self.target_s,
            "target": self.target_text,
            "assumptions": self.assumptions,
            "desks_per_hour": {str(h): d for h, d in self.desks_per_hour().items()},
            "services": [
                {
                    "service": p.service,
                    "service_name": p.service_name,
                    "model": p.forecast.model,
                    "model_name": MODEL_NAMES[p.forecast.model],
                    "backtests": p.forecast.as_dict()["backtests"],
                    "mean_service_s": p.mean_service_s,
                    "service_cv": p.service_cv,
                    "measured": p.measured,
                    "configured_desks": p.configured_desks,
                    "hours": [
                        {
                            "hour": h.hour,
                            "arrivals": h.arrivals,
                            "desks": h.desks,
                            "wait_probability": h.answer.wait_probability if h.answer else None,
                            "mean_wait_s": _finite(h.answer.mean_wait_s) if h.answer else None,
                            "within_target": h.answer.within_target if h.answer else None,
                            "occupancy": h.answer.occupancy if h.answer else None,
                            "problem": h.problem,
                        }
                        for h in p.hours
                    ],
                }
                for p in self.services
            ],
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def forecasts(
    record: Record, settings: HubSettings, site: str, first: date, days: int, service: str | None = None
) -> list[Forecast]:
    """The forecast of each service field of a unit (or of one) for ``days`` days from ``first``."""
    config = settings.staffing
    history_first = first - timedelta(weeks=config.history_weeks)
    history_last = first - timedelta(days=1)
    (arrivals,) = record.run(lambda conn: hourly_arrivals(conn, site, history_first, history_last, settings.zone))
    history_days = [history_first + timedelta(days=i) for i in range((history_last - history_first).days + 1)]
    targets = [first + timedelta(days=i) for i in range(days)]
    fields = [service] if service is not None else sorted(arrivals, key=lambda s: (s is None, s or ""))
    result = []
    for field in fields:
        counts = arrivals.get(field)
        if counts is None:
            continue
        result.append(
            forecast_from(site, field, counts, history_days, targets, config.backtest_weeks, config.open_hours)
        )
    return result


def staffing_plan(
    record: Record,
    settings: HubSettings,
    site: str,
    day: date,
    service: str | None = None,
    probability: float | None = None,
) -> StaffingPlan:
    """Desks per hour and field at a unit on ``day``, from the forecast and the measured handling times."""
    config = settings.staffing
    chance = probability if probability is not None else config.answer_probability
    targets = day_targets(settings, site, day)
    target_s = targets.wait_limit_s
    first, last = config.open_hours
    history_first = (day - timedelta(weeks=config.history_weeks)).isoformat()
    history_last = (day - timedelta(days=1)).isoformat()

    def measured(conn: Any) -> list[Any]:
        rows: list[Any] = conn.execute(
            "SELECT service, COUNT(service_s), TOTAL(service_s), TOTAL(service_s * service_s) FROM transactions "
            "WHERE site = ? AND day BETWEEN ? AND ? AND service_s IS NOT NULL GROUP BY service",
            (site, history_first, history_last),
        ).fetchall()
        return rows

    (rows,) = record.run(measured)
    stats = {row[0]: (row[1], row[2], row[3]) for row in rows}
    unit_n = sum(n for n, _, _ in stats.values())
    unit_mean = sum(total for _, total, _ in stats.values()) / unit_n if unit_n else settings.live.default_service_s
    configured = settings.site(site)
    plans = []
    for forecast in forecasts(record, settings, site, day, 1, service):
        n, total, squares = stats.get(forecast.service, (0, 0.0, 0.0))
        if n >= MIN_MEASURED:
            mean = total / n
            variance = max(0.0, squares / n - mean * mean)
            cv: float | None = math.sqrt(variance) / mean if mean else None
        else:
            mean, cv = unit_mean, None
        hours = []
        for hour in range(first, last + 1):
            arrivals = float(forecast.arrivals[0, hour])
            if target_s is None:
                hours.append(HourPlan(hour, arrivals, None, "không có chỉ tiêu thời gian chờ"))
                continue
            try:
                hours.append(HourPlan(hour, arrivals, desks_needed(arrivals, mean, target_s, chance, config.max_desks)))
            except StaffingError as error:
                hours.append(HourPlan(hour, arrivals, None, str(error)))
        desks = [d for d in configured.desks if forecast.service in d.services] if configured else []
        plans.append(
            ServicePlan(
                service=forecast.service,
                service_name=settings.services.get(forecast.service or "", forecast.service or "(không rõ)"),
                forecast=forecast,
                mean_service_s=mean,
                service_cv=cv,
                measured=n,
                configured_desks=len(desks),
                hours=hours,
            )
        )
    return StaffingPlan(
        site=site,
        site_name=configured.name if configured else site,
        day=day,
        probability=chance,
        target_s=target_s,
        target_text=describe_target(targets),
        services=plans,
        hours=(first, last),
        assumptions=list(ASSUMPTIONS),
    )
