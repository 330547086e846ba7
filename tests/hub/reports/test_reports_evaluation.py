"""The annual evaluation pack: volume against the dated norm, case-mix fairness, small samples, the proposal."""

from __future__ import annotations

from datetime import date

import pytest

from hub.reports.evaluation import EMOTION_CAVEAT, Classification, OfficerEvaluation, evaluation_pack
from hub.reports.periods import parse_period
from hub.reports.stats import wilson_interval
from protocol.messages import TicketEvent
from tests.hub.reports.conftest import RecordBuilder

YEAR = parse_period("2025")
DAY = "2025-03-04"


def settings_for(builder: RecordBuilder, **evaluation: object) -> None:
    builder.settings = builder.settings.with_overrides(
        evaluation={"min_ratings": 3, "min_transactions": 2, **evaluation}
    )


def two_fields(b: RecordBuilder) -> None:
    """Land officers a1–a5: handling 20 and 40 minutes (half within 30). Notary officers n1–n5: 5 and 5
    (all within). y1, alone in construction: 40 and 40 (none within). Every wait 5 minutes, every officer
    three ratings of 4. x1 only had a no-show."""
    for i in range(1, 6):
        for officer, field, handling in ((f"a{i}", "dat-dai", (20, 40)), (f"n{i}", "chung-thuc", (5, 5))):
            for k, minutes in enumerate(handling):
                b.minutes("bn-kinh-bac", DAY, f"{officer}-{k}", 5, minutes, officer, field, start=f"0{8 + k}:00")
            for k in range(3):
                b.rating("bn-kinh-bac", DAY, f"10:0{k}", 4, staff=officer)
    for k in range(2):
        b.minutes("bn-kinh-bac", DAY, f"y1-{k}", 5, 40, "y1", "xay-dung", start=f"0{8 + k}:00")
    b.event("bn-kinh-bac", DAY, "x1-0", "08:00", TicketEvent.ISSUED, service="dat-dai")
    b.event("bn-kinh-bac", DAY, "x1-0", "08:30", TicketEvent.NO_SHOW, "q01", "x1", "dat-dai")


def by_staff(officers: list[OfficerEvaluation]) -> dict[str, OfficerEvaluation]:
    return {o.staff: o for o in officers}


def score(o: OfficerEvaluation, name: str) -> float | None:
    return next(c.score for c in o.components if c.name == name)


def test_officers_average_in_their_own_field_score_the_same(engine_builder: RecordBuilder) -> None:
    settings_for(engine_builder)
    two_fields(engine_builder)
    with engine_builder.open() as record:
        pack = by_staff(evaluation_pack(record, engine_builder.settings, YEAR).officers)
    a1, n1, y1 = pack["a1"], pack["n1"], pack["y1"]
    assert (a1.service, n1.service, y1.service) == ("dat-dai", "chung-thuc", "xay-dung")
    assert (a1.handling.within, a1.handling.judged) == (1, 2)
    assert (n1.handling.within, n1.handling.judged) == (2, 2)
    # Province-wide 15 of 22 handled within 30 minutes; land 5/10, notary 10/10: each officer is exactly at
    # their field's rate, so both get the province's rate: 0.5 ÷ 0.5 × 15/22 = 1.0 ÷ 1.0 × 15/22.
    assert score(a1, "handling") == pytest.approx(100 * 15 / 22)
    assert score(n1, "handling") == pytest.approx(100 * 15 / 22)
    # Construction has one officer (fewer than 5): compared with the whole province, 0 ÷ (15/22) × 15/22 = 0.
    assert score(y1, "handling") == 0
    assert "toàn tỉnh" in next(c.evidence for c in y1.components if c.name == "handling")
    assert "lĩnh vực Đất đai: 50,0 %" in next(c.evidence for c in a1.components if c.name == "handling")
    assert a1.score == pytest.approx(n1.score)
    assert (a1.rank_in_field, a1.ranked_in_field, a1.peers) == (1, 5, 4)


