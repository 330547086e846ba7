"""Visits rebuilt from ticket events: waits, service times, transfers, recalls, no-shows, any order."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest

from hub.visits import TicketEventRecord, VisitStatus, build_visit
from protocol.messages import TicketEvent as E

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def ev(event: E, minute: float, desk: str = "q01", staff: str | None = "cb-1", **extra: object) -> TicketEventRecord:
    return TicketEventRecord(
        id=f"{event.value}-{minute}-{desk}",
        ts=T0 + timedelta(minutes=minute),
        desk=desk,
        event=event,
        staff=None if event is E.ISSUED else staff,
        **extra,  # type: ignore[arg-type]
    )


SIMPLE = [ev(E.ISSUED, 0, service="dat-dai"), ev(E.CALLED, 12), ev(E.STARTED, 13), ev(E.FINISHED, 20)]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_wait_and_service_time_do_not_depend_on_arrival_order(order: tuple[int, ...]) -> None:
    visit = build_visit("A1", [SIMPLE[i] for i in order])
    assert visit.status is VisitStatus.DONE
    assert visit.wait_s == 12 * 60
    assert visit.transactions[0].service_s == 8 * 60
    assert visit.service == "dat-dai"


def test_duplicated_events_count_once() -> None:
    visit = build_visit("A1", SIMPLE + SIMPLE[1:3])
    assert len(visit.transactions) == 1 and visit.wait_s == 720


def test_recall_does_not_restart_the_wait() -> None:
    visit = build_visit("A1", [ev(E.ISSUED, 0), ev(E.CALLED, 10), ev(E.RECALLED, 12), ev(E.FINISHED, 18)])
    assert visit.wait_s == 600 and visit.transactions[0].service_s == 480


def test_transfer_starts_a_new_wait_at_the_next_desk() -> None:
    events = [
        ev(E.ISSUED, 0),
        ev(E.CALLED, 5),
        ev(E.TRANSFERRED, 9, to_desk="q02"),
        ev(E.CALLED, 16, desk="q02", staff="cb-2"),
        ev(E.FINISHED, 30, desk="q02", staff="cb-2"),
    ]
    visit = build_visit("A1", events)
    first, second = visit.transactions
    assert (first.wait_s, first.service_s, first.desk) == (300, 240, "q01")
    assert (second.wait_s, second.service_s, second.desk) == (420, 840, "q02")
    assert visit.wait_s == 300 + 420


def test_transferred_visit_waits_at_the_receiving_desk() -> None:
    visit = build_visit("A1", [ev(E.ISSUED, 0), ev(E.CALLED, 5), ev(E.TRANSFERRED, 9, to_desk="q02")])
    assert visit.status is VisitStatus.WAITING
    assert visit.waiting_desk == "q02" and visit.waiting_since == T0 + timedelta(minutes=9)
    assert visit.wait_s is None


def test_no_show_has_no_wait_and_is_counted_apart() -> None:
    visit = build_visit("A1", [ev(E.ISSUED, 0), ev(E.CALLED, 10), ev(E.RECALLED, 11), ev(E.NO_SHOW, 12)])
    assert visit.status is VisitStatus.NO_SHOW
    assert visit.wait_s is None and visit.transactions[0].wait_s is None


def test_visit_in_service_has_its_wait_but_no_service_time_yet() -> None:
    visit = build_visit("A1", [ev(E.ISSUED, 0), ev(E.CALLED, 7)])
    assert visit.status is VisitStatus.SERVING
    assert visit.wait_s == 420 and visit.transactions[0].service_s is None


def test_visit_without_issue_event_has_unknown_wait() -> None:
    visit = build_visit("A1", [ev(E.CALLED, 7), ev(E.FINISHED, 9)])
    assert visit.wait_s is None and visit.transactions[0].service_s == 120
