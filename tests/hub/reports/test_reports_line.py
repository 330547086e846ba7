"""The camera's line in the period report: walk-outs and waits before the ticket per desk and unit, beside the
ticket-based waits of the same group, with sample sizes; every figure computed by hand."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import datetime
from pathlib import Path

import openpyxl

from hub.reports import service
from hub.reports.aggregate import Filters, GroupBy
from hub.reports.periods import parse_period
from hub.reports.service import ReportFormat
from protocol.messages import LineEvent, LineMessage
from tests.hub.reports.conftest import RecordBuilder, at

SITE, DAY = "bn-kinh-bac", "2026-11-20"
NOW = datetime.fromisoformat("2026-11-21T08:00:00+07:00")


def fill(b: RecordBuilder) -> None:
    """q01 serves two citizens with ticket waits of 12 and 20 minutes (mean 16); its camera saw one walk-out
    after 5 minutes in line and two waits before the ticket of 1 and 2 minutes; q02's camera one of 4 minutes."""
    b.minutes(SITE, DAY, "1", 12, 10, "cb-1", start="08:00")
    b.minutes(SITE, DAY, "2", 20, 10, "cb-1", start="08:05")
    line = [("q01", LineEvent.WALKOUT, 300.0), ("q01", LineEvent.PRE_TICKET_WAIT, 60.0)]
    line += [("q01", LineEvent.PRE_TICKET_WAIT, 120.0), ("q02", LineEvent.PRE_TICKET_WAIT, 240.0)]
    with b.store.transaction():
        for n, (desk, event, seconds) in enumerate(line):
            message = LineMessage(
                id=f"l{n}", ts=at(DAY, "08:30"), site=SITE, desk=desk, event=event, duration_s=seconds
            )
            b.store.add_line_event(message, DAY)


def test_the_report_by_desk_sets_the_cameras_line_beside_the_ticket_waits(engine_builder: RecordBuilder) -> None:
    fill(engine_builder)
    with engine_builder.open() as record:
        rendered = service.figures(
            record, engine_builder.settings, parse_period(DAY), GroupBy.DESK, Filters(site=SITE), ReportFormat.JSON, NOW
        )
        workbook = service.figures(
            record, engine_builder.settings, parse_period(DAY), GroupBy.DESK, Filters(site=SITE), ReportFormat.XLSX, NOW
        )
    rows = {tuple(r["key"]): r for r in json.loads(rendered.content)["line"]}
    assert (rows[()]["walkouts"], rows[()]["pre_ticket_waits"], rows[()]["pre_ticket_wait_mean_s"]) == (1, 3, 140.0)
    q01 = rows[(SITE, "q01")]
    assert (q01["walkouts"], q01["walkout_mean_in_line_s"], q01["pre_ticket_waits"]) == (1, 300.0, 2)
    assert q01["pre_ticket_wait_mean_s"] == 90.0
    assert (rows[(SITE, "q02")]["walkouts"], rows[(SITE, "q02")]["pre_ticket_waits"]) == (0, 1)

    sheet = openpyxl.load_workbook(io.BytesIO(workbook.content))["Hàng chờ camera"]
    values = [[c for c in row if c is not None] for row in sheet.iter_rows(values_only=True)]
    header = next(r for r in values if "Bỏ về (camera)" in r)
    assert header[:5] == ["Tên", "Bỏ về (camera)", "Chờ trước lấy số TB (phút)", "P90 (phút)", "Số lượt đo"]
    desk_row = next(r for r in values if r and str(r[0]).startswith("Quầy 1 –"))
    # 1 walk-out; 1.5 minutes before the ticket over 2 people; beside 16 minutes of ticket wait over 2 transactions.
    assert desk_row[1:3] == [1, 1.5] and desk_row[4:] == [2, 16, 2]


def test_a_period_without_camera_counts_has_no_line_section(builder: RecordBuilder) -> None:
    builder.minutes(SITE, DAY, "1", 12, 10, "cb-1")
    with builder.open() as record:
        rendered = service.figures(
            record, builder.settings, parse_period(DAY), GroupBy.UNIT, Filters(), ReportFormat.JSON, NOW
        )
    assert "line" not in json.loads(rendered.content)


def test_the_pdf_of_a_report_with_camera_counts_has_the_line_section(builder: RecordBuilder, tmp_path: Path) -> None:
    fill(builder)
    with builder.open() as record:
        made = service.figures(
            record, builder.settings, parse_period(DAY), GroupBy.UNIT, Filters(), ReportFormat.PDF, NOW
        )
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(made.content)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Hàng chờ theo camera: bỏ về và chờ trước khi lấy số" in text
    assert "Bỏ về (camera)" in text
