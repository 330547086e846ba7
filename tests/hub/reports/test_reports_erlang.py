"""Erlang C against a published example, and the live board's multi-desk prediction built on it."""

from __future__ import annotations

import math

import pytest

from hub.reports.staffing import (
    StaffingError,
    desks_needed,
    erlang_b,
    erlang_c,
    expected_wait_in_line_s,
    queue_answer,
)


def test_the_published_example_needs_14_agents() -> None:
    """100 calls per 30 minutes, 3-minute handling, 80 % answered within 20 seconds."""
    answer = desks_needed(arrivals_per_hour=200, mean_service_s=180, target_s=20, probability=0.80)
    assert answer.servers == 14
    assert answer.load == pytest.approx(10.0)
    assert round(answer.wait_probability, 3) == 0.174
    assert round(answer.mean_wait_s, 1) == 7.8
    assert answer.within_target == pytest.approx(0.888, abs=5e-4)
    assert answer.occupancy == pytest.approx(10 / 14)
    # One desk fewer misses the 80 %.
    assert queue_answer(13, 200, 180, 20).within_target < 0.80


@pytest.mark.parametrize(
    ("servers", "load", "expected"),
    [
        (1, 1.0, 0.5),  # B(1, a) = a / (1 + a)
        (2, 1.0, 0.2),  # (a²/2) / (1 + a + a²/2)
        (0, 3.0, 1.0),
    ],
)
def test_erlang_b_by_hand(servers: int, load: float, expected: float) -> None:
    assert erlang_b(servers, load) == pytest.approx(expected)


def test_erlang_c_of_a_single_desk_is_its_occupancy() -> None:
    assert erlang_c(1, 0.6) == pytest.approx(0.6)  # M/M/1: P(wait) = ρ
    assert queue_answer(1, 36, 60, 0).mean_wait_s == pytest.approx(0.6 / 0.4 * 60)  # ρ/(1−ρ) × s


def test_an_overloaded_hour_waits_forever_and_no_desks_are_needed_without_arrivals() -> None:
    over = queue_answer(2, 240, 60, 900)  # 4 Erlangs on 2 desks
    assert over.wait_probability == 1.0 and math.isinf(over.mean_wait_s) and over.within_target == 0.0
    assert desks_needed(0, 600, 900, 0.8).servers == 0


@pytest.mark.parametrize(
    ("arrivals", "service", "probability", "error"),
    [
        (10, 600, 1.0, "between 0 and 1"),
        (10, 0, 0.8, "must be positive"),
        (100000, 600, 0.8, "not enough"),
    ],
)
def test_questions_without_an_answer_say_why(arrivals: float, service: float, probability: float, error: str) -> None:
    with pytest.raises(StaffingError, match=error):
        desks_needed(arrivals, service, 900, probability, max_desks=50)


def test_expected_wait_in_a_shared_line() -> None:
    # 6 people, 3 desks all busy, 10-minute services: 6 departures, 3 per 10 minutes → 20 minutes.
    assert expected_wait_in_line_s(6, 3, 3, 600) == pytest.approx(1200)
    # One of the three desks idle: the first person goes straight there, 5 departures to wait for.
    assert expected_wait_in_line_s(6, 3, 2, 600) == pytest.approx(1000)
    assert expected_wait_in_line_s(1, 2, 1, 600) == 0
    with pytest.raises(StaffingError):
        expected_wait_in_line_s(3, 0, 0, 600)
