"""Alert acknowledgement, the subscriptions and the delivery log (supervisors), and the three voices."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request

from hub.api.deps import Runtime, SiteId
from hub.api.session import principal_of
from hub.auth import Principal, Role
from hub.voices import three_voices
from protocol.errors import OneStopError
from protocol.messages import MESSAGE_ID_PATTERN
from protocol.topics import is_identifier

router = APIRouter(tags=["alerts"])

AlertId = Annotated[str, Path(pattern=MESSAGE_ID_PATTERN, description="The alert's id.")]


def supervisor(request: Request) -> Principal:
    """The caller, who must be a supervisor or an admin (403 otherwise)."""
    principal = principal_of(request)
    if not principal.may(Role.SUPERVISOR):
        raise HTTPException(status_code=403, detail="only a supervisor may do this")
    return principal


@router.post("/api/v1/alerts/{alert_id}/ack", summary="Acknowledge an alert (supervisor)")
def acknowledge(alert_id: AlertId, runtime: Runtime, request: Request) -> dict[str, Any]:
    """Records who took the alert in hand; stops its escalation. The first acknowledgement stands."""
    principal = supervisor(request)
    ack = runtime.notifier.acknowledge(alert_id, principal.name or "?")
    if ack is None:
        raise HTTPException(status_code=404, detail=f"no alert {alert_id!r}")
    if ack.by == principal.name and ack.alert_id == alert_id:
        runtime.audit.record(principal.name, "alert.acknowledge", alert_id, {"root_id": ack.root_id})
    acknowledged = {"acknowledged_by": ack.by, "acknowledged_at": ack.at.isoformat()}
    if runtime.broadcaster is not None:  # other dashboards show it at once
        for alert in runtime.alerts(None, active_only=True):
            if alert["id"] == alert_id:
                runtime.broadcaster.publish("alert", alert)
    return {**ack.as_json(), **acknowledged}


@router.get("/api/v1/notify/recipients", summary="Who receives which alerts (supervisor)")
def recipients(runtime: Runtime, request: Request) -> list[dict[str, Any]]:
    """The subscriptions of the configuration: units, kinds, channels, quiet hours and escalation."""
    supervisor(request)
    return [
        {
            "id": r.id,
            "name": r.name,
            "channels": r.channels,
            "sites": r.sites,
            "kinds": [k.value for k in r.kinds] if r.kinds is not None else None,
            "cleared": r.cleared,
            "quiet_hours": r.quiet_hours.model_dump(mode="json") if r.quiet_hours else None,
            "escalation": r.escalation.model_dump(mode="json") if r.escalation else None,
        }
        for r in runtime.notifier.settings.recipients
    ]


@router.get("/api/v1/notify/deliveries", summary="The delivery log (supervisor)")
def deliveries(
    runtime: Runtime,
    request: Request,
    site: Annotated[str | None, Query(description="Only this unit.")] = None,
    alert: Annotated[str | None, Query(pattern=MESSAGE_ID_PATTERN, description="Only this alert.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Each delivery (alert, recipient, channel, first or escalation) with its attempts, newest first."""
    supervisor(request)
    if site is not None and not is_identifier(site):
        raise HTTPException(status_code=422, detail=f"{site!r} is not a valid unit id")
    outbox = runtime.notifier.outbox
    result: dict[str, Any] = {"deliveries": outbox.deliveries(site, alert, limit), "counts": outbox.counts()}
    if alert is not None:
        root = outbox.root_of(alert)
        ack = outbox.acknowledgement(alert)
        result["escalations"] = outbox.escalations(root) if root else []
        result["acknowledgement"] = ack.as_json() if ack else None
    return result


@router.get("/api/v1/sites/{site}/voices", summary="Buttons, comments and faces per hour, and their agreement")
def voices(
    site: SiteId,
    runtime: Runtime,
    request: Request,
    day: Annotated[date | None, Query(alias="date", description="Local day YYYY-MM-DD; today when absent.")] = None,
) -> dict[str, Any]:
    """Per hour: the satisfied share of counted ratings, comment sentiment and mean emotion valence, with a
    warning where ratings and comments (or faces) disagree beyond chance (see docs/alerts.md)."""
    supervisor(request)
    try:
        return three_voices(runtime.settings, site, day or runtime.local_today()).as_json()
    except OneStopError as error:
        raise HTTPException(status_code=503, detail=str(error)) from None
