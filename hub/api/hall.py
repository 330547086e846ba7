"""The hall display: its page, what it shows, and the spoken call as a WAV file.

Public units (``access.public_units``) may be shown on a TV without a login, like their live board; the page
itself carries no data and is served to anyone.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse

from hub.api.deps import Runtime, SiteId
from hub.hall import SpeechError, call_text, desk_number
from protocol.messages import TICKET_PATTERN
from protocol.resources import package_dir
from protocol.topics import IDENTIFIER_PATTERN

router = APIRouter(tags=["hall"])

HALL_PAGE = package_dir("onestop_dashboards", "web", "hall.html")
SHOWN_CALLS = 6


@router.get(
    "/hall/{site}", summary="The hall display page for a unit's TV", response_model=None, include_in_schema=False
)
def hall_page(site: SiteId) -> FileResponse:
    """The page; it reads the unit from its address and its figures from the API."""
    if not HALL_PAGE.is_file():
        raise HTTPException(status_code=404, detail="the hall page is not installed")
    return FileResponse(HALL_PAGE, media_type="text/html")


@router.get("/api/v1/sites/{site}/hall", summary="What the hall display shows now")
def hall_view(runtime: Runtime, site: SiteId) -> dict[str, Any]:
    """Per desk: the number being served and the next numbers; per service field: the expected wait of a
    ticket taken now (the live model's prediction), people waiting and the desks serving it; the last calls."""
    now = runtime.clock()
    live = runtime.site_live(site, now)
    hall = runtime.settings.hall
    configured = runtime.settings.site(site)
    desks = []
    new_wait: dict[str, float | None] = {}
    with runtime.lock:
        for view in live["desks"]:
            is_open = bool(view["serving"] or view["staff_present"] or view["mean_service_s"] or view["queue_length"])
            new_wait[view["desk"]] = runtime.board.new_ticket_wait_s(site, view["desk"], now) if is_open else None
    for view in live["desks"]:
        waiting = sorted(view["waiting_tickets"], key=lambda t: not t["priority"])  # priority citizens go first
        desks.append(
            {
                "desk": view["desk"],
                "name": view["name"],
                "number": desk_number(view["name"], view["desk"]),
                "services": view["services"],
                "serving": view["serving"]["ticket"] if view["serving"] else None,
                "next": [t["ticket"] for t in waiting[: hall.next_numbers]],
                "queue_length": view["queue_length"],
            }
        )
    codes = list(runtime.settings.services)
    codes += sorted({c for d in desks for c in d["services"] if c not in codes})
    services = []
    for code in codes:
        serving = [d for d in desks if code in d["services"]]
        if not serving:
            continue
        waits = [w for d in serving if (w := new_wait.get(d["desk"])) is not None]
        services.append(
            {
                "code": code,
                "name": runtime.settings.services.get(code, code),
                "desks": [d["name"] for d in serving],
                "people_waiting": sum(d["queue_length"] for d in serving),
                "expected_wait_s": min(waits) if waits else None,
            }
        )
    calls = [runtime.call_json(call, now) for call in runtime.calls.of(site)[:SHOWN_CALLS]]
    return {
        "site": site,
        "name": configured.name if configured else site,
        "at": live["at"],
        "speak": site in hall.speak_units,
        "desks": desks,
        "services": services,
        "calls": calls,
    }


@router.get(
    "/api/v1/sites/{site}/hall/call.wav",
    summary="The spoken call of a number to a desk (WAV, espeak-ng)",
    response_model=None,
    responses={200: {"content": {"audio/wav": {}}}},
)
def hall_call_speech(
    runtime: Runtime,
    site: SiteId,
    desk: Annotated[str, Query(pattern=IDENTIFIER_PATTERN, description="The desk that called.")],
    ticket: Annotated[str, Query(pattern=TICKET_PATTERN, description="The number called.")],
) -> FileResponse:
    """Only for a unit that speaks its calls (``hall.speak_units``) and a number that desk really called:
    the words come from ``hall.template`` and the voice from ``hall.voice``; each call is generated once."""
    settings = runtime.settings
    if site not in settings.hall.speak_units:
        raise HTTPException(status_code=404, detail=f"unit {site} does not speak its calls (hall.speak_units)")
    with runtime.lock:
        serving = runtime.board.desk_view(site, desk, runtime.clock())["serving"]
    if not runtime.calls.was_called(site, desk, ticket) and not (serving and serving["ticket"] == ticket):
        raise HTTPException(status_code=404, detail=f"number {ticket} was not called to desk {desk}")
    configured = settings.site(site)
    desk_config = next((d for d in configured.desks if d.id == desk), None) if configured else None
    text = call_text(settings.hall, ticket, desk, desk_config.name if desk_config else desk)
    try:
        path = runtime.speech.wav_for(text)
    except SpeechError as error:
        raise HTTPException(status_code=503, detail=str(error)) from None
    return FileResponse(path, media_type="audio/wav", headers={"Cache-Control": "public, max-age=86400"})
