"""Rating integrity: which ticket a press belongs to, and whether it counts.

Pure and synchronous: the caller passes the time of every event (seconds on a monotonic clock, so that
the Pi setting its clock from the network does not open or close a window), and this module never reads a
clock, logs or sends anything. Every press gives a :class:`RatingVerdict`; every press is sent to the hub
with its flags, and the hub leaves the ones that are not counted out of its satisfaction figures.

The rules (thresholds from the ``kiosk.integrity`` section of the node's YAML; defaults in brackets):

1. **Which ticket.** The desk knows the ticket in service (called, recalled or started and not yet
   finished) and the ticket finished last. A press belongs to the ticket finished last when it finished
   at most ``ticket_window_s`` (300 s) ago and either no other ticket is in service or it finished at
   most ``handover_s`` (60 s) ago: the citizen who just left the counter rates while the officer already
   calls the next number. Otherwise it belongs to the ticket in service (a citizen may rate while the
   officer stamps the papers). A ticket called while another is still in service ends that one, for
   queue-number systems that never say ``finished``. A ``no_show`` ends a service without a rating.
2. **At most one rating per ticket.** The first counted press of a service rates it; any later press
   for the same service is flagged ``repeat`` and not counted, whatever the channel (button or touch).
3. **Bursts.** A press less than ``burst_gap_s`` (2 s) after the previous press, counted or not, is
   flagged ``burst`` and not counted: a child pressing ten times, a double press, a change of mind. The
   first press of a burst counts as rule 2 allows.
4. **The officer's own hand.** A press less than ``too_soon_s`` (1.5 s) after its ticket was finished is
   faster than a citizen turns to the buttons; it is flagged ``too_soon``, not counted, and does not use
   up the ticket's rating.
5. **No ticket.** A press with no ticket in service and none finished in the last ``ticket_window_s``
   is flagged ``no_ticket`` and still counted (a desk whose tickets the agent does not see rates this
   way); but a second one less than ``no_ticket_gap_s`` (30 s) after a counted rating is a ``repeat``.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.kiosk.settings import IntegritySettings
from protocol.messages import NOT_COUNTED_FLAGS, RatingFlag, TicketEvent

_SERVICE_STARTS = frozenset({TicketEvent.CALLED, TicketEvent.RECALLED, TicketEvent.STARTED})
_SERVICE_ENDS = frozenset({TicketEvent.FINISHED, TicketEvent.TRANSFERRED})


@dataclass(frozen=True, slots=True)
class RatingVerdict:
    """What the rules make of one press.

    Attributes:
        ticket: The ticket the press belongs to, None when there is none.
        staff: The officer who served that ticket, when known.
        flags: The rules the press fell foul of, in a fixed order (burst, repeat, too_soon, no_ticket).
    """

    ticket: str | None
    staff: str | None
    flags: tuple[RatingFlag, ...] = ()

    @property
    def counted(self) -> bool:
        """Whether the rating counts in the satisfaction figures."""
        return not NOT_COUNTED_FLAGS.intersection(self.flags)


@dataclass(slots=True)
class _Service:
    ticket: str
    staff: str | None
    finished_at: float | None = None
    rated: bool = False


class RatingIntegrity:
    """Applies the rules above to the ticket events and presses of one desk, in the order they happen.

    Args:
        settings: The thresholds.
    """

    def __init__(self, settings: IntegritySettings) -> None:
        self._settings = settings
        self._serving: _Service | None = None
        self._finished: _Service | None = None
        self._last_press: float | None = None
        self._last_counted: float | None = None

    @property
    def serving(self) -> str | None:
        """The ticket in service, if any."""
        return self._serving.ticket if self._serving else None

    def ticket_event(self, event: TicketEvent, ticket: str, staff: str | None, at: float) -> None:
        """Take in a ticket event of this desk that happened at ``at`` (seconds, monotonic)."""
        serving = self._serving
        if event in _SERVICE_STARTS:
            if serving is not None and serving.ticket == ticket:
                serving.staff = staff or serving.staff
                return
            if serving is not None:  # called on without a finish: the previous citizen is leaving now
                serving.finished_at = at
                self._finished = serving
            self._serving = _Service(ticket, staff)
        elif event in _SERVICE_ENDS:
            if serving is not None and serving.ticket == ticket:
                serving.finished_at = at
                serving.staff = staff or serving.staff
                self._finished, self._serving = serving, None
            elif self._finished is None or self._finished.ticket != ticket:  # a repeated finish changes nothing
                self._finished = _Service(ticket, staff, finished_at=at)
        elif event is TicketEvent.NO_SHOW and serving is not None and serving.ticket == ticket:
            self._serving = None

    def judge(self, at: float) -> RatingVerdict:
        """Judge a press at ``at`` (seconds, monotonic) and remember it for the presses that follow."""
        rules = self._settings
        flags: set[RatingFlag] = set()
        if self._last_press is not None and at - self._last_press < rules.burst_gap_s:
            flags.add(RatingFlag.BURST)
        self._last_press = at
        service = self._service_at(at)
        if service is None:
            flags.add(RatingFlag.NO_TICKET)
            if self._last_counted is not None and at - self._last_counted < rules.no_ticket_gap_s:
                flags.add(RatingFlag.REPEAT)
        else:
            if service.rated:
                flags.add(RatingFlag.REPEAT)
            if service.finished_at is not None and at - service.finished_at < rules.too_soon_s:
                flags.add(RatingFlag.TOO_SOON)
        verdict = RatingVerdict(
            service.ticket if service else None,
            service.staff if service else None,
            tuple(flag for flag in RatingFlag if flag in flags),
        )
        if verdict.counted:
            self._last_counted = at
            if service is not None:
                service.rated = True
        return verdict

    def _service_at(self, at: float) -> _Service | None:
        finished = self._finished
        if finished is not None and finished.finished_at is not None:
            since = at - finished.finished_at
            if since <= self._settings.ticket_window_s and (
                self._serving is None or since <= self._settings.handover_s
            ):
                return finished
        return self._serving
