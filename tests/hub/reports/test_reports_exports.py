"""The reports as files a person opens: a PDF that renders with Vietnamese text, an XLSX with numbers, a CSV."""

from __future__ import annotations

import csv
import io
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from PIL import Image

from hub.reports.aggregate import Filters, GroupBy
from hub.reports.periods import parse_period
from hub.reports.service import ReportFormat, decision766, evaluation, figures, staffing
from protocol.messages import RatingFlag
from tests.hub.reports.conftest import RecordBuilder

SITE = "bn-kinh-bac"
NOW = datetime.fromisoformat("2026-01-05T08:00:00+07:00")


def small_month(b: RecordBuilder) -> None:
    """March 2025 at Kinh Bắc: two desks, two officers, waits 5–25 minutes, ratings, one flagged."""
    for day in range(3, 8):
        date = f"2025-03-{day:02d}"
        for k in range(6):
            desk, staff, field = ("q01", "cb-1", "dat-dai") if k % 2 else ("q02", "cb-2", "tu-phap-ho-tich")
            b.minutes(SITE, date, f"{k}", 5 + 4 * k, 10 + k, staff, field, desk, start=f"{8 + k:02d}:00")
            b.rating(SITE, date, f"{8 + k:02d}:59", 3 + k % 2 if k < 5 else 1, desk, f"{k}", staff)
        b.rating(SITE, date, "12:00", 4, "q01", flags=[RatingFlag.BURST])


def text_of(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def first_page_png(pdf: bytes, tmp_path: Path) -> Image.Image:
    path = tmp_path / "page.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "50", "-f", "1", "-l", "1", "-png", str(path), str(tmp_path / "page")], check=True
    )
    (png,) = tmp_path.glob("page*.png")
    return Image.open(png).convert("L")


@pytest.mark.usefixtures("poppler")
def test_the_pdf_renders_with_the_unit_the_period_and_vietnamese_text(builder: RecordBuilder, tmp_path: Path) -> None:
    small_month(builder)
    with builder.open() as record:
        rendered = figures(
            record, builder.settings, parse_period("2025-03"), GroupBy.DESK, Filters(site=SITE), ReportFormat.PDF, NOW
        )
    assert rendered.media_type == "application/pdf" and rendered.filename == "bao-cao-desk-bn-kinh-bac-2025-03.pdf"
    assert rendered.content.startswith(b"%PDF")
    page = first_page_png(rendered.content, tmp_path)
    histogram = page.histogram()
    dark = sum(histogram[:128]) / (page.width * page.height)
    assert 0.005 < dark < 0.5, f"page 1 looks blank or black ({dark:.1%} dark pixels)"
    text = text_of(rendered.content, tmp_path)
    assert "Trung tâm Phục vụ hành chính công phường Kinh Bắc — Tháng 03/2025" in text
    assert "Mức độ hài lòng" in text and "Tỷ lệ chờ trong chỉ tiêu và tỷ lệ hài lòng" in text
    assert "Quầy 1" in text and "Quầy 2" in text
    assert "đơn vị cấp xã: chờ ≤ 15 phút/lượt giao dịch; tiếp nhận, xử lý ≤ 30 phút/hồ sơ" in text


def test_the_spreadsheet_holds_numbers_with_formats(builder: RecordBuilder) -> None:
    small_month(builder)
    with builder.open() as record:
        rendered = figures(
            record, builder.settings, parse_period("2025-03"), GroupBy.DESK, Filters(site=SITE), ReportFormat.XLSX, NOW
        )
    book = load_workbook(io.BytesIO(rendered.content))
    assert book.sheetnames[:2] == ["Tổng quan", "Số liệu"]
    sheet = book["Số liệu"]
    header = [c.value for c in sheet[1]]
    assert header[0] == "Tên" and "Hài lòng" in header
    unit, q01, q02 = (list(r) for r in sheet.iter_rows(min_row=2, max_row=4))
    satisfied = header.index("Hài lòng")
    # Kinh Bắc: 25 counted ratings, k = 0..4 give 3, 4, 3, 4, 3 and k = 5 gives 1 each day → 25 of 30.
    assert unit[0].value == "Trung tâm Phục vụ hành chính công phường Kinh Bắc"
    assert unit[satisfied].value == pytest.approx(25 / 30) and unit[satisfied].number_format == "0.0%"
    assert q01[header.index("Giao dịch")].value == 15
    assert book["Biểu đồ"]._charts, "the charts travel with the workbook"


def test_the_csv_opens_with_its_diacritics(builder: RecordBuilder) -> None:
    small_month(builder)
    with builder.open() as record:
        rendered = decision766(record, builder.settings, parse_period("2025-03"), None, ReportFormat.CSV, NOW)
    assert rendered.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(rendered.content.decode("utf-8-sig"))))
    assert rows[0] == ["Đơn vị", "Cấp", "Giao dịch", "Đánh giá", "Hài lòng", "Tỷ lệ hài lòng (%)", "Điểm", "Cảnh báo"]
    kinh_bac = next(r for r in rows if r[0] == "Trung tâm Phục vụ hành chính công phường Kinh Bắc")
    assert kinh_bac[1:7] == ["cấp xã", "30", "30", "25", "83.33", "5.5556"]
    unrated = [r for r in rows[1:] if r[3] == "0"]
    assert len(unrated) == len(rows) - 2  # every unit but Kinh Bắc
    assert all(r[-1].startswith("Không có đánh giá nào") for r in unrated)


