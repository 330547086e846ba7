"""Period figures of a small record, every figure computed by hand, across a change of target."""

from __future__ import annotations

from datetime import date

import pytest

from hub.config import TargetMetric, UnitLevel, targets_in_force, wait_target
from hub.figures import compute_figures
from hub.reports.aggregate import Filters, GroupBy, period_figures
from hub.reports.periods import parse_period
from protocol.messages import RatingFlag, Sentiment, TicketEvent
from tests.hub.reports.conftest import RecordBuilder

SITE = "bn-kinh-bac"  # a commune unit
MIN = 60.0


def fill(b: RecordBuilder) -> None:
    """Two days either side of the change of target on 1 January 2023 (30 min per visit, then 15 per transaction).

    2022-12-30 (wait target: 30 minutes per visit)
      A1 issued 08:00 at q01, called 08:10 by cb-1, transferred 08:20 to q02, called 08:50 there by cb-2 for a
         different field, finished 09:00: visit wait 10 + 30 = 40 min; handling 10 and 10 min.
      A2 issued 08:05, called 08:25 by cb-1, finished 08:45: wait 20, handling 20.
      A3 issued 08:30, called 09:00 by cb-1 and did not come: a no-show.
    2023-01-03 (wait target: 15 minutes per transaction)
      B1 issued 08:00, called 08:12 by cb-1, finished 08:30: wait 12, handling 18.
      B2 issued 08:10, called 08:30 by cb-1, finished 08:40: wait 20, handling 10.
      B3 issued 09:00, never called.
    """
    d1, d2 = "2022-12-30", "2023-01-03"
    b.event(SITE, d1, "A1", "08:00", TicketEvent.ISSUED, service="dat-dai")
    b.event(SITE, d1, "A1", "08:10", TicketEvent.CALLED, "q01", "cb-1", "dat-dai")
    b.event(SITE, d1, "A1", "08:20", TicketEvent.TRANSFERRED, "q01", "cb-1", "dat-dai", to_desk="q02")
    b.event(SITE, d1, "A1", "08:50", TicketEvent.CALLED, "q02", "cb-2", "tu-phap-ho-tich")
    b.event(SITE, d1, "A1", "09:00", TicketEvent.FINISHED, "q02", "cb-2", "tu-phap-ho-tich")
    b.served(SITE, d1, "A2", "08:05", "08:25", "08:45", "cb-1")
    b.event(SITE, d1, "A3", "08:30", TicketEvent.ISSUED, service="dat-dai")
    b.event(SITE, d1, "A3", "09:00", TicketEvent.NO_SHOW, "q01", "cb-1", "dat-dai")
    b.served(SITE, d2, "B1", "08:00", "08:12", "08:30", "cb-1")
    b.served(SITE, d2, "B2", "08:10", "08:30", "08:40", "cb-1")
    b.event(SITE, d2, "B3", "09:00", TicketEvent.ISSUED, service="dat-dai")
    # Ratings: A2 satisfied; A1 at q02 unhappy, kiosk without the officer (attributed through the ticket);
    # a burst press not counted; B1 5 of 5 (satisfied: at least 4 on a 5-level scale); B2 3 of 5 (not).
    b.rating(SITE, d1, "08:46", 4, ticket="A2", staff="cb-1")
    b.rating(SITE, d1, "09:01", 2, desk="q02", ticket="A1")
    b.rating(SITE, d1, "09:01", 4, desk="q02", ticket="A1", flags=[RatingFlag.BURST])
    b.rating(SITE, d2, "08:31", 5, ticket="B1", staff="cb-1", scale=5)
    b.rating(SITE, d2, "08:41", 3, ticket="B2", staff="cb-1", scale=5)
    b.comment(SITE, d1, "08:47", Sentiment.POSITIVE, ticket="A2", staff="cb-1")
    b.comment(SITE, d2, "08:42", Sentiment.NEGATIVE, ticket="B2")
    b.emotion(SITE, d1, "08:45", 0.5, ticket="A2")
    b.emotion(SITE, d2, "08:30", -0.1, ticket="B1")


PERIOD = parse_period("2022-12-30..2023-01-03")


