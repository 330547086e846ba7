"""Ticket sources of a desk: the staff's GPIO buttons (the agent numbers tickets) and an HTTP endpoint that
an existing queue-number system calls. Both produce protocol ``ticket`` messages into the outbox."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import date, datetime
from zoneinfo import ZoneInfo

from gpiozero import Button
from gpiozero.pins import Factory

from edge.config import TicketButtonSettings
from protocol.messages import TicketEvent, TicketMessage, utc_now

logger = logging.getLogger(__name__)

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

Emit = Callable[[TicketMessage], None]


class TicketNumbers:
    """Numbers tickets 1, 2, 3… afresh each local day (tickets are unique per unit and day)."""

    def __init__(self, prefix: str = "", start_after: int = 0, day: date | None = None) -> None:
        self._prefix = prefix
        self._last = start_after
        self._day = day

    def next(self, now: datetime) -> str:
        """The next ticket number for ``now``'s local day."""
        today = now.astimezone(LOCAL_ZONE).date()
        if today != self._day:
            self._day = today
            self._last = 0
        self._last += 1
        return f"{self._prefix}{self._last:03d}"


class DeskButtons:
    """ "Call next" and "finish" buttons for the officer at a desk without a queue-number system.

    "Call next" finishes the ticket in service (if any) and calls the next number; "finish" ends the
    service. Waits of such desks come from the camera; these events give service times and volumes.
    """

    def __init__(
        self,
        settings: TicketButtonSettings,
        site: str,
        desk: str,
        staff: str,
        service: str | None,
        emit: Emit,
        pin_factory: Factory | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._site, self._desk, self._staff, self._service = site, desk, staff, service
        self._emit = emit
        self._clock = clock
        self._numbers = TicketNumbers(settings.prefix)
        self._serving: str | None = None
        self._lock = threading.Lock()
        self.call_next = Button(settings.call_next_pin, bounce_time=settings.bounce_s or None, pin_factory=pin_factory)
        self.finish = Button(settings.finish_pin, bounce_time=settings.bounce_s or None, pin_factory=pin_factory)
        self.call_next.when_pressed = self._call_next
        self.finish.when_pressed = self._finish

    @property
    def serving(self) -> str | None:
        """The ticket in service, if any."""
        return self._serving

    def _message(self, event: TicketEvent, ticket: str, now: datetime) -> TicketMessage:
        return TicketMessage(
            ts=now,
            site=self._site,
            desk=self._desk,
            event=event,
            ticket=ticket,
            staff=self._staff,
            service=self._service,
        )

    def _call_next(self) -> None:
        with self._lock:
            now = self._clock()
            if self._serving is not None:
                self._emit(self._message(TicketEvent.FINISHED, self._serving, now))
            self._serving = self._numbers.next(now)
            self._emit(self._message(TicketEvent.CALLED, self._serving, now))

    def _finish(self) -> None:
        with self._lock:
            if self._serving is None:
                return
            self._emit(self._message(TicketEvent.FINISHED, self._serving, self._clock()))
            self._serving = None

    def close(self) -> None:
        """Release the pins (idempotent)."""
        self.call_next.close()
        self.finish.close()
