"""The three voices per hour: counts, which comparisons are made, the Bonferroni level and the direction."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hub.config import RatingScale
from hub.voices import compare_voices

ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 27)


def at(hour: int, n: int) -> datetime:
    return datetime(2026, 11, 27, hour, 0, tzinfo=ZONE) + timedelta(seconds=n)


def ratings(
    hour: int, satisfied: int, unsatisfied: int, scale: int | None = None
) -> list[tuple[datetime, int, int | None]]:
    high, low = (4, 1) if scale is None else (scale, 1)
    return [(at(hour, i), high if i < satisfied else low, scale) for i in range(satisfied + unsatisfied)]


def comments(hour: int, negative: int, neutral: int, positive: int) -> list[tuple[datetime, str]]:
    kinds = ["negative"] * negative + ["neutral"] * neutral + ["positive"] * positive
    return [(at(hour, 100 + i), kind) for i, kind in enumerate(kinds)]


def test_hours_are_local_and_counts_add_up_to_the_day() -> None:
    result = compare_voices(
        ratings(8, 9, 1) + ratings(9, 3, 0, scale=5),  # 5-level scale: satisfied from ceil(3/4*5) = 4
        comments(8, 1, 1, 1),
        [(at(9, 200), -0.5), (at(9, 201), 0.25)],
        RatingScale(),
        ZONE,
        "bn-hcc",
        "Trung tâm",
        DAY,
    )
    data = result.as_json()
    assert [h["hour"] for h in data["hours"]] == [8, 9]
    eight, nine = data["hours"]
    assert (eight["ratings"], eight["satisfied"], eight["comments"], eight["comments_negative"]) == (10, 9, 3, 1)
    assert eight["comments_not_negative_share"] == pytest.approx(2 / 3) and eight["faces"] == 0
    assert (nine["ratings"], nine["satisfied"], nine["faces"], nine["mean_valence"]) == (3, 3, 2, -0.125)
    assert data["day"]["ratings"] == 13 and data["day"]["satisfied"] == 12 and data["faces_measured"] is True
    # Too few comments (3 < 5) and faces (2 < 5): nothing is compared, nothing warns.
    assert data["comparisons"] == [] and data["warnings"] == []


def test_every_comparison_made_shares_the_level_and_a_small_gap_never_warns() -> None:
    # 200 ratings 90 % satisfied against 200 comments 80 % not negative: p < 0.01, but the gap is 10 points.
    result = compare_voices(
        ratings(9, 180, 20), comments(10, 40, 60, 100), [], RatingScale(), ZONE, "bn-hcc", "Trung tâm", DAY
    )
    made = [(c.scope, c.other) for c in result.comparisons]
    assert made == [("day", "comments")]  # no hour has both 10 ratings and 5 comments
    assert result.comparisons[0].p_value < 0.01 and result.comparisons[0].alpha == 0.01
    assert result.warnings == []


def test_buttons_below_the_comments_point_at_the_device() -> None:
    result = compare_voices(
        ratings(14, 2, 10) + ratings(15, 1, 9),
        comments(14, 0, 3, 5) + comments(15, 1, 2, 4),
        [],
        RatingScale(),
        ZONE,
        "bn-hcc",
        "Trung tâm",
        DAY,
    )
    assert [(c.scope, c.other) for c in result.comparisons] == [
        ("day", "comments"),
        ("14:00", "comments"),
        ("15:00", "comments"),
    ]
    assert [c.alpha for c in result.comparisons] == pytest.approx([0.01 / 3] * 3)
    day = result.comparisons[0]
    assert (day.buttons_yes, day.buttons_n, day.other_yes, day.other_n) == (3, 22, 14, 15)
    assert day.warning and "kiểm tra thiết bị đánh giá" in day.message
    assert day.message.startswith(
        "Cả ngày: 14 % hài lòng trên 22 lượt bấm nút, 93 % góp ý không tiêu cực (1/15 tiêu cực)"
    )
