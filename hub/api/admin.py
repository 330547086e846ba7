"""Admin-only routes: the audit log, other users' sessions, and comment texts (read and erasure on request).

Every route here needs the admin role (``hub.auth.ROUTE_ROLES``); reading comment texts, erasing one and
revoking sessions are themselves written to the audit log.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request

from hub.api.deps import Runtime, SiteId, bounded_day, checked_site
from hub.api.session import actor_of, audit, policy_of
from hub.retention import comment_texts, erase_comment
from protocol.messages import MESSAGE_ID_PATTERN
from protocol.topics import IDENTIFIER_PATTERN

router = APIRouter(prefix="/api/v1", tags=["admin"])

USER_NAME = r"^[A-Za-z0-9._@-]{1,64}$"


@router.get("/audit", summary="The audit log: who read, exported or changed what (admins)")
def audit_log(
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many entries.")] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="Only entries older than this seq.")] = None,
    action: Annotated[
        str | None, Query(pattern=r"^[a-z0-9._]{1,64}$", description="Only actions starting with this.")
    ] = None,
    actor: Annotated[str | None, Query(pattern=r"^[A-Za-z0-9._@:-]{1,80}$", description="Only this actor.")] = None,
) -> list[dict[str, Any]]:
    """Newest first; page with ``before`` = the smallest ``seq`` of the previous page."""
    return [entry.as_json() for entry in runtime.audit.entries(limit, before, action, actor)]


@router.post("/access/users/{name}/revoke", summary="End every session of a user (admins)")
def revoke_sessions(request: Request, name: Annotated[str, Path(pattern=USER_NAME)]) -> dict[str, Any]:
    """The user must log in again everywhere; remembered HTTP Basic headers are forgotten too."""
    policy = policy_of(request)
    if not policy.known_user(name):
        raise HTTPException(status_code=404, detail=f"no user named {name!r}")
    ended = policy.revoke_user(name)
    audit(request, "user.sessions.revoke", name, {"sessions": ended})
    return {"user": name, "sessions_ended": ended}


@router.get("/feedback/texts", summary="Consented comment texts of a unit on a day (admins; audited)")
def feedback_texts(
    request: Request,
    runtime: Runtime,
    site: Annotated[str, Query(description="The unit.")],
    day: Annotated[date, Query(alias="date", description="Local day YYYY-MM-DD.")],
) -> list[dict[str, Any]]:
    """To find the comment a citizen asks about (to erase it); each read is written to the audit log."""
    unit = checked_site(site)
    chosen = bounded_day(day, "date")
    assert chosen is not None
    texts = comment_texts(runtime.record, unit, chosen.isoformat())
    audit(request, "feedback.text.read", f"{unit}/{chosen.isoformat()}", {"count": len(texts)})
    return texts


@router.delete(
    "/feedback/{site}/{desk}/{feedback_id}/text", summary="Erase one comment's text on request (admins; audited)"
)
def erase_feedback_text(
    request: Request,
    runtime: Runtime,
    site: SiteId,
    desk: Annotated[str, Path(pattern=IDENTIFIER_PATTERN)],
    feedback_id: Annotated[str, Path(pattern=MESSAGE_ID_PATTERN)],
) -> dict[str, Any]:
    """The comment keeps its sentiment; its text is removed from the record and from the stored message.
    Message ids are unique per device, so the comment is named by its unit, desk and id (as listed by
    ``GET /feedback/texts``)."""
    erased = erase_comment(runtime.record, site, desk, feedback_id, actor_of(request), runtime.audit)
    if not erased:
        raise HTTPException(status_code=404, detail=f"no comment text with id {feedback_id!r} at {site}/{desk}")
    return {"site": site, "desk": desk, "id": feedback_id, "erased": True}
