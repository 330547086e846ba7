"""The targets in force on each day of a period, for each unit at its dated level, as SQL expressions.

A report over a period that spans a change of target (30 minutes per visit until 2022, 15 minutes per
transaction from 2023; handling 30 minutes per dossier from 2025) or a change of a unit's level (district
units became commune units on 1 July 2025) judges every wait against the target in force on its own day
for its own unit. The schedule is turned into a ``CASE`` expression over the record's ``site`` and ``day``
columns, so that the counting happens inside the database's aggregate, with no join; in the common case
(one target for the whole period) the expression is a constant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from hub.config import HubSettings, TargetMetric, UnitLevel, targets_in_force, wait_target
from hub.reports.periods import Period

# A unit that is not in the configuration is judged as the live board judges it.
UNKNOWN_LEVEL = UnitLevel.COMMUNE
LEVEL_ORDER = (UnitLevel.PROVINCE, UnitLevel.DISTRICT, UnitLevel.COMMUNE)  # how targets are listed: province first
_UNKNOWN = ""  # the pseudo-site of units not in the configuration

BASIS_VISIT = "visit"
BASIS_TRANSACTION = "transaction"


@dataclass(frozen=True, slots=True)
class DayTargets:
    """What is in force for one unit on one day."""

    level: UnitLevel
    wait_basis: str | None
    wait_limit_s: float | None
    service_limit_s: float | None


@dataclass(frozen=True, slots=True)
class TargetRun:
    """Consecutive days of one unit with the same targets."""

    site: str
    first: date
    last: date
    targets: DayTargets


def day_targets(settings: HubSettings, site: str, day: date) -> DayTargets:
    """The targets in force at ``site`` on ``day`` (its level that day; commune level for unknown units)."""
    configured = settings.site(site)
    return level_targets(settings, configured.level_on(day) if configured else UNKNOWN_LEVEL, day)


def level_targets(settings: HubSettings, level: UnitLevel, day: date) -> DayTargets:
    """The targets in force for a unit of ``level`` on ``day``."""
    rule = wait_target(settings, day, level)
    handling = targets_in_force(settings, day, level).get(TargetMetric.HANDLING_PER_DOSSIER)
    basis = None
    if rule is not None:
        basis = BASIS_VISIT if rule.metric is TargetMetric.WAIT_PER_VISIT else BASIS_TRANSACTION
    return DayTargets(
        level=level,
        wait_basis=basis,
        wait_limit_s=rule.limit_s if rule else None,
        service_limit_s=handling.limit_s if handling else None,
    )


class TargetSchedule:
    """The targets of every configured unit (and of any unknown one) on every day of a period."""

    def __init__(self, settings: HubSettings, period: Period) -> None:
        self.settings = settings
        self.period = period
        self.sites = [s.id for s in settings.sites]
        self.runs: list[TargetRun] = []
        by_level: dict[tuple[UnitLevel, date], DayTargets] = {}
        # Units of one fixed level share their runs: the days are walked once per level, not once per unit.
        of_fixed_level: dict[UnitLevel, list[TargetRun]] = {}
        for site in [*self.sites, _UNKNOWN]:
            configured = settings.site(site) if site else None
            fixed = configured.level if configured else UNKNOWN_LEVEL
            shared = of_fixed_level.get(fixed) if fixed is not None else None
            if shared is not None:
                self.runs += [TargetRun(site, run.first, run.last, run.targets) for run in shared]
                continue
            runs: list[TargetRun] = []
            for day in period.each_day():
                level = configured.level_on(day) if configured else UNKNOWN_LEVEL
                targets = by_level.get((level, day))
                if targets is None:
                    targets = by_level[(level, day)] = level_targets(settings, level, day)
                if runs and runs[-1].targets == targets:
                    runs[-1] = TargetRun(site, runs[-1].first, day, targets)
                else:
                    runs.append(TargetRun(site, day, day, targets))
            if fixed is not None:
                of_fixed_level[fixed] = runs
            self.runs += runs

    def on(self, site: str, day: date) -> DayTargets:
        """The targets of a unit on a day of the period."""
        key = site if site in self.sites else _UNKNOWN
        for run in self.runs:
            if run.site == key and run.first <= day <= run.last:
                return run.targets
        return day_targets(self.settings, site, day)

    def wait_limit_sql(self, alias: str = "") -> str:
        """SQL: the wait limit in force (seconds) for the row's unit and day; NULL where none is."""
        return self._case(alias, lambda t: t.wait_limit_s)

    def service_limit_sql(self, alias: str = "") -> str:
        """SQL: the handling limit in force (seconds) for the row's unit and day; NULL where none is."""
        return self._case(alias, lambda t: t.service_limit_s)

    def basis_sql(self, alias: str = "") -> str:
        """SQL: ``'visit'`` or ``'transaction'``: what the wait target in force counts, NULL if none."""
        return self._case(alias, lambda t: t.wait_basis)

    def distinct(self) -> list[TargetRun]:
        """The runs of the schedule merged over units: one per distinct date range and targets."""
        seen: dict[tuple[date, date, DayTargets], TargetRun] = {}
        for run in self.runs:
            seen.setdefault((run.first, run.last, run.targets), run)
        return sorted(seen.values(), key=lambda r: (r.first, LEVEL_ORDER.index(r.targets.level)))

    def _case(self, alias: str, value_of: object) -> str:
        assert callable(value_of)
        prefix = f"{alias}." if alias else ""
        values = {value_of(run.targets) for run in self.runs}
        if len(values) == 1:
            return _literal(values.pop())
        # Group the runs by (date range, value) and name the units each applies to.
        branches: dict[tuple[date, date, object], list[str]] = {}
        for run in self.runs:
            branches.setdefault((run.first, run.last, value_of(run.targets)), []).append(run.site)
        all_sites = {*self.sites, _UNKNOWN}
        parts = []
        configured = ", ".join(f"'{s}'" for s in self.sites) or "''"
        for (first, last, value), sites in branches.items():
            if value is None:
                continue
            conditions = []
            if first > self.period.first or last < self.period.last:
                conditions.append(f"{prefix}day BETWEEN '{first.isoformat()}' AND '{last.isoformat()}'")
            if set(sites) != all_sites:
                named = [s for s in sites if s != _UNKNOWN]
                site_terms = []
                if named:
                    quoted = ", ".join(f"'{s}'" for s in named)
                    site_terms.append(f"{prefix}site IN ({quoted})")
                if _UNKNOWN in sites:
                    site_terms.append(f"{prefix}site NOT IN ({configured})")
                conditions.append("(" + " OR ".join(site_terms) + ")")
            parts.append(f"WHEN {' AND '.join(conditions) or '1 = 1'} THEN {_literal(value)}")
        return "(CASE " + " ".join(parts) + " END)" if parts else "NULL"


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(float(value))  # type: ignore[arg-type]


def describe_target(targets: DayTargets) -> str:
    """The targets in Vietnamese, e.g. 'chờ ≤ 15 phút/lượt giao dịch; xử lý ≤ 30 phút/hồ sơ'."""
    parts = []
    if targets.wait_limit_s is not None:
        unit = "lần đến giao dịch" if targets.wait_basis == BASIS_VISIT else "lượt giao dịch"
        parts.append(f"chờ ≤ {targets.wait_limit_s / 60:g} phút/{unit}")
    else:
        parts.append("không có chỉ tiêu thời gian chờ")
    if targets.service_limit_s is not None:
        parts.append(f"tiếp nhận, xử lý ≤ {targets.service_limit_s / 60:g} phút/hồ sơ")
    return "; ".join(parts)
