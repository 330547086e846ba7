"""The touchscreen page's API, with a stand-in sentiment model: what it sends, what it keeps, whom it answers."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from edge.kiosk.service import CommentClassifier, Kiosk
from edge.kiosk.settings import KioskSettings
from edge.kiosk.web import kiosk_router
from protocol.messages import Envelope, FeedbackMessage, RatingChannel, RatingMessage, TicketEvent, TicketMessage

COMMENT = "Cán bộ hướng dẫn rất tận tình, cảm ơn chị Lan"


@dataclass(frozen=True)
class Prediction:
    label: str
    confidence: float


class StandIn:
    """A sentiment model that calls everything positive and counts how often it is loaded."""

    loads = 0

    def __init__(self) -> None:
        StandIn.loads += 1

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return [Prediction("positive", 0.91) for _ in texts]


def broken_model() -> CommentClassifier:
    raise FileNotFoundError("models/sentiment/sentiment.onnx")


def client_for(kiosk: Kiosk, host: str = "127.0.0.1") -> TestClient:
    assert kiosk.settings.touch is not None
    app = FastAPI()
    app.include_router(kiosk_router(kiosk, kiosk.settings.touch))
    return TestClient(app, client=(host, 50000))


def make_kiosk(sent: list[Envelope], loader: object = StandIn, **touch: object) -> Kiosk:
    settings = KioskSettings.model_validate({"touch": touch})
    return Kiosk(settings, "bn-hcc", "q01", sent.append, classifier_loader=loader)  # type: ignore[arg-type]


def test_the_page_is_vietnamese_and_loads_nothing_from_elsewhere() -> None:
    with client_for(make_kiosk([])) as http:
        page = http.get("/kiosk")
        assert page.status_code == 200 and '<html lang="vi">' in page.text
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert "http://" not in page.text and "https://" not in page.text
        for name in ("kiosk.css", "kiosk.js", "keyboard.js"):
            asset = http.get(f"/kiosk/assets/{name}")
            assert asset.status_code == 200 and "https://" not in asset.text
        assert http.get("/kiosk/assets/..%2Fweb.py").status_code == 404
        assert http.get("/kiosk/assets/index.py").status_code == 404
        config = http.get("/kiosk/api/config").json()
    assert [(level["score"], level["vi"], level["satisfied"]) for level in config["levels"]] == [
        (4, "Rất hài lòng", True),
        (3, "Hài lòng", True),
        (2, "Bình thường", False),
        (1, "Không hài lòng", False),
    ]
    assert config["language"] == "vi"


def test_a_tapped_rating_and_a_consented_comment_go_out_tied_to_the_ticket(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sent: list[Envelope] = []
    kiosk = make_kiosk(sent)
    kiosk.observe_ticket(
        TicketMessage(site="bn-hcc", desk="q01", event=TicketEvent.CALLED, ticket="A012", staff="cb-017")
    )
    with client_for(kiosk) as http:
        answer = http.post("/kiosk/api/rating", json={"score": 4})
        assert answer.status_code == 202 and answer.json()["counted"] is True
        comment = http.post(
            "/kiosk/api/comment", json={"text": f"  {COMMENT}  ", "consent": True, "rating_id": answer.json()["id"]}
        )
        assert comment.status_code == 202 and comment.json()["text_sent"] is True
    rating, feedback = sent
    assert isinstance(rating, RatingMessage) and isinstance(feedback, FeedbackMessage)
    assert (rating.score, rating.channel, rating.ticket, rating.staff) == (4, RatingChannel.TOUCH, "A012", "cb-017")
    assert (feedback.sentiment.value, feedback.confidence, feedback.ticket, feedback.staff) == (
        "positive",
        0.91,
        "A012",
        "cb-017",
    )
    assert feedback.consent and feedback.text == COMMENT
    assert "Lan" not in caplog.text and "tận tình" not in caplog.text, "the comment must never be logged"


def test_without_consent_only_the_label_leaves_and_the_model_loads_once() -> None:
    sent: list[Envelope] = []
    StandIn.loads = 0
    kiosk = make_kiosk(sent)
    assert StandIn.loads == 0, "the model is loaded on the first comment, not before"
    with client_for(kiosk) as http:
        for _ in range(2):
            assert http.post("/kiosk/api/comment", json={"text": COMMENT}).status_code == 202
        assert http.post("/kiosk/api/comment", json={"text": "   "}).json() == {"sent": False}
    assert StandIn.loads == 1
    assert len(sent) == 2
    for message in sent:
        assert isinstance(message, FeedbackMessage)
        assert message.text is None and message.consent is False
        assert COMMENT not in message.to_payload().decode()


def test_a_comment_is_not_sent_when_the_model_is_missing() -> None:
    sent: list[Envelope] = []
    with client_for(make_kiosk(sent, loader=broken_model)) as http:
        assert http.post("/kiosk/api/rating", json={"score": 2}).status_code == 202
        assert http.post("/kiosk/api/comment", json={"text": COMMENT, "consent": True}).status_code == 503
    assert [type(m) for m in sent] == [RatingMessage]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"score": 5}, 422),  # off the 4-level scale
        ({"score": 0}, 422),
        ({"score": "4"}, 422),
        ({"score": 4, "ticket": "A001"}, 422),  # the page cannot choose the ticket
    ],
)
def test_bad_ratings_are_refused(body: dict[str, object], status: int) -> None:
    sent: list[Envelope] = []
    with client_for(make_kiosk(sent)) as http:
        assert http.post("/kiosk/api/rating", json=body).status_code == status
    assert sent == []


def test_nobody_on_the_network_can_post_ratings() -> None:
    sent: list[Envelope] = []
    with client_for(make_kiosk(sent), host="192.168.1.50") as http:
        assert http.get("/kiosk").status_code == 403
        assert http.post("/kiosk/api/rating", json={"score": 4}).status_code == 403
    assert sent == []


def test_comments_longer_than_the_protocol_allows_are_refused() -> None:
    sent: list[Envelope] = []
    with client_for(make_kiosk(sent)) as http:
        assert http.post("/kiosk/api/comment", json={"text": "á" * 2001, "consent": True}).status_code == 422
    assert sent == []
