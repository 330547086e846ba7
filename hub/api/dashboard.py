"""What the web dashboard reads besides the core API: its configuration, the province outline, the overview of
every unit for the map, and the figures per hour of a day and per day of a week for the charts."""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse

from hub.api.deps import Runtime, SiteId, bounded_day
from hub.api.session import describe, policy_of, principal_of
from hub.figures import mean, percentile, share
from hub.line import line_figures
from hub.sinks.record import RecordReader
from protocol.resources import package_dir

router = APIRouter(tags=["dashboard"])

GEO_DIR = package_dir("onestop_dashboards", "web", "geo")
MAX_DAYS = 62


def shipped_outline(province: str, code: int | None = None) -> Path | None:
    """The outline shipped for a province (``dashboards/web/geo/index.json``), by its code (Decision
    19/2025/QĐ-TTg) when given and shipped, else by its name; None if none ships."""
    index_file = GEO_DIR / "index.json"
    if not index_file.is_file():
        return None
    entries = json.loads(index_file.read_text(encoding="utf-8")).get("provinces", [])
    wanted = _plain(province)
    found = next((e for e in entries if code is not None and e.get("code") == code), None)
    found = found or next((e for e in entries if _plain(e["name"]) == wanted), None)
    return GEO_DIR / found["file"] if found else None


def _plain(name: str) -> str:
    decomposed = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().replace("tinh ", "").strip()


def record_reader(request: Request) -> RecordReader:
    """The dashboard's own read connections to the record (opened on first use, closed with the app)."""
    reader: RecordReader | None = getattr(request.app.state, "record_reader", None)
    if reader is None:
        runtime = request.app.state.runtime
        reader = request.app.state.record_reader = RecordReader(runtime.settings.database)
    return reader


Reader = Annotated[RecordReader, Depends(record_reader)]


@router.get("/api/v1/dashboard/config", summary="What the dashboard shows: province, units, map, labels")
def dashboard_config(runtime: Runtime, request: Request) -> dict[str, Any]:
    """Units visible to the caller (only the public ones to an anonymous visitor), the map settings, service
    names, the rating scale and who is logged in."""
    settings = runtime.settings
    policy = policy_of(request)
    principal = principal_of(request)
    visible = None if principal.authenticated else set(policy.settings.public_units)
    today = runtime.local_today()
    units = []
    for site_id in runtime.known_sites():
        if visible is not None and site_id not in visible:
            continue
        configured = settings.site(site_id)
        units.append(
            {
                "id": site_id,
                "name": configured.name if configured else site_id,
                "level": runtime.level_of(site_id, today).value,
                "lat": configured.lat if configured else None,
                "lon": configured.lon if configured else None,
                "desks": [{"id": d.id, "name": d.name, "services": d.services} for d in configured.desks]
                if configured
                else [],
            }
        )
    outline = settings.map.outline_file or shipped_outline(settings.province.name, settings.province.code)
    return {
        "province": {"name": settings.province.name, "code": settings.province.code},
        "timezone": settings.timezone,
        "today": today.isoformat(),
        "units": units,
        "services": settings.services,
        "rating": {"levels": settings.rating.levels, "satisfied_min": settings.rating.satisfied_min},
        "map": {
            "outline_url": "/api/v1/dashboard/outline" if outline is not None else None,
            "country_url": "geo/vietnam.geojson" if (GEO_DIR / "vietnam.geojson").is_file() else None,
            "tile_url": settings.map.tile_url,
            "tile_attribution": settings.map.tile_attribution,
        },
        "access": describe(principal, policy),
        "provinces": len(settings.provinces),  # a national hub's provinces (national.html); 0 on a province hub
    }


@router.get("/api/v1/dashboard/outline", summary="GeoJSON outline of the province", response_model=None)
def outline(runtime: Runtime) -> FileResponse:
    """The configured ``map.outline_file``, else the outline shipped for the province."""
    path = runtime.settings.map.outline_file or shipped_outline(
        runtime.settings.province.name, runtime.settings.province.code
    )
    if path is None or not path.is_file():
        raise HTTPException(status_code=404, detail="no outline for this province: set map.outline_file")
    return FileResponse(path, media_type="application/geo+json")


