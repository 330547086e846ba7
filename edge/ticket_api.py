"""HTTP endpoint for an existing queue-number system: ``POST /api/v1/tickets`` with a bearer token.

The caller sends the event as it happened; the agent fills in the unit and desk, makes it a protocol
``ticket`` message and spools it durably before answering ``202 Accepted``. A caller that retries with the
same ``id`` after a lost answer creates no duplicate in the hub's record.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, status
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from protocol.messages import (
    CODE_PATTERN,
    MESSAGE_ID_PATTERN,
    STAFF_PATTERN,
    TICKET_PATTERN,
    TicketEvent,
    TicketMessage,
)
from protocol.topics import IDENTIFIER_PATTERN


class TicketRequest(BaseModel):
    """A ticket event from a queue-number system."""

    model_config = ConfigDict(extra="forbid")

    event: TicketEvent = Field(description="issued, called, recalled, started, finished, no_show, transferred.")
    ticket: str = Field(pattern=TICKET_PATTERN, description="Ticket number, unique per unit and local day.")
    service: str | None = Field(None, pattern=CODE_PATTERN, description="Service field code.")
    staff: str | None = Field(None, pattern=STAFF_PATTERN, description="Officer id; the desk's officer if absent.")
    priority: bool = Field(False, description="Priority citizen.")
    to_desk: str | None = Field(None, pattern=IDENTIFIER_PATTERN, description="On transferred: the next desk.")
    ts: AwareDatetime | None = Field(None, description="When it happened (RFC 3339 with offset); now if absent.")
    id: str | None = Field(
        None, pattern=MESSAGE_ID_PATTERN, description="Your idempotency key; retries with the same id are deduplicated."
    )


def ticket_router(
    site: str,
    desk: str,
    default_staff: str | None,
    default_service: str | None,
    token: str | None,
    emit: Callable[[TicketMessage], None],
) -> APIRouter:
    """The ticket endpoint of one desk. With ``token`` None the endpoint is open (loopback only)."""

    def authorised(authorization: Annotated[str | None, Header()] = None) -> None:
        if token is None:
            return
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="missing or wrong bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    router = APIRouter(prefix="/api/v1", tags=["tickets"], dependencies=[Depends(authorised)])

    @router.post("/tickets", status_code=status.HTTP_202_ACCEPTED, summary="Record a ticket event")
    def post_ticket(request: TicketRequest) -> dict[str, Any]:
        """Spool the event durably and answer with its message id."""
        fields: dict[str, Any] = {
            "site": site,
            "desk": desk,
            "event": request.event,
            "ticket": request.ticket,
            "service": request.service or default_service,
            "staff": request.staff or (default_staff if request.event is not TicketEvent.ISSUED else None),
            "priority": request.priority,
            "to_desk": request.to_desk,
        }
        if request.ts is not None:
            fields["ts"] = request.ts
        if request.id is not None:
            fields["id"] = request.id
        try:
            message = TicketMessage(**fields)
        except ValidationError as error:
            reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'event'}: {e['msg']}" for e in error.errors())
            raise HTTPException(status_code=422, detail=reasons) from None
        emit(message)
        return {"id": message.id, "topic": message.topic, "spooled": True}

    return router
