"""The hub's own health and the messages it rejected."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from hub.api.deps import Runtime

router = APIRouter(prefix="/api/v1", tags=["system"])


@router.get("/health", summary="Broker connection, ingest counts and edge node health")
def health(runtime: Runtime) -> dict[str, Any]:
    """What an operator checks first."""
    return runtime.health()


@router.get("/rejected", summary="Recently rejected messages with their reasons")
def rejected(runtime: Runtime, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Malformed messages are kept for inspection, newest first."""
    return [
        {
            "received_at": r.received_at.isoformat(),
            "topic": r.topic,
            "payload": r.payload.decode("utf-8", errors="replace"),
            "reason": r.reason,
        }
        for r in runtime.store.rejected(limit)
    ]


@router.get("/loss", summary="Messages missing per device (gaps in its numbered messages)")
def loss(runtime: Runtime) -> list[dict[str, Any]]:
    """Per device that numbers its messages: how many are missing, per stream, with the open gaps."""
    return runtime.loss()
