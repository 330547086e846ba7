"""Rating integrity: which ticket a press belongs to and whether it counts, on a clock the test holds."""

from __future__ import annotations

import pytest

from edge.kiosk.integrity import RatingIntegrity, RatingVerdict
from edge.kiosk.settings import IntegritySettings
from protocol.messages import RatingFlag, TicketEvent

BURST, REPEAT, TOO_SOON, NO_TICKET = RatingFlag.BURST, RatingFlag.REPEAT, RatingFlag.TOO_SOON, RatingFlag.NO_TICKET
CALLED, FINISHED, NO_SHOW = TicketEvent.CALLED, TicketEvent.FINISHED, TicketEvent.NO_SHOW
TRANSFERRED = TicketEvent.TRANSFERRED

# A step is either a ticket event (time, event, ticket, staff) or a press (time, expected ticket, expected flags).
Step = tuple[float, TicketEvent, str, str] | tuple[float, str | None, tuple[RatingFlag, ...]]

CHILD_PRESSES: list[Step] = [(304.5 + i * 0.4, "A001", (BURST, REPEAT)) for i in range(9)]

SCENARIOS: list[tuple[str, list[Step]]] = [
    (
        "a citizen rates the ticket just finished, once",
        [(0, CALLED, "A001", "cb-1"), (300, FINISHED, "A001", "cb-1"), (305, "A001", ())],
    ),
    (
        "a child presses ten times: the first counts, the rest are a burst",
        [(0, CALLED, "A001", "cb-1"), (300, FINISHED, "A001", "cb-1"), (304, "A001", ()), *CHILD_PRESSES],
    ),
    (
        "a double press: the second is a burst",
        [(0, FINISHED, "A001", "cb-1"), (5, "A001", ()), (5.3, "A001", (BURST, REPEAT))],
    ),
    (
        "pressing again later for the same ticket is a repeat, not a burst",
        [(0, FINISHED, "A001", "cb-1"), (5, "A001", ()), (20, "A001", (REPEAT,))],
    ),
    (
        "the officer presses right after finishing: too soon, and the citizen can still rate",
        [(0, CALLED, "A001", "cb-1"), (200, FINISHED, "A001", "cb-1"), (200.8, "A001", (TOO_SOON,)), (206, "A001", ())],
    ),
    (
        "the officer presses twice right after finishing: too soon, then a burst",
        [(0, FINISHED, "A001", "cb-1"), (0.5, "A001", (TOO_SOON,)), (1.2, "A001", (BURST, TOO_SOON))],
    ),
    (
        "a rating with no ticket in the last five minutes is kept and counted, but flagged",
        [(0, FINISHED, "A001", "cb-1"), (301, None, (NO_TICKET,))],
    ),
    (
        "on a desk whose tickets are unseen, a second press moments later is a repeat",
        [(10, None, (NO_TICKET,)), (25, None, (REPEAT, NO_TICKET)), (60, None, (NO_TICKET,))],
    ),
    (
        "rating while the officer stamps the papers belongs to the ticket in service",
        [(0, CALLED, "A001", "cb-1"), (120, "A001", ()), (140, FINISHED, "A001", "cb-1"), (150, "A001", (REPEAT,))],
    ),
    (
        "the next number is called at once: the leaving citizen's press still goes to the finished ticket",
        [
            (0, CALLED, "A001", "cb-1"),
            (100, FINISHED, "A001", "cb-1"),
            (100, CALLED, "A002", "cb-1"),
            (110, "A001", ()),
            (400, "A002", ()),
        ],
    ),
    (
        "after the hand-over time a press belongs to the ticket in service",
        [(0, FINISHED, "A001", "cb-1"), (0, CALLED, "A002", "cb-2"), (90, "A002", ())],
    ),
    (
        "a queue-number system that never says finished: calling the next ends the previous service",
        [(0, CALLED, "7", "cb-1"), (200, CALLED, "8", "cb-1"), (210, "7", ()), (215, "7", (REPEAT,))],
    ),
    (
        "a transferred citizen rates this desk's service",
        [(0, CALLED, "A001", "cb-1"), (60, TRANSFERRED, "A001", "cb-1"), (65, "A001", ())],
    ),
    (
        "a no-show is not rated; the press has no ticket",
        [(0, CALLED, "A001", "cb-1"), (60, NO_SHOW, "A001", "cb-1"), (65, None, (NO_TICKET,))],
    ),
    (
        "a repeated finished event does not open the ticket for a second rating",
        [(0, FINISHED, "A001", "cb-1"), (5, "A001", ()), (8, FINISHED, "A001", "cb-1"), (20, "A001", (REPEAT,))],
    ),
    (
        "the same number the next day is a new service",
        [(0, FINISHED, "001", "cb-1"), (5, "001", ()), (86_400, CALLED, "001", "cb-1"), (86_500, "001", ())],
    ),
]


@pytest.mark.parametrize("steps", [s for _, s in SCENARIOS], ids=[name for name, _ in SCENARIOS])
def test_rules(steps: list[Step]) -> None:
    rules = RatingIntegrity(IntegritySettings())
    for step in steps:
        if len(step) == 4:
            at, event, ticket, staff = step
            rules.ticket_event(event, ticket, staff, at)
        else:
            at, expected_ticket, flags = step
            verdict = rules.judge(at)
            assert (verdict.ticket, verdict.flags) == (expected_ticket, flags), f"press at {at} s"


def test_verdict_carries_the_officer_and_counts_only_without_excluding_flags() -> None:
    rules = RatingIntegrity(IntegritySettings())
    rules.ticket_event(CALLED, "B017", "cb-9", 0)
    rules.ticket_event(FINISHED, "B017", None, 100)
    verdict = rules.judge(105)
    assert verdict == RatingVerdict("B017", "cb-9", ())
    assert verdict.counted
    assert RatingVerdict(None, None, (NO_TICKET,)).counted
    assert not any(RatingVerdict("x", None, (flag,)).counted for flag in (BURST, REPEAT, TOO_SOON))


def test_thresholds_come_from_the_settings() -> None:
    rules = RatingIntegrity(IntegritySettings(burst_gap_s=10, too_soon_s=0, ticket_window_s=30, no_ticket_gap_s=0))
    rules.ticket_event(FINISHED, "A001", "cb-1", 0)
    assert rules.judge(0.1).flags == ()  # too_soon_s 0: an immediate press counts
    assert rules.judge(8).flags == (BURST, REPEAT)  # within 10 s of the last press
    assert rules.judge(31).flags == (NO_TICKET,)  # the ticket window closed after 30 s