def test_unit_figures_judge_each_day_against_its_own_target(engine_builder: RecordBuilder) -> None:
    fill(engine_builder)
    with engine_builder.open() as record:
        report = period_figures(record, engine_builder.settings, PERIOD, GroupBy.UNIT, Filters(site=SITE))
    unit = report.total
    assert (unit.visits, unit.transactions, unit.no_shows, unit.waiting) == (4, 5, 1, 1)
    # Waits that count: per visit on 2022-12-30 (40, 20), per transaction on 2023-01-03 (12, 20).
    assert unit.wait_basis == "mixed"
    assert unit.wait.count == 4
    assert unit.wait.mean == pytest.approx(23 * MIN)
    assert unit.wait.median == pytest.approx(20 * MIN)
    assert unit.wait.p90 == pytest.approx(34 * MIN)  # 20 + (40 − 20) × 0.7
    # 40 > 30 and 20 ≤ 30 (per visit); 12 ≤ 15 and 20 > 15 (per transaction)
    assert (unit.wait.within, unit.wait.judged, unit.wait.within_share) == (2, 4, 0.5)
    assert unit.mean_visit_wait_s == pytest.approx(23 * MIN)
    assert unit.mean_transaction_wait_s == pytest.approx((10 + 30 + 20 + 12 + 20) / 5 * MIN)
    # Handling 10 (ended by the transfer), 10, 20, 18, 10 minutes; no handling target before 2025.
    assert unit.service.mean == pytest.approx(13.6 * MIN)
    assert unit.service.median == pytest.approx(10 * MIN)
    assert unit.service.p90 == pytest.approx(19.2 * MIN)
    assert unit.service.judged == 0 and unit.service.within_share is None
    assert (unit.ratings, unit.satisfied, unit.ratings_not_counted) == (4, 2, 1)
    assert unit.satisfaction_share == 0.5
    assert unit.points_766 == pytest.approx(6 * 0.5 / 0.9)
    # Wilson 95 % for 2 of 4, worked by hand: centre 0.5, half-width 1.96·√(1/16 + 1.96²/64)/(1 + 1.96²/4) = 0.35.
    assert unit.satisfaction_interval == pytest.approx((0.1500, 0.8500), abs=1e-4)
    assert unit.comments == {"negative": 1, "neutral": 0, "positive": 1}
    assert (unit.emotions, unit.mean_valence) == (2, pytest.approx(0.2))
    assert any("30 phút/lần đến" in line for line in report.targets)
    assert any("15 phút/lượt giao dịch" in line for line in report.targets)


def test_series_by_day_follow_the_same_rules(builder: RecordBuilder) -> None:
    fill(builder)
    with builder.open() as record:
        report = period_figures(record, builder.settings, PERIOD, GroupBy.UNIT, Filters(site=SITE))
    by_day = {p.bucket: p for p in report.total.series}
    assert len(by_day) == 5
    first, last = by_day["2022-12-30"], by_day["2023-01-03"]
    assert (first.transactions, first.judged, first.within, first.ratings, first.satisfied) == (3, 2, 1, 2, 1)
    assert (last.transactions, last.judged, last.within, last.ratings, last.satisfied) == (2, 2, 1, 2, 1)
    assert by_day["2023-01-01"].transactions == 0


def test_desks_officers_and_fields_count_transactions(engine_builder: RecordBuilder) -> None:
    fill(engine_builder)
    with engine_builder.open() as record:
        desks = period_figures(record, engine_builder.settings, PERIOD, GroupBy.DESK, Filters(site=SITE))
        officers = period_figures(record, engine_builder.settings, PERIOD, GroupBy.OFFICER)
        fields = period_figures(record, engine_builder.settings, PERIOD, GroupBy.SERVICE)
    q01, q02 = desks.groups
    assert q01.key == (SITE, "q01") and q01.name == "Quầy 1 – Trung tâm Phục vụ hành chính công phường Kinh Bắc"
    # q01: waits 10, 20 (30-minute target that day), 12, 20 (15-minute target): 3 of 4 within.
    assert (q01.transactions, q01.no_shows, q01.wait.count) == (4, 1, 4)
    assert q01.wait.mean == pytest.approx(15.5 * MIN)
    assert (q01.wait.within, q01.wait.judged) == (3, 4)
    assert (q01.ratings, q01.satisfied) == (3, 2)
    assert (q02.transactions, q02.wait.within, q02.wait.judged, q02.ratings, q02.satisfied) == (1, 1, 1, 1, 0)

    by_staff = {g.key[0]: g for g in officers.groups}
    cb1, cb2 = by_staff["cb-1"], by_staff["cb-2"]
    assert (cb1.transactions, cb1.no_shows, cb1.wait.within, cb1.wait.judged) == (4, 1, 3, 4)
    assert (cb1.ratings, cb1.satisfied, cb1.ratings_not_counted) == (3, 2, 0)
    assert cb1.comments == {"negative": 1, "neutral": 0, "positive": 1}  # the negative one through its ticket
    assert (cb1.emotions, cb1.mean_valence) == (2, pytest.approx(0.2))
    assert (cb2.transactions, cb2.ratings, cb2.satisfied, cb2.ratings_not_counted) == (1, 1, 0, 1)

    by_field = {g.key[0]: g for g in fields.groups}
    assert by_field["dat-dai"].name == "Đất đai" and by_field["dat-dai"].transactions == 4
    assert by_field["tu-phap-ho-tich"].transactions == 1
    assert (by_field["tu-phap-ho-tich"].ratings, by_field["tu-phap-ho-tich"].satisfied) == (1, 0)


