"""Decree 335/2025/NĐ-CP: a scripted year with known inputs gives the totals computed by hand, month by
month and for the year, the classification by the thresholds in force, and the 20 % quota proposal; 2025
is still judged by the 2021 rules. Expected figures are literal numbers with their arithmetic in comments."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from hub.reports.decree335 import BEYOND, TIED, WITHIN, OfficerYear, quota_check, vietnamese_key
from hub.reports.evaluation import Classification
from hub.reports.evaluation_entries import EntryError, EntryStore
from hub.reports.periods import parse_period
from hub.reports.service import EvaluationPeriodError, ReportFormat, evaluation
from protocol.errors import ConfigError
from tests.hub.reports.conftest import RecordBuilder
from tests.hub.reports.test_reports_exports import first_page_png, text_of

KINH_BAC = "bn-kinh-bac"  # commune level all year
CENTRE = "bn-hcc"  # province level
NOW = datetime.fromisoformat("2027-01-05T08:00:00+07:00")
DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]  # 2026 (365 days)
OFFICERS = {
    "cb-an": {"name": "Nguyễn Thị An", "position": "Chuyên viên"},
    "cb-binh": {"name": "Trần Văn Bình", "position": "Chuyên viên", "group": "Đất đai"},
    "cb-chau": {"name": "Lê Thị Châu", "position": "Cán sự", "group": "Đất đai"},
    "cb-dung": {"name": "Phạm Văn Dũng", "position": "Chuyên viên", "group": "Hộ tịch"},
}


def decree_settings(builder: RecordBuilder) -> None:
    # Norms chosen so that the assigned quantity is easy by hand: 365 a year at commune level is 1 a day,
    # 730 at province level 2 a day.
    builder.settings = builder.settings.with_overrides(
        evaluation={
            "norms": {
                "province": {"min": 730, "max": 730},
                "district": {"min": 365, "max": 365},
                "commune": {"min": 365, "max": 365},
            },
            "officers": OFFICERS,
        }
    )


def products(builder: RecordBuilder, site: str, month: int, staff: str, count: int, late: int = 0) -> None:
    """``count`` dossiers on the 10th of a month of 2026, the first ``late`` of them waiting 20 minutes."""
    day = f"2026-{month:02d}-10"
    desk = {"cb-an": "q01", "cb-binh": "q02", "cb-chau": "q03", "cb-dung": "q01"}[staff]
    for k in range(count):
        wait = 20 if k < late else 5  # the wait target in 2026 is 15 minutes per transaction
        builder.minutes(site, day, f"{staff}-{k}", wait, 10, staff, "dat-dai", desk)


def scripted_year(builder: RecordBuilder, entries: EntryStore) -> None:
    """Four officers at Kinh Bắc; An is transferred to the provincial centre on 1 July."""
    for month, days in enumerate(DAYS, start=1):
        products(builder, KINH_BAC, month, "cb-binh", days)
        products(builder, KINH_BAC, month, "cb-chau", days - 3, late=4)
        products(builder, KINH_BAC, month, "cb-dung", days)
        if month <= 6:
            products(builder, KINH_BAC, month, "cb-an", 26 if month == 3 else days)
        else:
            products(builder, CENTRE, month, "cb-an", 2 * days - 10)
    for k in range(10):  # Châu in January: 8 of 10 counted ratings satisfied; the 2 unhappy ones come from a
        # kiosk that does not know the officer, and are hers through the ticket she served.
        staff = "cb-chau" if k < 8 else None
        builder.rating(KINH_BAC, "2026-01-10", "11:00", 4 if k < 8 else 1, "q03", f"cb-chau-{k}", staff)

    def add(staff: str, kind: str, month: str | None, value: float = 1, **extra: object) -> None:
        entries.add("giamsat", staff, kind, month, value, 30, **extra)  # type: ignore[arg-type]

    for month in range(1, 13):
        add("cb-binh", "general", f"2026-{month:02d}", 28 if month <= 6 else 26)
    add("cb-binh", "errors", "2026-05", 4)
    add("cb-binh", "errors_excused", "2026-05", 1)
    add("cb-chau", "general", "2026-06", 18)
    add("cb-chau", "general", "2026-06", 20, note="sửa điểm")  # supersedes the 18
    add("cb-chau", "general", "2026-12", 22)
    add("cb-chau", "late_excused", "2026-08", 4, note="mất điện, có xác nhận")
    add("cb-dung", "general", "2026-12", 29)
    add("cb-dung", "violation", "2026-11", 1, note="Bị kỷ luật khiển trách")
    add("cb-an", "general", "2026-01", 22)
    add("cb-an", "general", "2026-07", 24)
    add("cb-an", "days_off", "2026-03", 5, note="nghỉ phép")
    add("cb-an", "transfer", None, day=date(2026, 7, 1), site=CENTRE)
    add("cb-an", "errors", "2026-10", 2)


@pytest.fixture()
def year_pack(engine_builder: RecordBuilder) -> dict[str, object]:
    decree_settings(engine_builder)
    clock = iter(datetime(2026, 12, 31, 9, 0, s, tzinfo=UTC) for s in range(60))
    entries = EntryStore(engine_builder.connect(), clock=lambda: next(clock))
    scripted_year(engine_builder, entries)
    entries.close()
    with engine_builder.open() as record:
        rendered = evaluation(record, engine_builder.settings, parse_period("2026"), None, ReportFormat.JSON, NOW)
    data: dict[str, object] = json.loads(rendered.content)
    return data


def officer(pack: dict[str, object], staff: str) -> dict[str, object]:
    found = [o for o in pack["officers"] if o["staff"] == staff]  # type: ignore[attr-defined,index]
    assert len(found) == 1, staff
    return found[0]  # type: ignore[no-any-return]


def test_2026_is_judged_by_decree_335_and_2025_by_the_2021_rules(builder: RecordBuilder) -> None:
    decree_settings(builder)
    products(builder, KINH_BAC, 1, "cb-binh", 3)
    builder.minutes(KINH_BAC, "2025-05-06", "old-1", 5, 10, "cb-binh", "dat-dai", "q02")
    with builder.open() as record:
        new = json.loads(
            evaluation(record, builder.settings, parse_period("2026"), None, ReportFormat.JSON, NOW).content
        )
        old = json.loads(
            evaluation(record, builder.settings, parse_period("2025"), None, ReportFormat.JSON, NOW).content
        )
    assert new["profile"]["name"] == "Nghị định 335/2025/NĐ-CP"
    assert new["profile"]["thresholds"] == {"excellent": 90, "good": 70, "completed": 50}
    assert "profile" not in old and old["thresholds"] == {"excellent": 90, "good": 75, "completed": 55}
    assert [o["staff"] for o in old["officers"]] == ["cb-binh"]


def test_the_monthly_series_matches_the_hand_computation(year_pack: dict[str, object]) -> None:
    binh = officer(year_pack, "cb-binh")
    months = binh["months"]  # type: ignore[index]
    # Bình, January: 31 days in post at commune level (1 a day) → assigned 31; 31 products, none late.
    assert months[0]["assigned"] == pytest.approx(31.0)
    assert months[0]["products"] == 31 and months[0]["task_points"] == pytest.approx(70.0)
    # May: 4 major errors, 1 excused → 3 × 0,25 lost: quality = (31 − 0,75) ÷ 31 = 30,25/31
    # task = 70 × (1 + 30,25/31 + 1) ÷ 3 = 69,435484
    assert months[4]["quality"] == pytest.approx(30.25 / 31)
    assert months[4]["task_points"] == pytest.approx(69.435484, abs=1e-6)
    assert months[4]["general_points"] == 28 and months[6]["general_points"] == 26
    assert months[4]["general_source"] == "giamsat, 31/12/2026 09:00 UTC"
    assert months[4]["task_source"] == "hệ thống"

    chau = officer(year_pack, "cb-chau")["months"]  # type: ignore[index]
    # Châu, January: 28 products (31 − 3), 4 late; 8/10 satisfied → factor 0,8 ÷ 0,9 = 0,888889
    # quantity 28/31 = 0,903226; quality 28/31 × 0,888889 = 0,802867; progress (28 − 1)/31 = 0,870968
    # task = 70 × (0,903226 + 0,802867 + 0,870968) ÷ 3 = 60,131422
    assert chau[0]["satisfaction_factor"] == pytest.approx(0.888889, abs=1e-6)
    assert chau[0]["quantity"] == pytest.approx(0.903226, abs=1e-6)
    assert chau[0]["quality"] == pytest.approx(0.802867, abs=1e-6)
    assert chau[0]["progress"] == pytest.approx(0.870968, abs=1e-6)
    assert chau[0]["task_points"] == pytest.approx(60.131422, abs=1e-5)
    # February: 25 of 28, 4 late: 70 × (25/28 + 25/28 + 24/28) ÷ 3 = 70 × 74/84 = 61,666667
    assert chau[1]["task_points"] == pytest.approx(61.666667, abs=1e-5)
    # August: the 4 late ones have an accepted objective cause → progress 28/31: 70 × 28/31 = 63,225806
    assert chau[7]["late"] == 4 and chau[7]["late_excused"] == 4
    assert chau[7]["task_points"] == pytest.approx(63.225806, abs=1e-5)
    # June's general points: the 18 was corrected to 20; both entries stay, signed.
    assert chau[5]["general_points"] == 20 and len(chau[5]["entries"]) == 2

    an = officer(year_pack, "cb-an")["months"]  # type: ignore[index]
    # An, March: 5 days off → 26 days worked of 31 in post; assigned 31 × 26/31 = 26; 26 products → 70.
    assert an[2]["days_worked"] == 26 and an[2]["assigned"] == pytest.approx(26.0)
    assert an[2]["task_points"] == pytest.approx(70.0)
    # July at the provincial centre (2 a day): assigned 62, 52 products → 70 × 52/62 = 58,709677
    assert an[6]["sites"] == {"bn-hcc": 31} and an[6]["levels"] == {"province": 31}
    assert an[6]["assigned"] == pytest.approx(62.0) and an[6]["products"] == 52
    assert an[6]["task_points"] == pytest.approx(58.709677, abs=1e-5)
    # October: 52 of 62 and 2 errors: quality (52 − 0,5)/62; 70 × (52/62 + 51,5/62 + 52/62) ÷ 3 = 58,521505
    assert an[9]["task_points"] == pytest.approx(58.521505, abs=1e-5)


def test_the_year_totals_classification_and_quota(year_pack: dict[str, object]) -> None:
    binh = officer(year_pack, "cb-binh")
    # Bình: task = (11 × 70 + 69,435484) ÷ 12 = 69,952957; general = (6 × 28 + 6 × 26) ÷ 12 = 27
    assert binh["task_points"] == pytest.approx(69.952957, abs=1e-5)
    assert binh["general_points"] == pytest.approx(27.0)
    assert binh["total_points"] == pytest.approx(96.952957, abs=1e-5)
    assert binh["proposal"] == "excellent" and binh["name"] == "Trần Văn Bình"

    chau = officer(year_pack, "cb-chau")
    # Châu: months 60,131422; 61,666667; then 70 × (D − 3 + D − 3 + D − 4)/(3D) for D = 31 → 62,473118,
    # D = 30 → 62,222222, August 63,225806. Sum = 60,131422 + 61,666667 + 6 × 62,473118 (Mar, May, Jul, Oct,
    # Dec… minus Aug) … written out: Jan 60,131422, Feb 61,666667, Mar 62,473118, Apr 62,222222, May 62,473118,
    # Jun 62,222222, Jul 62,473118, Aug 63,225806, Sep 62,222222, Oct 62,473118, Nov 62,222222, Dec 62,473118
    # = 746,278375 → ÷ 12 = 62,189865; general = (20 + 22) ÷ 2 = 21; total 83,189865 → tốt (70 ≤ … < 90).
    assert chau["task_points"] == pytest.approx(62.189865, abs=1e-5)
    assert chau["general_points"] == pytest.approx(21.0)
    assert chau["total_points"] == pytest.approx(83.189865, abs=1e-5)
    assert chau["proposal"] == "good"
    # Quarter 1: (60,131422 + 61,666667 + 62,473118) ÷ 3 = 61,423736
    assert chau["quarters"][0]["task_points"] == pytest.approx(61.423736, abs=1e-5)  # type: ignore[index]

    an = officer(year_pack, "cb-an")
    # An: 6 × 70 + 58,709677 (Jul) + 58,709677 (Aug) + 58,333333 (Sep: 50/60) + 58,521505 (Oct)
    # + 58,333333 (Nov) + 58,709677 (Dec) = 771,317202 → ÷ 12 = 64,276434; general (22 + 24) ÷ 2 = 23
    assert an["task_points"] == pytest.approx(64.276434, abs=1e-5)
    assert an["total_points"] == pytest.approx(87.276434, abs=1e-5)
    assert an["proposal"] == "good" and an["site"] == CENTRE

    dung = officer(year_pack, "cb-dung")
    # Dũng: 70 + 29 = 99 points, but a recorded violation forces "Không hoàn thành nhiệm vụ".
    assert dung["total_points"] == pytest.approx(99.0)
    assert dung["proposal"] == "not_completed"
    assert any("Bị kỷ luật khiển trách" in r for r in dung["reasons"])  # type: ignore[attr-defined]

    units = year_pack["units"]  # type: ignore[index]
    # Province before commune: the centre (An) first, then Kinh Bắc, officers in Vietnamese order.
    assert [u["site"] for u in units] == [CENTRE, KINH_BAC]
    kinh_bac = units[1]
    assert kinh_bac["officers"] == ["cb-chau", "cb-dung", "cb-binh"]  # Lê, Phạm, Trần
    unit, land, civil = kinh_bac["quota"]
    assert [q["scope"] for q in kinh_bac["quota"]] == [
        "Toàn đơn vị: Trung tâm Phục vụ hành chính công phường Kinh Bắc",
        "Nhóm nhiệm vụ: Đất đai",
        "Nhóm nhiệm vụ: Hộ tịch",
    ]
    # Unit and group Đất đai: 1 "xuất sắc" (Bình) against 1 "tốt" (Châu): cap = ⌊0,2 × 1⌋ = 0 → Bình is
    # above the cap, for the council. Hộ tịch: Dũng alone, not completed → nothing to check.
    for check in (unit, land):
        assert (check["excellent"], check["good"], check["cap"], check["above_cap"]) == (1, 1, 0, 1)
        assert check["ranked"][0]["staff"] == "cb-binh" and check["ranked"][0]["status"] == BEYOND
    assert (civil["excellent"], civil["good"], civil["ranked"]) == (0, 0, [])
    assert officer(year_pack, "cb-binh")["quota_note"].startswith("Toàn đơn vị: Trung tâm")  # type: ignore[union-attr]
    assert binh["proposal"] == "excellent", "the cap is a proposal, never applied silently"


def test_decree_335_judges_calendar_years_only(builder: RecordBuilder) -> None:
    with builder.open() as record, pytest.raises(EvaluationPeriodError, match="period: Nghị định 335"):
        evaluation(record, builder.settings, parse_period("2026-03"), None, ReportFormat.JSON, NOW)


def officer_with(staff: str, name: str, total: float, proposal: Classification) -> OfficerYear:
    return OfficerYear(staff, name, "Chuyên viên", "x", "X", "commune", "g", [], [], [], total=total, proposal=proposal)


def test_the_quota_ranks_by_score_and_shows_ties_at_the_cap() -> None:
    good = [officer_with(f"g{k}", f"Tốt {k}", 80.0, Classification.GOOD) for k in range(10)]
    # 10 "tốt" → cap ⌊0,2 × 10⌋ = 2. Scores 95, 93, 93, 91: the two 93s straddle the cap → both tied.
    excellent = [
        officer_with("e1", "Đỗ Hà", 93.0, Classification.EXCELLENT),
        officer_with("e2", "An Bình", 95.0, Classification.EXCELLENT),
        officer_with("e3", "Bùi Cúc", 93.0, Classification.EXCELLENT),
        officer_with("e4", "Âu Dương", 91.0, Classification.EXCELLENT),
    ]
    check = quota_check("Toàn đơn vị", good + excellent, 0.20)
    assert (check.cap, check.above) == (2, 2)
    assert [(s, st) for s, _, _, st in check.ranked] == [
        ("e2", WITHIN),
        ("e3", TIED),  # Bùi before Đỗ in Vietnamese order at equal score
        ("e1", TIED),
        ("e4", BEYOND),
    ]


def test_vietnamese_order_puts_d_stroke_after_d_and_tones_after_letters() -> None:
    names = ["Đặng Văn A", "Dương Thị B", "Ân C", "An D", "Ấn E", "Bùi F"]
    assert sorted(names, key=vietnamese_key) == ["An D", "Ân C", "Ấn E", "Bùi F", "Dương Thị B", "Đặng Văn A"]


@pytest.mark.parametrize(
    ("kind", "month", "value", "message"),
    [
        ("general", "2026-01", 31, "phải từ 0 đến 30"),
        ("general", "2026-13", 10, "month: cần dạng YYYY-MM"),
        ("errors", "2026-01", 1.5, "số nguyên"),
        ("holiday", "2026-01", 1, "kind: cần một trong"),
        ("transfer", None, 1, "điều động cần ngày bắt đầu"),
        ("violation", "2026-01", 2, "1 là ghi nhận vi phạm"),
    ],
)
def test_a_bad_entry_is_refused_with_its_field_and_nothing_is_written(
    tmp_path: Path, kind: str, month: str | None, value: float, message: str
) -> None:
    store = EntryStore(tmp_path / "record.db")
    with pytest.raises(EntryError, match=message):
        store.add("giamsat", "cb-an", kind, month, value, 30)
    assert store.entries() == []
    store.close()


@pytest.mark.usefixtures("poppler")
def test_the_pdf_pack_renders_the_monthly_series_and_the_quota(builder: RecordBuilder, tmp_path: Path) -> None:
    decree_settings(builder)
    entries = EntryStore(builder.connect(), clock=lambda: datetime(2026, 12, 31, 9, 0, tzinfo=UTC))
    scripted_year(builder, entries)
    entries.close()
    with builder.open() as record:
        rendered = evaluation(record, builder.settings, parse_period("2026"), None, ReportFormat.PDF, NOW)
        sheet = evaluation(record, builder.settings, parse_period("2026"), None, ReportFormat.XLSX, NOW)
    assert rendered.filename == "danh-gia-nd335-tat-ca-2026.pdf"
    page = first_page_png(rendered.content, tmp_path)
    dark = sum(page.histogram()[:128]) / (page.width * page.height)
    assert 0.005 < dark < 0.5, f"page 1 looks blank or black ({dark:.1%} dark pixels)"
    text = " ".join(text_of(rendered.content, tmp_path).split())
    assert "Hồ sơ đánh giá, xếp loại chất lượng công chức Bộ phận Một cửa" in text and "Năm 2026" in text
    assert "Tỉnh Bắc Ninh · Nghị định 335/2025/NĐ-CP" in text
    assert "Trần Văn Bình (cb-binh) — Chuyên viên — Trung tâm Phục vụ hành chính công phường Kinh Bắc" in text
    assert "Theo dõi hằng tháng — Nguyễn Thị An" in text and "Điểm theo tháng — Lê Thị Châu" in text
    assert "HT: điểm do hệ thống tính từ số liệu; NN: điểm do người nhập (giám sát)" in text
    # An's July row: 31 days, 62 assigned, 52 products, 83,9 % each, 58,71 task + 24 general = 82,71.
    assert "07 31,0 62,00 52 0 (0) 0 (0) — 83,9 % 83,9 % 83,9 % 58,71 24,00 82,71" in text
    assert "vượt giới hạn — Hội đồng quyết định" in text
    assert "nhập bởi giamsat, 31/12/2026 09:00 UTC; ghi chú: nghỉ phép" in text
    assert (
        "Điều động, luân chuyển sang đơn vị Trung tâm Phục vụ hành chính công tỉnh Bắc Ninh từ ngày 01/07/2026"
        " — nhập bởi giamsat" in text
    )
    assert "Quy đổi và trọng số (cấu hình)" in text and "0,25 × sai sót lớn" in text
    # Bình's May on one line: 30,25/31 = 97,6 %; 70 × (1 + 0,975806 + 1) ÷ 3 = 69,44.
    assert (
        "05: SL 31/31,00 → 100,0 %; CL (31 − 0,25×3)/31,00 × 1,000 → 97,6 %; TĐ (31 − 0,25×0)/31,00 → 100,0 %;"
        " nhiệm vụ 69,44" in text
    )
    book = load_workbook(io.BytesIO(sheet.content))
    months = book["cb-binh"]
    header = [c.value for c in months[1]]
    may = [c.value for c in months[6]]  # header, then January … May
    # 70 × (1 + 30,25/31 + 1) ÷ 3 = 69,435484
    assert may[header.index("Nhiệm vụ (HT)")] == pytest.approx(69.435484, abs=1e-6)


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        (
            [
                {"name": "A", "method": "legacy_2021", "valid_until": "2026-03-31"},
                {"name": "B", "method": "decree_335", "valid_from": "2026-01-01", "thresholds": {}},
            ],
            "profiles 'A' and 'B' are both in force on 2026-01-01",
        ),
        ([{"name": "C", "method": "decree_335"}], "a decree_335 profile needs its thresholds"),
        ([{"name": "D", "method": "decree_2030", "thresholds": {}}], "legacy_2021"),
    ],
)
def test_a_wrong_profile_is_a_config_error_naming_it(
    builder: RecordBuilder, profiles: list[dict[str, object]], message: str
) -> None:
    with pytest.raises(ConfigError, match="evaluation") as raised:
        builder.settings.with_overrides(evaluation={"profiles": profiles})
    assert message in str(raised.value)


def test_a_dated_profile_moves_the_thresholds_with_the_year(builder: RecordBuilder) -> None:
    # A province that adopts stricter thresholds from 2027 keeps 2026 under the decree's defaults.
    decree_settings(builder)
    profiles = [
        {
            "name": "2021",
            "method": "legacy_2021",
            "valid_until": "2025-12-31",
            "thresholds": {"excellent": 85, "good": 65, "completed": 45},
        },
        {
            "name": "NĐ 335",
            "method": "decree_335",
            "valid_from": "2026-01-01",
            "valid_until": "2026-12-31",
            "thresholds": {"excellent": 90, "good": 70, "completed": 50},
        },
        {
            "name": "NĐ 335 (tỉnh, 2027)",
            "method": "decree_335",
            "valid_from": "2027-01-01",
            "thresholds": {"excellent": 95, "good": 80, "completed": 60},
        },
    ]
    builder.settings = builder.settings.with_overrides(evaluation={"profiles": profiles})
    products(builder, KINH_BAC, 1, "cb-binh", 3)
    with builder.open() as record:
        y2026 = json.loads(
            evaluation(record, builder.settings, parse_period("2026"), None, ReportFormat.JSON, NOW).content
        )
        y2027 = json.loads(
            evaluation(record, builder.settings, parse_period("2027"), None, ReportFormat.JSON, NOW).content
        )
        y2025 = json.loads(
            evaluation(record, builder.settings, parse_period("2025"), None, ReportFormat.JSON, NOW).content
        )
    assert y2026["profile"]["name"] == "NĐ 335" and y2026["profile"]["thresholds"]["good"] == 70
    assert y2027["profile"]["name"] == "NĐ 335 (tỉnh, 2027)" and y2027["profile"]["thresholds"]["good"] == 80
    assert y2025["thresholds"] == {"excellent": 85, "good": 65, "completed": 45}, "a dated 2021 profile's own"