@router.get("/api/v1/dashboard/overview", summary="Every unit now and today, for the province map")
def overview(runtime: Runtime) -> list[dict[str, Any]]:
    """Per unit: state and people waiting now, active alerts, and today's transactions, mean wait, share within
    the target and satisfaction."""
    today = runtime.local_today()
    active = runtime.alerts(None, True)
    result = []
    for unit in runtime.sites_overview():
        stats = runtime.site_stats(unit["id"], today)
        result.append(
            {
                **unit,
                "active_alerts": sum(1 for a in active if a["site"] == unit["id"]),
                "transactions": stats["transactions"],
                "mean_wait_s": stats["mean_wait_s"],
                "within_target_share": stats["within_target_share"],
                "ratings": stats["ratings"],
                "satisfaction_share": stats["satisfaction_share"],
            }
        )
    return result


@router.get("/api/v1/sites/{site}/hours", summary="A unit's figures per hour of one local day")
def site_hours(
    runtime: Runtime,
    reader: Reader,
    site: SiteId,
    day: Annotated[date | None, Query(alias="date", description="Local day YYYY-MM-DD; today if absent.")] = None,
) -> dict[str, Any]:
    """For each hour: tickets issued, transactions called, their mean and 90th-percentile wait and the share
    within the target, counted ratings and the satisfied share. Waits are per transaction, by call time."""
    day = bounded_day(day, "date") or runtime.local_today()
    zone = runtime.settings.zone
    stats = runtime.site_stats(site, day)
    target = stats["target_wait_s"]
    hours: dict[int, dict[str, Any]] = {
        h: {"issued": 0, "waits": [], "ratings": 0, "satisfied": 0, "line": []} for h in range(24)
    }
    for visit in runtime.store.visits(site, day.isoformat()):
        if visit.issued_at is not None:
            hours[visit.issued_at.astimezone(zone).hour]["issued"] += 1
        for transaction in visit.transactions:
            wait = transaction.wait_s
            if transaction.served and wait is not None:
                hours[transaction.called_at.astimezone(zone).hour]["waits"].append(wait)
    for fact in runtime.store.line_events(site, day.isoformat()):
        hours[fact.ts.astimezone(zone).hour]["line"].append(fact)
    scale = runtime.settings.rating
    for ts, score, levels, counted in reader.rating_times(site, day.isoformat()):
        if counted:
            bucket = hours[datetime.fromisoformat(ts).astimezone(zone).hour]
            bucket["ratings"] += 1
            bucket["satisfied"] += int(score >= scale.satisfied_min_for(levels))
    rows = []
    for hour, h in hours.items():
        waits = h["waits"]
        rows.append(
            {
                "hour": hour,
                "issued": h["issued"],
                "transactions": len(waits),
                "mean_wait_s": mean(waits),
                "p90_wait_s": percentile(waits, 90),
                "within_target_share": share(sum(1 for w in waits if w <= target), len(waits)) if target else None,
                "ratings": h["ratings"],
                "satisfaction_share": share(h["satisfied"], h["ratings"]),
                "line": line_figures(h["line"]),
            }
        )
    return {"site": site, "date": day.isoformat(), "target_wait_s": target, "hours": rows}


@router.get("/api/v1/sites/{site}/days", summary="A unit's daily figures over a span of days")
def site_days(
    runtime: Runtime,
    site: SiteId,
    until: Annotated[date | None, Query(alias="to", description="Last local day; today if absent.")] = None,
    days: Annotated[int, Query(ge=1, le=MAX_DAYS, description="How many days, ending with `to`.")] = 7,
) -> dict[str, Any]:
    """The day figures of ``/stats`` (without the per-desk part) for each day, oldest first, read from the
    daily roll-ups."""
    last = until or runtime.local_today()
    bounded_day(last, "to")
    rows = [runtime.site_day(site, last - timedelta(days=offset)) for offset in range(days - 1, -1, -1)]
    return {"site": site, "to": last.isoformat(), "days": rows}
