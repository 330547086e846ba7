"""The live predicted wait where several open desks serve the same fields uses the Erlang C model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.config import load_settings
from hub.live import LiveBoard
from hub.visits import TicketEventRecord, Visit, build_visit
from protocol.messages import TicketEvent

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
DAY = "2026-11-20"


def waiting(ticket: str, desk: str) -> Visit:
    return build_visit(ticket, [TicketEventRecord(f"{ticket}-i", NOW, desk, TicketEvent.ISSUED)])


def serving(ticket: str, desk: str) -> Visit:
    start = NOW - timedelta(minutes=3)
    return build_visit(
        ticket,
        [
            TicketEventRecord(f"{ticket}-i", start - timedelta(minutes=5), desk, TicketEvent.ISSUED),
            TicketEventRecord(f"{ticket}-c", start, desk, TicketEvent.CALLED, staff=f"cb-{desk}"),
        ],
    )


def test_two_busy_land_desks_share_one_line() -> None:
    """Quầy 1 and Quầy 2 of the provincial centre both handle land; both serve, six people wait."""
    board = LiveBoard(load_settings())
    board.start_day(DAY)
    board.apply_visit("bn-hcc", DAY, serving("s1", "q01"))
    board.apply_visit("bn-hcc", DAY, serving("s2", "q02"))
    for n in range(4):
        board.apply_visit("bn-hcc", DAY, waiting(f"w{n}", "q01"))
    for n in range(2):
        board.apply_visit("bn-hcc", DAY, waiting(f"v{n}", "q02"))
    view = board.desk_view("bn-hcc", "q01", NOW)
    # Six departures to wait for, two desks each 10 minutes (no service measured yet): 30 minutes,
    # where one desk on its own would predict 7 + 3 × 10 = 37 minutes for the fourth in its line.
    assert view["queue_length"] == 4
    assert view["predicted_wait_s"] == 6 * 600 / 2
    assert view["state"] == "at_risk"


def test_a_desk_alone_in_its_field_keeps_the_single_desk_prediction() -> None:
    board = LiveBoard(load_settings())
    board.start_day(DAY)
    board.apply_visit("bn-hcc", DAY, serving("s1", "q05"))
    board.apply_visit("bn-hcc", DAY, waiting("w1", "q05"))
    view = board.desk_view("bn-hcc", "q05", NOW)
    assert view["predicted_wait_s"] == 7 * 60  # 10 minutes assumed, 3 already served
