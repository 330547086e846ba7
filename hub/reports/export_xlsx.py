"""XLSX export: a cover sheet (unit, period, targets, notes), one sheet per table with real numbers and
number formats, and the charts as native spreadsheet charts next to their data."""

from __future__ import annotations

import io
import re

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from hub.reports.document import Chart, Document, KeyValues, Kind, Paragraphs, Table

FORMATS = {
    Kind.INT: "#,##0",
    Kind.SHARE: "0.0%",
    Kind.MINUTES: "0.0",
    Kind.NUMBER: "0.0",
    Kind.NUMBER2: "0.00",
}
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")


def _sheet_name(title: str, taken: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:28] or "Bảng"
    name, n = base, 2
    while name.lower() in taken:
        name = f"{base[:25]} {n}"
        n += 1
    taken.add(name.lower())
    return name


def _cell_value(value: object, kind: Kind) -> object:
    if kind is Kind.MINUTES and isinstance(value, int | float):
        return value / 60
    return value


def _write_table(sheet: Worksheet, table: Table) -> None:
    sheet.append([c.title + (" (phút)" if c.kind is Kind.MINUTES else "") for c in table.columns])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in table.rows:
        sheet.append([_cell_value(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
    for index, column in enumerate(table.columns, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = max(10, min(60, 12 * column.width))
        number_format = FORMATS.get(column.kind)
        if number_format:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = number_format
    sheet.freeze_panes = "A2"


def _write_chart(sheet: Worksheet, chart: Chart, anchor_col: int) -> None:
    start_row = sheet.max_row + 2 if sheet.max_row > 1 else 1
    sheet.cell(start_row, anchor_col, chart.title).font = Font(bold=True)
    sheet.cell(start_row + 1, anchor_col, "")
    for offset, (name, _) in enumerate(chart.series, start=1):
        sheet.cell(start_row + 1, anchor_col + offset, name)
    for i, label in enumerate(chart.labels):
        sheet.cell(start_row + 2 + i, anchor_col, label)
        for offset, (_, values) in enumerate(chart.series, start=1):
            value = values[i]
            cell = sheet.cell(start_row + 2 + i, anchor_col + offset, _cell_value(value, chart.kind))
            if chart.kind in FORMATS:
                cell.number_format = FORMATS[chart.kind]
    bars = BarChart()
    bars.type = "bar" if chart.horizontal else "col"
    bars.title = chart.title
    bars.height, bars.width = 8, 18
    last = start_row + 1 + len(chart.labels)
    data = Reference(
        sheet, min_col=anchor_col + 1, max_col=anchor_col + len(chart.series), min_row=start_row + 1, max_row=last
    )
    categories = Reference(sheet, min_col=anchor_col, min_row=start_row + 2, max_row=last)
    bars.add_data(data, titles_from_data=True)
    bars.set_categories(categories)
    if chart.kind is Kind.SHARE:
        bars.y_axis.number_format = "0%"
        bars.y_axis.scaling.min = 0
        bars.y_axis.scaling.max = 1
    sheet.add_chart(bars, f"{get_column_letter(anchor_col + len(chart.series) + 2)}{start_row}")


def to_xlsx(document: Document) -> bytes:
    """``document`` as an XLSX workbook."""
    book = Workbook()
    cover = book.active
    assert cover is not None
    cover.title = "Tổng quan"
    taken = {"tổng quan"}
    cover.append([document.title])
    cover["A1"].font = Font(bold=True, size=14)
    cover.append([document.scope])
    cover.append([document.period])
    cover.append([f"Tỉnh {document.province} — lập lúc {document.generated_at:%H:%M %d/%m/%Y}"])
    cover.column_dimensions["A"].width = 40
    cover.column_dimensions["B"].width = 100
    charts_sheet = None
    chart_col = 1
    for section in document.sections:
        for block in section.blocks:
            if isinstance(block, Paragraphs):
                cover.append([])
                if block.title:
                    cover.append([block.title])
                    cover.cell(cover.max_row, 1).font = Font(bold=True)
                for line in block.lines:
                    cover.append([line])
            elif isinstance(block, KeyValues):
                cover.append([])
                if block.title:
                    cover.append([block.title])
                    cover.cell(cover.max_row, 1).font = Font(bold=True)
                for label, value in block.pairs:
                    cover.append([label, value])
            elif isinstance(block, Table):
                _write_table(book.create_sheet(_sheet_name(block.sheet or block.title, taken)), block)
            elif isinstance(block, Chart):
                if charts_sheet is None:
                    charts_sheet = book.create_sheet(_sheet_name("Biểu đồ", taken))
                _write_chart(charts_sheet, block, chart_col)
    if charts_sheet is not None:  # the figures first, the pictures of them last
        book.move_sheet(charts_sheet, offset=len(book.sheetnames) - 1 - book.index(charts_sheet))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
