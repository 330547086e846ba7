"""The camera's line on the hub: walk-outs and pre-ticket waits counted per desk and day, and the alert when
the line the camera sees and the tickets waiting disagree for longer than configured (clock passed in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.config import load_settings
from hub.line import line_figures
from hub.live import LiveBoard
from hub.store import LineFact, QueueSample
from hub.visits import TicketEventRecord, build_visit
from protocol.messages import AlertMessage, AlertState, AlertType, TicketEvent

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội
DAY = "2026-11-20"


def board() -> LiveBoard:
    live = LiveBoard(load_settings())
    live.start_day(DAY)
    return live


def issue(live: LiveBoard, desk: str, *tickets: str) -> None:
    for ticket in tickets:
        events = [TicketEventRecord(f"i-{ticket}", NOW - timedelta(minutes=1), desk, TicketEvent.ISSUED)]
        live.apply_visit("bn-hcc", DAY, build_visit(ticket, events))


def camera(live: LiveBoard, desk: str, length: int, at: datetime, site: str = "bn-hcc") -> None:
    live.apply_queue(QueueSample(site, desk, at, length, None, None, "camera", True))


def mismatches(alerts: list[AlertMessage]) -> list[AlertMessage]:
    return [a for a in alerts if a.alert is AlertType.LINE_TICKET_MISMATCH]


def test_a_camera_line_longer_than_the_tickets_for_five_minutes_raises_a_mismatch_once() -> None:
    live = board()
    issue(live, "q01", "A001")  # the unit issues tickets today; one is waiting at q01
    camera(live, "q01", 5, NOW)  # but the camera sees five people in line
    assert mismatches(live.evaluate(NOW)) == []
    camera(live, "q01", 5, NOW + timedelta(seconds=290))
    assert mismatches(live.evaluate(NOW + timedelta(seconds=290))) == []
    camera(live, "q01", 5, NOW + timedelta(seconds=301))
    raised = mismatches(live.evaluate(NOW + timedelta(seconds=301)))
    assert [(a.desk, a.state) for a in raised] == [("q01", AlertState.RAISED)]
    assert "camera thấy 5 người xếp hàng nhưng chỉ có 1 số đang chờ" in raised[0].message
    assert "máy in số có thể hỏng hoặc người xếp hàng không lấy số" in raised[0].message
    card = live.desk_view("bn-hcc", "q01", NOW + timedelta(seconds=302))
    assert card["line_mismatch"] == {"camera_length": 5, "tickets_waiting": 1, "since": NOW.isoformat()}
    assert mismatches(live.evaluate(NOW + timedelta(seconds=310))) == []  # raised once, not every tick

    issue(live, "q01", "A002", "A003", "A004")  # the printer works again: four tickets for five people
    camera(live, "q01", 5, NOW + timedelta(seconds=320))
    cleared = mismatches(live.evaluate(NOW + timedelta(seconds=320)))
    assert [(a.alert, a.state) for a in cleared] == [(AlertType.LINE_TICKET_MISMATCH, AlertState.CLEARED)]
    assert live.desk_view("bn-hcc", "q01", NOW + timedelta(seconds=321))["line_mismatch"] is None


def test_a_short_disagreement_or_a_unit_without_tickets_raises_nothing() -> None:
    live = board()
    camera(live, "q02", 6, NOW, site="bn-kinh-bac")  # a unit that issued no ticket today: no number system
    issue(live, "q01", "A001")
    camera(live, "q01", 4, NOW)  # three more people than tickets at q01 ...
    live.evaluate(NOW)
    camera(live, "q01", 2, NOW + timedelta(seconds=200))  # ... but only for 200 s
    live.evaluate(NOW + timedelta(seconds=200))
    camera(live, "q01", 4, NOW + timedelta(seconds=400))
    camera(live, "q02", 6, NOW + timedelta(seconds=400), site="bn-kinh-bac")
    changes = live.evaluate(NOW + timedelta(seconds=400))
    assert mismatches(changes) == []


def test_walk_outs_and_pre_ticket_waits_are_counted_on_the_desk_card_today() -> None:
    live = board()
    live.apply_line("bn-hcc", "q01", DAY, "walkout", 412.0)
    live.apply_line("bn-hcc", "q01", DAY, "pre_ticket_wait", 60.0)
    live.apply_line("bn-hcc", "q01", DAY, "pre_ticket_wait", 90.0)
    live.apply_line("bn-hcc", "q01", "2026-11-19", "walkout", 100.0)  # yesterday: not today's card
    card = live.desk_view("bn-hcc", "q01", NOW)
    assert (card["walkouts_today"], card["pre_ticket_waits_today"], card["pre_ticket_wait_mean_s"]) == (1, 2, 75.0)


def test_line_figures_give_counts_beside_the_means() -> None:
    facts = [
        LineFact("q01", DAY, NOW, "walkout", 300.0),
        LineFact("q02", DAY, NOW, "walkout", 100.0),
        LineFact("q01", DAY, NOW, "pre_ticket_wait", 30.0),
        LineFact("q01", DAY, NOW, "pre_ticket_wait", 50.0),
        LineFact("q01", DAY, NOW, "pre_ticket_wait", 100.0),
    ]
    unit = line_figures(facts)
    assert (unit["walkouts"], unit["walkout_mean_in_line_s"]) == (2, 200.0)
    assert (unit["pre_ticket_waits"], unit["pre_ticket_wait_mean_s"], unit["pre_ticket_wait_median_s"]) == (
        3,
        60.0,
        50.0,
    )
    assert line_figures(facts, "q02")["pre_ticket_waits"] == 0
    assert line_figures(facts, "q02")["pre_ticket_wait_mean_s"] is None
