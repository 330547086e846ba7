"""Visits and transactions rebuilt from ticket events, whatever order the events arrived in.

A visit is one citizen's ticket at a unit on one local day. It has one transaction per desk that served
(or called) the citizen. A transaction's wait runs from ``issued`` (or from the ``transferred`` that sent
the citizen to this desk) to its first ``called``; a ``recalled`` does not restart it. Its service time
runs from that first ``called`` to ``finished`` (or to the ``transferred`` that ends it). A visit's wait is
the sum of its served transactions' waits. A visit that never got served because the citizen did not come
when called is a no-show: it has no wait and is counted apart.

Pure code: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from protocol.messages import TicketEvent

# Among events with the same timestamp: a transfer closes the old transaction before a call opens the next.
_ORDER_AT_SAME_TIME = {
    TicketEvent.ISSUED: 0,
    TicketEvent.TRANSFERRED: 1,
    TicketEvent.CALLED: 2,
    TicketEvent.RECALLED: 3,
    TicketEvent.STARTED: 4,
    TicketEvent.FINISHED: 5,
    TicketEvent.NO_SHOW: 5,
}
_OPENING_EVENTS = (TicketEvent.CALLED, TicketEvent.RECALLED, TicketEvent.STARTED)


@dataclass(frozen=True, slots=True)
class TicketEventRecord:
    """The facts of one ticket event that visits are built from."""

    id: str
    ts: datetime
    desk: str
    event: TicketEvent
    staff: str | None = None
    service: str | None = None
    priority: bool = False
    to_desk: str | None = None


class TransactionEnd(StrEnum):
    """How a transaction ended."""

    FINISHED = "finished"
    TRANSFERRED = "transferred"
    NO_SHOW = "no_show"


class VisitStatus(StrEnum):
    """Where a visit stands."""

    WAITING = "waiting"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"


@dataclass(frozen=True, slots=True)
class Transaction:
    """One desk's part of a visit."""

    seq: int
    desk: str
    staff: str | None
    service: str | None
    wait_started_at: datetime | None
    called_at: datetime
    ended_at: datetime | None = None
    end: TransactionEnd | None = None

    @property
    def served(self) -> bool:
        """Whether the citizen came when called (not a no-show)."""
        return self.end is not TransactionEnd.NO_SHOW

    @property
    def wait_s(self) -> float | None:
        """Seconds from the start of the wait to the first call; None when unknown or a no-show."""
        if not self.served or self.wait_started_at is None:
            return None
        return max(0.0, (self.called_at - self.wait_started_at).total_seconds())

    @property
    def service_s(self) -> float | None:
        """Seconds from the first call to the end of service; None while serving or for a no-show."""
        if self.ended_at is None or not self.served:
            return None
        return max(0.0, (self.ended_at - self.called_at).total_seconds())


@dataclass(frozen=True, slots=True)
class Visit:
    """One citizen's ticket at a unit on one local day."""

    ticket: str
    issued_at: datetime | None
    issued_desk: str | None
    service: str | None
    priority: bool
    status: VisitStatus
    transactions: tuple[Transaction, ...]
    waiting_since: datetime | None
    waiting_desk: str | None

    @property
    def served_transactions(self) -> tuple[Transaction, ...]:
        """Transactions in which the citizen was actually served."""
        return tuple(t for t in self.transactions if t.served)

    @property
    def wait_s(self) -> float | None:
        """Total wait of the visit; None while it still waits, for a no-show, or when a wait is unknown."""
        if self.status not in (VisitStatus.SERVING, VisitStatus.DONE):
            return None
        waits = [t.wait_s for t in self.served_transactions]
        if not waits or any(w is None for w in waits):
            return None
        return float(sum(w for w in waits if w is not None))


def build_visit(ticket: str, events: Iterable[TicketEventRecord]) -> Visit:
    """Rebuild a visit from all its ticket events (duplicates by id are ignored)."""
    unique = {e.id: e for e in events}.values()
    ordered = sorted(unique, key=lambda e: (e.ts, _ORDER_AT_SAME_TIME[e.event], e.id))
    issued = next((e for e in ordered if e.event is TicketEvent.ISSUED), None)
    service = issued.service if issued else next((e.service for e in ordered if e.service), None)
    priority = any(e.priority for e in ordered)

    transactions: list[Transaction] = []
    current: Transaction | None = None
    wait_started_at = issued.ts if issued else None
    waiting_desk = issued.desk if issued else None
    transferred_last = False

    def close(open_transaction: Transaction, at: datetime, end: TransactionEnd) -> None:
        transactions.append(
            Transaction(
                seq=open_transaction.seq,
                desk=open_transaction.desk,
                staff=open_transaction.staff,
                service=open_transaction.service,
                wait_started_at=open_transaction.wait_started_at,
                called_at=open_transaction.called_at,
                ended_at=at,
                end=end,
            )
        )

    for event in ordered:
        if event.event in _OPENING_EVENTS:
            if current is None:
                current = Transaction(
                    seq=len(transactions),
                    desk=event.desk,
                    staff=event.staff,
                    service=event.service or service,
                    wait_started_at=wait_started_at,
                    called_at=event.ts,
                )
                transferred_last = False
        elif event.event is TicketEvent.FINISHED:
            if current is not None:
                close(current, event.ts, TransactionEnd.FINISHED)
                current = None
        elif event.event is TicketEvent.TRANSFERRED:
            if current is not None:
                close(current, event.ts, TransactionEnd.TRANSFERRED)
                current = None
            wait_started_at = event.ts
            waiting_desk = event.to_desk
            transferred_last = True
        elif event.event is TicketEvent.NO_SHOW:
            if current is None:
                current = Transaction(len(transactions), event.desk, event.staff, service, wait_started_at, event.ts)
            close(current, event.ts, TransactionEnd.NO_SHOW)
            current = None
            transferred_last = False

    status = _status(current, transactions, transferred_last)
    if current is not None:
        transactions.append(current)
    waiting = status is VisitStatus.WAITING
    return Visit(
        ticket=ticket,
        issued_at=issued.ts if issued else None,
        issued_desk=issued.desk if issued else None,
        service=service,
        priority=priority,
        status=status,
        transactions=tuple(transactions),
        waiting_since=wait_started_at if waiting else None,
        waiting_desk=waiting_desk if waiting else None,
    )


def _status(current: Transaction | None, closed: list[Transaction], transferred_last: bool) -> VisitStatus:
    if current is not None:
        return VisitStatus.SERVING
    if transferred_last or not closed:
        return VisitStatus.WAITING
    if not any(t.served for t in closed):
        return VisitStatus.NO_SHOW
    return VisitStatus.DONE
