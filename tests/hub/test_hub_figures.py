"""Figures against the targets in force, computed by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from hub.config import RatingScale, TargetMetric, UnitLevel, load_settings, targets_in_force, wait_target
from hub.figures import RatingFact, compute_figures, percentile
from hub.visits import TicketEventRecord, build_visit
from protocol.errors import ConfigError
from protocol.messages import TicketEvent as E

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([], 50, None),
        ([5], 90, 5),
        ([1, 2, 3, 4], 50, 2.5),
        ([10, 20, 30, 40, 50], 90, 46),
        ([3, 1, 2], 0, 1),
    ],
)
def test_percentile_interpolates_between_closest_ranks(values: list[float], q: float, expected: float) -> None:
    assert percentile(values, q) == expected


def visit(ticket: str, wait_min: float, service_min: float, desk: str = "q01"):  # type: ignore[no-untyped-def]
    called = T0 + timedelta(minutes=wait_min)
    return build_visit(
        ticket,
        [
            TicketEventRecord(f"{ticket}-i", T0, desk, E.ISSUED),
            TicketEventRecord(f"{ticket}-c", called, desk, E.CALLED, staff="cb"),
            TicketEventRecord(f"{ticket}-f", called + timedelta(minutes=service_min), desk, E.FINISHED, staff="cb"),
        ],
    )


def test_day_figures_against_the_15_minute_target() -> None:
    settings = load_settings()
    day = date(2026, 11, 20)
    rules = targets_in_force(settings, day, UnitLevel.COMMUNE)
    visits = [
        visit("1", 5, 10),
        visit("2", 10, 20),
        visit("3", 20, 40, desk="q02"),
        visit("4", 25, 5, desk="q02"),
    ]
    ratings = [RatingFact(4), RatingFact(3), RatingFact(2), RatingFact(1), RatingFact(5, scale=5)]
    f = compute_figures(
        visits,
        ratings,
        wait_target(settings, day, UnitLevel.COMMUNE),
        rules[TargetMetric.HANDLING_PER_DOSSIER],
        RatingScale(),
    )
    assert (f.visits, f.transactions, f.no_shows) == (4, 4, 0)
    assert f.mean_wait_s == pytest.approx((5 + 10 + 20 + 25) / 4 * 60)
    assert f.median_wait_s == pytest.approx(15 * 60)
    assert f.p90_wait_s == pytest.approx((20 + 0.7 * 5) * 60)
    assert f.within_target_share == pytest.approx(0.5)
    assert f.target_wait_s == 900 and f.target_metric == "wait_per_transaction"
    assert f.mean_service_s == pytest.approx(75 / 4 * 60)
    assert f.within_service_target_share == pytest.approx(0.75)
    assert (f.ratings, f.satisfied) == (5, 3) and f.satisfaction_share == pytest.approx(0.6)
    desk = compute_figures(visits, [], wait_target(settings, day, UnitLevel.COMMUNE), None, RatingScale(), desk="q02")
    assert desk.transactions == 2 and desk.mean_wait_s == pytest.approx(22.5 * 60)


@pytest.mark.parametrize(
    ("day", "metric", "limit_s", "handling"),
    [
        (date(2021, 6, 1), "wait_per_visit", 1800, False),
        (date(2022, 12, 31), "wait_per_visit", 1800, False),
        (date(2023, 1, 1), "wait_per_transaction", 900, False),
        (date(2025, 1, 1), "wait_per_transaction", 900, True),
    ],
)
def test_target_in_force_follows_the_dated_schedule(day: date, metric: str, limit_s: float, handling: bool) -> None:
    settings = load_settings()
    rule = wait_target(settings, day, UnitLevel.PROVINCE)
    assert rule is not None and (rule.metric.value, rule.limit_s) == (metric, limit_s)
    assert (TargetMetric.HANDLING_PER_DOSSIER in targets_in_force(settings, day, UnitLevel.PROVINCE)) is handling


def test_unit_level_is_dated() -> None:
    tu_son = load_settings().site("bn-tu-son")
    assert tu_son is not None
    assert tu_son.level_on(date(2025, 6, 30)) is UnitLevel.DISTRICT
    assert tu_son.level_on(date(2025, 7, 1)) is UnitLevel.COMMUNE


@pytest.mark.parametrize(("levels", "threshold"), [(4, 3), (5, 4), (3, 3), (None, 3)])
def test_satisfied_threshold_scales_with_the_rating_scale(levels: int | None, threshold: int) -> None:
    assert RatingScale().satisfied_min_for(levels) == threshold


def test_bad_config_key_is_named(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "hub.yaml"
    path.write_text(
        "province: {name: Bắc Ninh}\ntargets: [{metric: wait_per_visit, limit_minutes: -5}]\nlisten: nowhere\n"
        "sites: [{id: x, name: X, level: commune, lat: 21, lon: 106, desks: [{id: all, name: A}]}]\ntypo: 1\n"
    )
    from hub.config import load_settings as load

    with pytest.raises(ConfigError) as caught:
        load(path)
    text = str(caught.value)
    for expected in ("targets.0.limit_minutes = -5", "listen = 'nowhere'", "sites.0.desks.0.id", "typo"):
        assert expected in text