def test_volume_is_judged_against_the_norm_of_the_level_in_force_each_day(builder: RecordBuilder) -> None:
    """Từ Sơn was a district unit (norm 1,000) until 30 June 2025, a commune unit (500) after."""
    settings_for(builder)
    builder.minutes("bn-tu-son", "2025-01-02", "1", 5, 10, "t1")
    builder.minutes("bn-tu-son", "2025-12-30", "1", 5, 10, "t1")
    with builder.open() as record:
        (t1,) = evaluation_pack(record, builder.settings, YEAR).officers
    # Active 2 January to 30 December: 180 days as a district unit, 183 as a commune unit, of 365.
    assert t1.norm == pytest.approx((180 * 1000 + 183 * 500) / 365)
    assert t1.norm_max == pytest.approx((180 * 1200 + 183 * 800) / 365)
    assert t1.level == "cấp huyện (180 ngày), cấp xã (183 ngày)"
    assert (t1.first_day, t1.last_day, t1.received) == (date(2025, 1, 2), date(2025, 12, 30), 2)
    assert score(t1, "volume") == pytest.approx(100 * 2 / t1.norm)
    assert "2 hồ sơ tiếp nhận / định mức 744" in next(c.evidence for c in t1.components if c.name == "volume")


def test_small_samples_are_shown_but_neither_scored_nor_ranked(builder: RecordBuilder) -> None:
    settings_for(builder)
    two_fields(builder)
    builder.minutes("bn-kinh-bac", DAY, "f1-0", 5, 5, "f1", "chung-thuc", start="11:00")
    builder.minutes("bn-kinh-bac", DAY, "f1-1", 5, 5, "f1", "chung-thuc", start="11:30")
    builder.rating("bn-kinh-bac", DAY, "11:40", 1, staff="f1")  # one unhappy citizen out of one
    with builder.open() as record:
        pack = by_staff(evaluation_pack(record, builder.settings, YEAR).officers)
    f1, x1 = pack["f1"], pack["x1"]
    assert (f1.ratings, f1.satisfied) == (1, 0)
    assert score(f1, "satisfaction") is None
    assert f1.rank_in_field is None and f1.ranked_in_field == 5
    assert f1.proposal is Classification.GOOD  # at most "good" without enough ratings
    assert any("dưới 3" in reason for reason in f1.reasons)
    assert x1.received == 0 and x1.proposal is None
    assert x1.proposal_name == "Chưa đủ dữ liệu để đề xuất"


def test_excellent_needs_a_confident_satisfaction(builder: RecordBuilder) -> None:
    settings_for(builder)
    two_fields(builder)
    with builder.open() as record:
        pack = by_staff(evaluation_pack(record, builder.settings, YEAR).officers)
    a1 = pack["a1"]
    # volume 100 (×0.25), wait 100 (×0.20), handling 68.2 (×0.20), satisfaction 100 (×0.35)
    assert a1.score == pytest.approx(25 + 20 + 0.2 * 100 * 15 / 22 + 35)
    assert a1.score >= builder.settings.evaluation.thresholds.excellent
    low, _ = wilson_interval(3, 3) or (0.0, 0.0)
    assert low == pytest.approx(0.4385, abs=1e-4)  # 3 of 3 satisfied is not proof of 90 %
    assert a1.proposal is Classification.GOOD
    assert any("cận dưới khoảng tin cậy" in reason for reason in a1.reasons)


def test_emotion_weighs_nothing_by_default_and_says_why(engine_builder: RecordBuilder) -> None:
    settings_for(engine_builder)
    two_fields(engine_builder)
    engine_builder.emotion("bn-kinh-bac", DAY, "08:30", -0.9, ticket="a1-0")
    engine_builder.rating("bn-kinh-bac", DAY, "10:30", 4, ticket="a2-0")  # a kiosk that does not know the officer
    with engine_builder.open() as record:
        pack = evaluation_pack(record, engine_builder.settings, YEAR)
    a1, a2 = by_staff(pack.officers)["a1"], by_staff(pack.officers)["a2"]
    assert (a1.emotions, a1.mean_valence) == (1, -0.9)
    assert (a2.ratings, a2.satisfied) == (4, 4)  # attributed through its ticket
    assert next(c.weight for c in a1.components if c.name == "emotion") == 0
    assert a1.score == pytest.approx(a2.score)  # a gloomy face changed nothing
    assert pack.weights["emotion"] == 0 and pack.emotion_caveat == EMOTION_CAVEAT
    assert "trọng số của cảm xúc trong đề xuất bằng 0" in EMOTION_CAVEAT


def test_wilson_interval_matches_the_published_example() -> None:
    low, high = wilson_interval(8, 10) or (0.0, 0.0)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert wilson_interval(0, 0) is None
