"""Dependencies shared by the API routers."""

from __future__ import annotations

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
