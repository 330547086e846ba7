"""The touchscreen page and its small API, served by the desk agent to the kiosk-mode browser on the Pi.

``GET /kiosk`` is the page (Vietnamese by default, English on a tap; no keyboard needed: an on-screen
keyboard with Vietnamese letters and tone marks, and phrases to add with a tap). The page posts a rating
as soon as the citizen taps it (``POST /kiosk/api/rating``), then the optional comment
(``POST /kiosk/api/comment``). Everything here answers only to the Pi itself (loopback): the page takes
ratings without a password, so nothing on the network may post them.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from edge.kiosk.service import MAX_COMMENT_CHARS, Kiosk, KioskInputError, SentimentUnavailableError
from edge.kiosk.settings import LOOPBACK_HOSTS, TouchSettings
from protocol.messages import MESSAGE_ID_PATTERN, RatingChannel

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
_ASSETS = {"kiosk.css": "text/css", "kiosk.js": "text/javascript", "keyboard.js": "text/javascript"}
# The page loads nothing from elsewhere: no font, script or image from a CDN.
_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'",
    "Cache-Control": "no-cache",
}


class RatingRequest(BaseModel):
    """A rating tapped on the touchscreen."""

    model_config = ConfigDict(extra="forbid", strict=True)

    score: int = Field(ge=1, le=5, description="The score tapped.")


class CommentRequest(BaseModel):
    """The optional comment typed after a rating."""

    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(max_length=MAX_COMMENT_CHARS, description="The comment; sent on only with consent.")
    consent: bool = Field(False, description="The citizen ticked that the text may be sent.")
    rating_id: str | None = Field(
        None, pattern=MESSAGE_ID_PATTERN, description="Id of the rating just given, to tie the comment to its ticket."
    )


def _from_this_pi(request: Request) -> None:
    host = request.client.host if request.client else ""
    if host not in LOOPBACK_HOSTS:
        raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail="the kiosk page answers only to this Pi")


def kiosk_router(kiosk: Kiosk, touch: TouchSettings) -> APIRouter:
    """The page, its files and its API for ``kiosk``."""
    router = APIRouter(prefix="/kiosk", tags=["kiosk"], dependencies=[Depends(_from_this_pi)])
    settings = kiosk.settings

    @router.get("", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=_PAGE_HEADERS)

    @router.get("/assets/{name}", include_in_schema=False)
    def asset(name: str) -> Response:
        media_type = _ASSETS.get(name)
        if media_type is None:  # only the files listed: no path from the URL reaches the file system
            raise HTTPException(status_code=404, detail="no such file")
        return FileResponse(STATIC_DIR / name, media_type=media_type, headers=_PAGE_HEADERS)

    @router.get("/api/config", summary="The scale and timings the page shows")
    def config() -> dict[str, Any]:
        return {
            "language": touch.language,
            "thanks_s": touch.thanks_s,
            "idle_s": touch.idle_s,
            "max_comment_chars": MAX_COMMENT_CHARS,
            "levels": [
                {
                    "score": score,
                    "vi": settings.label(score, "vi"),
                    "en": settings.label(score, "en"),
                    "satisfied": score >= settings.satisfied_from,
                }
                for score in range(settings.levels, 0, -1)
            ],
        }

    @router.post("/api/rating", status_code=status.HTTP_202_ACCEPTED, summary="Record a rating tapped")
    def rating(request: RatingRequest) -> dict[str, Any]:
        try:
            outcome = kiosk.rate(request.score, RatingChannel.TOUCH)
        except KioskInputError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        return {
            "id": outcome.message.id,
            "counted": outcome.counted,
            "flags": [flag.value for flag in outcome.verdict.flags],
        }

    @router.post("/api/comment", status_code=status.HTTP_202_ACCEPTED, summary="Judge and send a comment")
    def comment(request: CommentRequest) -> dict[str, Any]:
        try:
            message = kiosk.comment(request.text, request.consent, request.rating_id)
        except KioskInputError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        except SentimentUnavailableError:
            raise HTTPException(status_code=503, detail="comments cannot be judged on this desk now") from None
        if message is None:
            return {"sent": False}
        return {"sent": True, "id": message.id, "text_sent": message.text is not None}

    return router
