"""Live desk state and alerts, with the clock passed in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hub.config import load_settings
from hub.live import LiveBoard
from hub.visits import TicketEventRecord, build_visit
from protocol.messages import AlertState, AlertType, TicketEvent

NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # 09:00 in Hà Nội


def board() -> LiveBoard:
    live = LiveBoard(load_settings())
    live.start_day("2026-11-20")
    return live


def test_silent_node_is_shown_offline_and_raises_an_alert_once() -> None:
    live = board()
    live.apply_node("bn-hcc", "q03", NOW, None)  # a heartbeat
    assert live.evaluate(NOW + timedelta(seconds=30)) == []
    view = live.desk_view("bn-hcc", "q03", NOW + timedelta(seconds=120))
    assert view["node_online"] is False
    raised = live.evaluate(NOW + timedelta(seconds=120))
    assert [(a.alert, a.state) for a in raised] == [(AlertType.NODE_OFFLINE, AlertState.RAISED)]
    assert "mất kết nối" in raised[0].message
    assert live.evaluate(NOW + timedelta(seconds=150)) == []  # raised once, not every tick
    live.apply_node("bn-hcc", "q03", NOW + timedelta(seconds=160), None)
    cleared = live.evaluate(NOW + timedelta(seconds=161))
    assert [(a.alert, a.state) for a in cleared] == [(AlertType.NODE_OFFLINE, AlertState.CLEARED)]


def test_predicted_wait_raises_at_risk_before_the_target_breaks() -> None:
    live = board()
    for i in range(3):  # three people waiting at q01, the first for 4 minutes
        visit = build_visit(
            f"{i}", [TicketEventRecord(f"i{i}", NOW - timedelta(minutes=4 - i), "q01", TicketEvent.ISSUED)]
        )
        live.apply_visit("bn-hcc", "2026-11-20", visit)
    view = live.desk_view("bn-hcc", "q01", NOW)
    # No service measured yet: 10 minutes assumed each; the last waited 2 min, two people ahead of them.
    assert view["queue_length"] == 3 and view["head_wait_s"] == 240
    assert view["predicted_wait_s"] == 120 + 2 * 600 and view["state"] == "at_risk"
    changes = live.evaluate(NOW)
    assert [(a.alert, a.severity) for a in changes] == [(AlertType.WAIT_TARGET_AT_RISK, "warning")]
    later = live.evaluate(NOW + timedelta(minutes=12))  # the head has now waited 16 minutes
    assert (AlertType.WAIT_TARGET_BROKEN, AlertState.RAISED) in [(a.alert, a.state) for a in later]