@pytest.mark.usefixtures("poppler")
def test_the_evaluation_pack_shows_the_proposal_and_the_evidence(builder: RecordBuilder, tmp_path: Path) -> None:
    small_month(builder)
    builder.settings = builder.settings.with_overrides(evaluation={"min_ratings": 5, "min_transactions": 5})
    with builder.open() as record:
        rendered = evaluation(record, builder.settings, parse_period("2025"), None, ReportFormat.PDF, NOW)
    text = text_of(rendered.content, tmp_path)
    assert "Hồ sơ minh chứng đánh giá cán bộ Bộ phận Một cửa" in text and "Năm 2025" in text
    assert "Cán bộ cb-1 — Trung tâm Phục vụ hành chính công phường Kinh Bắc" in text
    assert "Hoàn thành" in text and "khoảng tin cậy 95 %" in text
    assert "trọng số của cảm xúc trong đề xuất bằng 0" in " ".join(text.split())
    assert first_page_png(rendered.content, tmp_path).getextrema()[0] < 100


@pytest.mark.usefixtures("poppler")
def test_the_staffing_pdf_states_the_model_and_its_limits(builder: RecordBuilder, tmp_path: Path) -> None:
    small_month(builder)
    with builder.open() as record:
        rendered = staffing(
            record, builder.settings, SITE, datetime(2025, 3, 10).date(), None, None, ReportFormat.PDF, NOW
        )
    text = " ".join(text_of(rendered.content, tmp_path).split())
    assert "Số quầy cần mở theo giờ (mô hình Erlang C)" in text and "Ngày 10/03/2025" in text
    assert "Poisson" in text and "Dự báo không biết ngày lễ, Tết" in text


def test_each_header_names_its_unit_once(builder: RecordBuilder) -> None:
    small_month(builder)
    with builder.open() as record:
        period, scope = parse_period("2025-03"), Filters(site=SITE)
        as_csv = figures(record, builder.settings, period, GroupBy.DESK, scope, ReportFormat.CSV, NOW)
        as_xlsx = figures(record, builder.settings, period, GroupBy.DESK, scope, ReportFormat.XLSX, NOW)
    csv_header = next(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    xlsx_header = [c.value for c in load_workbook(io.BytesIO(as_xlsx.content))["Số liệu"][1]]
    assert csv_header[4:9] == ["Chờ TB (phút)", "Trung vị (phút)", "P90 (phút)", "Chờ đạt CT (%)", "Xử lý TB (phút)"]
    assert xlsx_header[4:9] == ["Chờ TB (phút)", "Trung vị (phút)", "P90 (phút)", "Chờ đạt CT", "Xử lý TB (phút)"]
    for title in (*csv_header, *xlsx_header):
        assert title.count("(phút)") <= 1 and title.count("(%)") <= 1, title


def test_the_spreadsheet_cover_holds_its_figures_as_numbers(builder: RecordBuilder) -> None:
    small_month(builder)
    with builder.open() as record:
        rendered = figures(
            record, builder.settings, parse_period("2025-03"), GroupBy.DESK, Filters(site=SITE), ReportFormat.XLSX, NOW
        )
    cover = {row[0].value: row[1:] for row in load_workbook(io.BytesIO(rendered.content))["Tổng quan"].iter_rows()}
    transactions, _ = cover["Lượt giao dịch"]
    assert transactions.value == 30 and transactions.data_type == "n" and transactions.number_format == "#,##0"
    satisfied, evidence = cover["Mức độ hài lòng"]
    assert satisfied.value == pytest.approx(25 / 30, abs=0.001) and satisfied.number_format == "0.0%"
    assert evidence.value.startswith("(25/30 đánh giá hợp lệ")
    points, out_of = cover["Điểm hài lòng theo QĐ 766"]
    assert points.value == pytest.approx(5.56) and out_of.value == "/6"
    # Sentences stay text.
    assert cover["Nhận xét của người dân"][0].value == "0 tích cực, 0 trung lập, 0 tiêu cực"


@pytest.mark.usefixtures("poppler")
def test_the_province_pdf_is_in_vietnamese_and_lists_targets_province_first(
    builder: RecordBuilder, tmp_path: Path
) -> None:
    small_month(builder)
    with builder.open() as record:
        rendered = figures(
            record, builder.settings, parse_period("2025-03"), GroupBy.UNIT, Filters(), ReportFormat.PDF, NOW
        )
    text = text_of(rendered.content, tmp_path)
    assert "Giám sát Bộ phận Một cửa — Trang 1/" in text and "One-Stop" not in text
    province = text.index("đơn vị cấp tỉnh: chờ ≤ 15 phút")
    commune = text.index("đơn vị cấp xã: chờ ≤ 15 phút")
    assert province < commune
    assert "phường Kinh Bắc" in text
