"""Alerts: targets at risk or broken, nodes offline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hub.api.deps import Runtime

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


@router.get("", summary="Active alerts, or the recent history")
def list_alerts(
    runtime: Runtime,
    site: Annotated[str | None, Query(description="Only this unit.")] = None,
    active: Annotated[bool, Query(description="Only alerts raised and not yet cleared; false for history.")] = True,
) -> list[dict[str, Any]]:
    """Alerts, newest first for the history."""
    return runtime.alerts(site, active)
