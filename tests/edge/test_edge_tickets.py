"""Staff buttons through MockFactory and the outbox's spool policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from gpiozero.pins.mock import MockFactory

from edge.config import TicketButtonSettings
from edge.outbox import Spool
from edge.tickets import DeskButtons, TicketNumbers
from protocol.messages import TicketEvent, TicketMessage


def press(factory: MockFactory, pin: str) -> None:
    factory.pin(pin).drive_low()
    factory.pin(pin).drive_high()


def test_call_next_and_finish_buttons_make_ticket_events(mock_factory: MockFactory) -> None:
    sent: list[TicketMessage] = []
    buttons = DeskButtons(
        TicketButtonSettings(call_next_pin="GPIO17", finish_pin="GPIO27", bounce_s=0, prefix="A"),
        "bn-kinh-bac",
        "q01",
        "cb-017",
        "dat-dai",
        sent.append,
        mock_factory,
    )
    press(mock_factory, "GPIO17")  # call A001
    press(mock_factory, "GPIO17")  # finish A001, call A002
    press(mock_factory, "GPIO27")  # finish A002
    press(mock_factory, "GPIO27")  # nothing in service: nothing happens
    assert [(m.event, m.ticket) for m in sent] == [
        (TicketEvent.CALLED, "A001"),
        (TicketEvent.FINISHED, "A001"),
        (TicketEvent.CALLED, "A002"),
        (TicketEvent.FINISHED, "A002"),
    ]
    assert all(m.staff == "cb-017" and m.service == "dat-dai" and m.topic.endswith("/q01/ticket") for m in sent)
    buttons.close()


def test_ticket_numbers_start_again_each_local_day() -> None:
    numbers = TicketNumbers()
    evening = datetime(2026, 11, 20, 16, 50, tzinfo=UTC)  # 23:50 in Hà Nội
    assert [numbers.next(evening), numbers.next(evening)] == ["001", "002"]
    assert numbers.next(evening + timedelta(minutes=20)) == "001"  # 00:10 the next local day


def test_spool_drops_old_samples_but_never_tickets_or_ratings(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox.db", max_messages=100)
    for i in range(80):
        spool.put("heartbeat", "t/h", f"h{i}".encode())
    for i in range(60):
        spool.put("ticket", "t/t", f"t{i}".encode())
    for i in range(30):
        spool.put("rating", "t/r", f"r{i}".encode())
    kept = [m.payload.decode() for m in spool.after(0, 1000)]
    assert len(kept) == 100 and spool.dropped == 70
    assert [k for k in kept if k[0] == "t"] == [f"t{i}" for i in range(60)]
    assert [k for k in kept if k[0] == "r"] == [f"r{i}" for i in range(30)]
    assert [k for k in kept if k[0] == "h"] == [f"h{i}" for i in range(70, 80)]  # the newest samples stay
    for i in range(20):  # nothing droppable left: precious messages are still accepted
        spool.put("rating", "t/r", f"x{i}".encode())
    assert spool.depth == 110 and len(spool.after(0, 1000)) == 110
    spool.close()


def test_spool_survives_a_restart_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox.db", max_messages=1000)
    for i in range(10):
        spool.put("ticket", "t", str(i).encode())
    spool.remove([m.seq for m in spool.after(0, 3)])
    spool.close()
    again = Spool(tmp_path / "outbox.db", max_messages=1000)
    assert again.depth == 7
    assert [m.payload for m in again.after(0, 100)] == [str(i).encode() for i in range(3, 10)]
    again.close()
