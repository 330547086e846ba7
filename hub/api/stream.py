"""Server-sent events: live desk states and alerts as they change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from hub.api.deps import Runtime
from hub.api.session import client_of, policy_of, principal_of
from hub.events import END

router = APIRouter(prefix="/api/v1", tags=["stream"])

KEEPALIVE_S = 15.0


@router.get("/stream", summary="Live changes (text/event-stream)")
async def stream(
    request: Request, runtime: Runtime, site: Annotated[str | None, Query(description="Only this unit.")] = None
) -> StreamingResponse:
    """Events: ``desk`` (a desk's live state), ``alert`` (raised or cleared), ``call`` (a desk called a number,
    for the hall display), ``resync`` (reload the state).
    At most ``access.max_streams_per_user`` streams per user (or address, for the public view) and
    ``access.max_streams_total`` in all are open at once; beyond, 429."""
    broadcaster = runtime.broadcaster
    assert broadcaster is not None
    policy = policy_of(request)
    holder = principal_of(request).name or f"@{client_of(request)}"
    open_streams = policy.streams
    if sum(open_streams.values()) >= policy.settings.max_streams_total:
        raise HTTPException(status_code=429, detail="too many live streams open on this hub; try again later")
    if open_streams.get(holder, 0) >= policy.settings.max_streams_per_user:
        raise HTTPException(status_code=429, detail="too many live streams open for this user; close one first")
    open_streams[holder] = open_streams.get(holder, 0) + 1
    client = broadcaster.subscribe()

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n: connected\n\n"
            while not await request.is_disconnected():
                try:
                    name, data = await asyncio.wait_for(client.get(), timeout=KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if (name, data) == END:
                    return  # the hub is stopping; the browser reconnects (retry) to the next one
                if site is not None and name in ("desk", "alert", "call") and f'"site": "{site}"' not in data:
                    continue
                yield f"event: {name}\ndata: {data}\n\n"
        finally:
            broadcaster.unsubscribe(client)
            left = open_streams.get(holder, 1) - 1
            if left > 0:
                open_streams[holder] = left
            else:
                open_streams.pop(holder, None)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
