"""Dependencies shared by the API routers."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import Depends, HTTPException, Request

from hub.runtime import HubRuntime
from protocol.topics import is_identifier


def get_runtime(request: Request) -> HubRuntime:
    """The running hub, opened in the application's lifespan."""
    runtime: HubRuntime = request.app.state.runtime
    return runtime


Runtime = Annotated[HubRuntime, Depends(get_runtime)]


def checked_site(site: str) -> str:
    """A unit id from the path, validated like the protocol's."""
    if not is_identifier(site):
        raise HTTPException(status_code=422, detail=f"{site!r} is not a valid unit id")
    return site


SiteId = Annotated[str, Depends(checked_site)]


# The days any API request may name: the record starts after 2000 and nothing is planned past 2099. Beyond,
# a date is a mistake (or a probe): 422, never a computation that overflows or runs for minutes.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2099, 12, 31)
MAX_SPAN_DAYS = 5 * 366 + 1


def bounded_day(value: date | None, name: str) -> date | None:
    """A day from the query, refused with 422 outside the sane range."""
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise HTTPException(
            status_code=422,
            detail=f"{name}={value.isoformat()} is outside {FIRST_DAY.isoformat()}..{LAST_DAY.isoformat()}",
        )
    return value


def bounded_span(first: date, last: date, name: str) -> None:
    """Refuse with 422 a span of days outside the sane range or longer than five years."""
    bounded_day(first, name)
    bounded_day(last, name)
    if last - first > timedelta(days=MAX_SPAN_DAYS):
        raise HTTPException(status_code=422, detail=f"{name} spans more than five years: ask for a shorter period")
