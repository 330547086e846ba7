"""Server-sent events: live desk states and alerts as they change."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from hub.api.deps import Runtime

router = APIRouter(prefix="/api/v1", tags=["stream"])

KEEPALIVE_S = 15.0


@router.get("/stream", summary="Live changes (text/event-stream)")
async def stream(
    request: Request, runtime: Runtime, site: Annotated[str | None, Query(description="Only this unit.")] = None
) -> StreamingResponse:
    """Events: ``desk`` (a desk's live state), ``alert`` (raised or cleared), ``call`` (a desk called a number,
    for the hall display), ``resync`` (reload the state)."""
    broadcaster = runtime.broadcaster
    assert broadcaster is not None
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
                if site is not None and name in ("desk", "alert", "call") and f'"site": "{site}"' not in data:
                    continue
                yield f"event: {name}\ndata: {data}\n\n"
        finally:
            broadcaster.unsubscribe(client)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