def test_a_desk_and_an_officer_together_count_the_visits_that_reached_that_desk(
    engine_builder: RecordBuilder,
) -> None:
    fill(engine_builder)
    with engine_builder.open() as record:
        q02 = period_figures(
            record, engine_builder.settings, PERIOD, GroupBy.UNIT, Filters(site=SITE, desk="q02", staff="cb-2")
        ).total
        q01 = period_figures(
            record, engine_builder.settings, PERIOD, GroupBy.UNIT, Filters(site=SITE, desk="q01", staff="cb-1")
        ).total
    # Visits served: q02 served A1 only, after its transfer (cb-2); q01 served A1, A2, B1, B2 (cb-1); A3 did not come.
    assert (q02.visits, q02.transactions, q02.no_shows) == (1, 1, 0)
    assert (q01.visits, q01.transactions, q01.no_shows) == (4, 4, 1)


def test_one_day_matches_the_hubs_own_day_figures(engine_builder: RecordBuilder) -> None:
    fill(engine_builder)
    day = date(2023, 1, 3)
    with engine_builder.open() as record:
        report = period_figures(
            record, engine_builder.settings, parse_period(day.isoformat()), GroupBy.UNIT, Filters(SITE)
        )
    rules = targets_in_force(engine_builder.settings, day, UnitLevel.COMMUNE)
    expected = compute_figures(
        engine_builder.store.visits(SITE, day.isoformat()),
        engine_builder.store.ratings(SITE, day.isoformat()),
        wait_target(engine_builder.settings, day, UnitLevel.COMMUNE),
        rules.get(TargetMetric.HANDLING_PER_DOSSIER),
        engine_builder.settings.rating,
    )
    got = report.total
    assert (got.visits, got.transactions, got.no_shows, got.waiting) == (
        expected.visits,
        expected.transactions,
        expected.no_shows,
        expected.waiting,
    )
    assert (got.wait.mean, got.wait.median, got.wait.p90) == (
        expected.mean_wait_s,
        expected.median_wait_s,
        expected.p90_wait_s,
    )
    assert got.wait.within_share == expected.within_target_share
    assert (got.service.mean, got.service.median) == (expected.mean_service_s, expected.median_service_s)
    assert (got.ratings, got.satisfied, got.satisfaction_share) == (
        expected.ratings,
        expected.satisfied,
        expected.satisfaction_share,
    )


def test_a_unit_changing_level_is_judged_by_the_level_in_force_each_day(builder: RecordBuilder) -> None:
    """Bắc Ninh's Từ Sơn unit was a district unit until 30 June 2025 and a commune unit from 1 July."""
    settings = builder.settings.with_overrides(
        targets=[
            {"metric": "wait_per_transaction", "limit_minutes": 20, "levels": ["district"]},
            {"metric": "wait_per_transaction", "limit_minutes": 10, "levels": ["commune", "province"]},
        ]
    )
    builder.settings = settings
    builder.minutes("bn-tu-son", "2025-06-30", "1", wait_min=15, service_min=5, staff="cb-9")
    builder.minutes("bn-tu-son", "2025-07-01", "1", wait_min=15, service_min=5, staff="cb-9")
    with builder.open() as record:
        report = period_figures(
            record, settings, parse_period("2025-06-30..2025-07-01"), GroupBy.UNIT, Filters(site="bn-tu-son")
        )
    # 15 ≤ 20 as a district unit; 15 > 10 as a commune unit.
    assert (report.total.wait.within, report.total.wait.judged) == (1, 2)
    assert report.targets == [
        "30/06/2025–30/06/2025, đơn vị cấp huyện: chờ ≤ 20 phút/lượt giao dịch",
        "01/07/2025–01/07/2025, đơn vị cấp xã: chờ ≤ 10 phút/lượt giao dịch",
    ]


def test_an_empty_period_has_no_figures_rather_than_zeros(builder: RecordBuilder) -> None:
    fill(builder)
    with builder.open() as record:
        report = period_figures(record, builder.settings, parse_period("2024-05"), GroupBy.UNIT)
    assert report.groups == []
    assert report.total.transactions == 0
    assert report.total.wait.mean is None and report.total.wait.within_share is None
    assert report.total.satisfaction_share is None and report.total.points_766 == 0
