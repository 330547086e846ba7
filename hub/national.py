"""The provinces of a national (or multi-province) hub: each province's units and its figures for a day.

A national hub receives every province's messages through the province brokers' bridges (docs/national.md);
its record holds the units of all of them, so a province's figures are those of its units, added up here:
counts are sums, shares are recomputed from the summed counts, and the mean wait pools every served
transaction of the province (never a mean of the units' means).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from hub.config import ProvinceEntry
from hub.figures import mean, share
from hub.runtime import STATE_ORDER, HubRuntime

# Figures of a unit's day that add up over a province.
SUMMED = ("visits", "transactions", "no_shows", "waiting", "ratings", "satisfied")


def province_figures(
    runtime: HubRuntime, entry: ProvinceEntry, day: date, units: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """A province's units (their live state now and figures of ``day``) and the province's totals."""
    rows = []
    waits: list[float] = []
    for unit_id in entry.units:
        stats = runtime.site_stats(unit_id, day)
        now = units.get(unit_id, {})
        configured = runtime.settings.site(unit_id)
        rows.append(
            {
                "id": unit_id,
                "name": stats["name"],
                "level": stats["level"],
                "lat": configured.lat if configured else None,
                "lon": configured.lon if configured else None,
                "state": now.get("state", "ok"),
                "people_waiting": now.get("people_waiting", 0),
                **{key: stats[key] for key in SUMMED},
                "satisfaction_share": stats["satisfaction_share"],
                "mean_wait_s": stats["mean_wait_s"],
                "within_target_share": stats["within_target_share"],
            }
        )
        for visit in runtime.store.visits(unit_id, day.isoformat()):
            waits += [w for t in visit.transactions if t.served and (w := t.wait_s) is not None]
    totals = {key: sum(row[key] for row in rows) for key in SUMMED}
    placed = [row for row in rows if row["lat"] is not None and row["lon"] is not None]
    return {
        "code": entry.code,
        "name": entry.name,
        "date": day.isoformat(),
        "unit_count": len(rows),
        "lat": mean([row["lat"] for row in placed]),
        "lon": mean([row["lon"] for row in placed]),
        "state": max((row["state"] for row in rows), key=STATE_ORDER.__getitem__, default="ok"),
        "people_waiting": sum(row["people_waiting"] for row in rows),
        **totals,
        "satisfaction_share": share(totals["satisfied"], totals["ratings"]),
        "mean_transaction_wait_s": mean(waits),
        "units": rows,
    }


def provinces_overview(runtime: HubRuntime, day: date) -> list[dict[str, Any]]:
    """Every province the hub shows, with its units and figures for ``day``."""
    units = {unit["id"]: unit for unit in runtime.sites_overview()}
    return [province_figures(runtime, entry, day, units) for entry in runtime.settings.province_list()]
