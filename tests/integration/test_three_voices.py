"""Three voices of the citizen through the real ingest path (Mosquitto → hub → API): the disagreement warning
fires on a day where the buttons and the comments diverge, and not on one where they agree; a viewer may not
see it, a supervisor may acknowledge alerts and read it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from devtools.mosquitto import MosquittoBroker
from hub.auth import hash_password
from hub.config import load_settings
from protocol.messages import EmotionMessage, Envelope, FeedbackMessage, RatingMessage
from tests.support.hub_server import HubServer, Publisher

HAPPY = {"happy": 0.7, "neutral": 0.3}
ANGRY = {"angry": 0.8, "neutral": 0.2}


def an_hour_ago() -> datetime:
    """The start of the previous local hour (all of a scripted day's messages fall in that one hour)."""
    local = datetime.now(UTC).astimezone(load_settings().zone) - timedelta(hours=1)
    return local.replace(minute=0, second=0, microsecond=0)


def scripted_hour(
    site: str,
    start: datetime,
    satisfied: int,
    unsatisfied: int,
    comments_negative: int,
    comments_positive: int,
    faces_angry: int,
    faces_happy: int,
    not_counted: int = 0,
) -> list[Envelope]:
    """Ratings, comments and faces at a unit within one hour, 20 s apart."""
    messages: list[Envelope] = []

    def at() -> datetime:
        return start + timedelta(seconds=20 * len(messages))

    for n, score in enumerate([4] * satisfied + [1] * unsatisfied):
        # Each rating names its own ticket: ratings without one closer than the hub's
        # `ingest.rating_no_ticket_gap_s` (30 s) would count once.
        ticket = f"R{n:03d}"
        messages.append(RatingMessage(ts=at(), site=site, desk="q01", score=score, channel="button", ticket=ticket))
    for _ in range(not_counted):  # a burst of presses on the low button: kept, not counted
        messages.append(RatingMessage(ts=at(), site=site, desk="q01", score=1, channel="button", flags=["burst"]))
    for sentiment in ["negative"] * comments_negative + ["positive"] * comments_positive:
        messages.append(FeedbackMessage(ts=at(), site=site, desk="q01", sentiment=sentiment, confidence=0.9))
    for probabilities in [ANGRY] * faces_angry + [HAPPY] * faces_happy:
        valence = sum(p * {"happy": 1.0, "neutral": 0.0, "angry": -1.0}[k] for k, p in probabilities.items())
        messages.append(
            EmotionMessage(ts=at(), site=site, desk="q01", frames=40, probabilities=probabilities, valence=valence)
        )
    return messages


def voices(hub: HubServer, site: str, day: date) -> dict[str, Any]:
    return hub.get(f"/api/v1/sites/{site}/voices", date=day.isoformat())


def test_warning_fires_when_buttons_and_comments_diverge_and_not_when_they_agree(
    hub: HubServer, broker: MosquittoBroker
) -> None:
    start = an_hour_ago()
    diverge, agree = "bn-yen-phong", "bn-bac-giang"
    day_diverging = scripted_hour(diverge, start, 29, 1, 10, 2, faces_angry=0, faces_happy=12)
    day_agreeing = scripted_hour(agree, start, 27, 3, 2, 10, faces_angry=1, faces_happy=11, not_counted=3)
    with Publisher(broker) as publisher:
        sent = publisher.send(day_diverging + day_agreeing)
    hub.wait_until(lambda c: c["accepted"] >= sent)

    pressed = voices(hub, diverge, start.date())
    assert pressed["day"]["ratings"] == 30 and pressed["day"]["satisfied"] == 29
    assert pressed["day"]["comments"] == 12 and pressed["day"]["comments_negative"] == 10
    assert pressed["hours"] == [{"hour": start.hour, **pressed["day"]}]
    warned = [(w["scope"], w["other"]) for w in pressed["warnings"]]
    assert warned == [("day", "comments"), (f"{start.hour:02d}:00", "comments")]
    warning = pressed["warnings"][0]
    assert warning["buttons"] == {"yes": 29, "n": 30} and warning["other_counts"] == {"yes": 2, "n": 12}
    assert "97 % hài lòng trên 30 lượt bấm nút" in warning["message"]
    assert "10/12 tiêu cực" in warning["message"] and "ép bấm đánh giá" in warning["message"]
    # The faces agree with the buttons that day: tested, and no warning from them.
    faces = [c for c in pressed["comparisons"] if c["other"] == "faces"]
    assert faces and not any(c["warning"] for c in faces)

    agreeing = voices(hub, agree, start.date())
    assert agreeing["day"]["ratings"] == 30 and agreeing["day"]["satisfied"] == 27  # the burst is not counted
    assert agreeing["faces_measured"] is True and agreeing["day"]["faces"] == 12
    assert agreeing["warnings"] == []
    tested = [(c["scope"], c["other"]) for c in agreeing["comparisons"]]
    assert ("day", "comments") in tested and ("day", "faces") in tested  # the check was made, and found nothing


def test_only_supervisors_read_the_voices_and_acknowledge(broker: MosquittoBroker, tmp_path: Path) -> None:
    users = [
        {"name": "xem", "role": "viewer", "password_hash": hash_password("mat-khau-xem")},
        {"name": "giam-sat", "role": "supervisor", "password_hash": hash_password("mat-khau-gs")},
    ]
    settings = load_settings().with_overrides(access={"users": users})
    server = HubServer(broker, tmp_path / "hub.db", client_id="hub-voices-roles", settings=settings)
    server.http.auth = httpx.BasicAuth("giam-sat", "mat-khau-gs")
    with server as hub:
        path = "/api/v1/sites/bn-hcc/voices"
        viewer = httpx.BasicAuth("xem", "mat-khau-xem")
        assert hub.http.get(path, auth=viewer).status_code == 403
        assert hub.http.post("/api/v1/alerts/khong-co/ack", auth=viewer).status_code == 403
        assert hub.http.get("/api/v1/notify/deliveries", auth=viewer).status_code == 403
        answer = hub.get(path)
        assert answer["day"]["ratings"] == 0 and answer["warnings"] == [] and answer["comparisons"] == []
        assert hub.http.post("/api/v1/alerts/khong-co/ack").status_code == 404
