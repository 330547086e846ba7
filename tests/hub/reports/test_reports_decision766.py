"""Decision 766 points, the warning for units without ratings, and the live no_ratings alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hub.config import load_settings
from hub.live import LiveBoard
from hub.reports.decision766 import points_766
from hub.reports.periods import parse_period
from hub.reports.service import decision766_points
from hub.visits import TicketEventRecord, build_visit
from protocol.messages import AlertState, AlertType, TicketEvent
from protocol.topics import UNIT_WIDE_DESK
from tests.hub.reports.conftest import RecordBuilder


@pytest.mark.parametrize(
    ("satisfied", "ratings", "points"),
    [(0, 0, 0.0), (9, 10, 6.0), (10, 10, 6.0), (8, 10, 6 * 0.8 / 0.9), (0, 5, 0.0), (45, 100, 3.0)],
)
def test_points_are_six_times_the_share_of_ninety_percent(satisfied: int, ratings: int, points: float) -> None:
    assert points_766(satisfied, ratings) == pytest.approx(points)


def test_every_unit_gets_its_points_and_units_without_ratings_are_warned(engine_builder: RecordBuilder) -> None:
    day = "2025-05-06"
    for k in range(3):
        engine_builder.minutes("bn-hcc", day, f"{k}", 5, 5, "cb-1")
        engine_builder.rating("bn-hcc", day, f"09:0{k}", 4 if k else 1, ticket=f"{k}", staff="cb-1")
    engine_builder.minutes("bn-kinh-bac", day, "1", 5, 5, "cb-2")
    engine_builder.minutes("xa-moi", day, "1", 5, 5, "cb-3")  # a unit not in the configuration
    with engine_builder.open() as record:
        points = {p.site: p for p in decision766_points(record, engine_builder.settings, parse_period("2025-05"))}
    assert len(points) == len(engine_builder.settings.sites) + 1
    hcc = points["bn-hcc"]
    assert (hcc.ratings, hcc.satisfied, hcc.points, hcc.warning) == (3, 2, pytest.approx(6 * (2 / 3) / 0.9), None)
    kinh_bac = points["bn-kinh-bac"]
    assert kinh_bac.points == 0
    assert (
        kinh_bac.warning
        == "Không có đánh giá nào: đã phục vụ 1 lượt nhưng chưa thu được đánh giá; điểm hài lòng bằng 0."
    )
    assert points["bn-gia-binh"].warning is not None and points["bn-gia-binh"].transactions == 0
    assert points["xa-moi"].name == "xa-moi" and points["xa-moi"].points == 0


NOW = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)  # 10:00 in Hà Nội


def served(ticket: str, desk: str = "q01") -> object:
    start = NOW - timedelta(minutes=30)
    return build_visit(
        ticket,
        [
            TicketEventRecord(f"{ticket}-i", start, desk, TicketEvent.ISSUED),
            TicketEventRecord(f"{ticket}-c", start + timedelta(minutes=5), desk, TicketEvent.CALLED, staff="cb-1"),
            TicketEventRecord(f"{ticket}-f", start + timedelta(minutes=9), desk, TicketEvent.FINISHED, staff="cb-1"),
        ],
    )


def test_a_unit_serving_without_ratings_raises_no_ratings_until_one_arrives() -> None:
    settings = load_settings().with_overrides(live={"no_ratings_after_services": 3})
    board = LiveBoard(settings)
    board.start_day("2026-11-20")
    for n in range(2):
        board.apply_visit("bn-kinh-bac", "2026-11-20", served(f"{n}"))  # type: ignore[arg-type]
    assert [a for a in board.evaluate(NOW) if a.alert is AlertType.NO_RATINGS] == []
    board.apply_visit("bn-kinh-bac", "2026-11-20", served("2", "q02"))  # type: ignore[arg-type]
    (raised,) = [a for a in board.evaluate(NOW) if a.alert is AlertType.NO_RATINGS]
    assert (raised.site, raised.desk, raised.state, raised.severity) == (
        "bn-kinh-bac",
        UNIT_WIDE_DESK,
        AlertState.RAISED,
        "warning",
    )
    assert raised.message.startswith("Trung tâm Phục vụ hành chính công phường Kinh Bắc: đã phục vụ 3 lượt")
    assert "Quyết định 766" in raised.message
    assert [a for a in board.evaluate(NOW) if a.alert is AlertType.NO_RATINGS] == []  # raised once
    board.apply_rating("bn-kinh-bac", "q01", "2026-11-20", 4, None)
    (cleared,) = [a for a in board.evaluate(NOW) if a.alert is AlertType.NO_RATINGS]
    assert cleared.state is AlertState.CLEARED
