"""Units: the list, the day's figures against the targets, the live state of each desk."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from hub.api.deps import Runtime, SiteId, bounded_day

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])


@router.get("", summary="Units with level, name and coordinates")
def list_sites(runtime: Runtime) -> list[dict[str, Any]]:
    """Configured units, then units known only because they sent data, with their state now."""
    return runtime.sites_overview()


@router.get("/{site}/stats", summary="A unit's figures for one local day")
def site_stats(
    runtime: Runtime,
    site: SiteId,
    day: Annotated[date | None, Query(alias="date", description="Local day YYYY-MM-DD; today if absent.")] = None,
) -> dict[str, Any]:
    """Visits, transactions, no-shows, waits (mean, median, 90th percentile, share within the target in
    force that day), service times and satisfaction, for the unit and each of its desks."""
    return runtime.site_stats(site, bounded_day(day, "date") or runtime.local_today())


@router.get("/{site}/live", summary="Live state of a unit's desks")
def site_live(runtime: Runtime, site: SiteId) -> dict[str, Any]:
    """Queue length, tickets waiting, staff present, head-of-line and predicted wait per desk, now."""
    return runtime.site_live(site)
