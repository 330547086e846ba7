"""Provinces: a national hub's overview of every province and a province's units (docs/national.md)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from fastapi.responses import FileResponse

from hub.api.dashboard import shipped_outline
from hub.api.deps import Runtime, bounded_day
from hub.national import province_figures, provinces_overview

router = APIRouter(prefix="/api/v1/provinces", tags=["provinces"])

DayQuery = Annotated[date | None, Query(alias="date", description="Local day YYYY-MM-DD; today if absent.")]
Code = Annotated[int, Path(ge=0, le=99, description="Province code (vietnam-provinces).")]


@router.get("", summary="Every province: its units, state now and figures of a day")
def list_provinces(runtime: Runtime, day: DayQuery = None) -> dict[str, Any]:
    """Per province: code, name, its units with their state and figures, and the province's totals (visits,
    transactions, no-shows, ratings, satisfied share, pooled mean transaction wait). A province hub shows its
    own province; a national hub the ``provinces`` of its configuration."""
    chosen = bounded_day(day, "date") or runtime.local_today()
    provinces = provinces_overview(runtime, chosen)
    for province in provinces:
        outline = shipped_outline(province["name"], province["code"])
        province["outline_url"] = f"/api/v1/provinces/{province['code']}/outline" if outline else None
    return {"date": chosen.isoformat(), "provinces": provinces}


@router.get("/{code}", summary="One province: its units and figures of a day")
def get_province(runtime: Runtime, code: Code, day: DayQuery = None) -> dict[str, Any]:
    """As one entry of the list; 404 for a province the hub does not show."""
    entry = next((p for p in runtime.settings.province_list() if p.code == code), None)
    if entry is None:
        raise HTTPException(status_code=404, detail=f"no province with code {code} in this hub's configuration")
    units = {unit["id"]: unit for unit in runtime.sites_overview()}
    return province_figures(runtime, entry, bounded_day(day, "date") or runtime.local_today(), units)


@router.get("/{code}/outline", summary="GeoJSON outline of a province", response_model=None)
def province_outline(runtime: Runtime, code: Code) -> FileResponse:
    """The outline shipped for the province's code or name (dashboards/web/geo/index.json); 404 when none
    ships."""
    entry = next((p for p in runtime.settings.province_list() if p.code == code), None)
    path = shipped_outline(entry.name, entry.code) if entry else None
    if path is None or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no outline shipped for province {code}")
    return FileResponse(path, media_type="application/geo+json")
