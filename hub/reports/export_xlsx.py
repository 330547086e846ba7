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
from hub.reports.export_csv import header

FORMATS = {
    Kind.INT: "#,##0",
    Kind.SHARE: "0.0%",
    Kind.MINUTES: "0.0",
    Kind.NUMBER: "0.0",
    Kind.NUMBER2: "0.00",
}
HEADER_FILL = PatternFill("solid", fgColor="DCE6F1")
# Shares are stored as fractions with a percent format, so only minutes name their unit in the header.
UNITS = {Kind.MINUTES: " (phút)"}
# A cover value that starts with a figure as labels.py writes it (1.234 | 12,5 | 87,3 % | 12,5 phút), then
# nothing or its evidence: "(25/30 …)", "/6", "; …", "— …".
LEADING_FIGURE = re.compile(
    r"^(?P<int>\d{1,3}(?:\.\d{3})*)(?P<frac>,\d+)?(?P<unit> %| phút)?(?P<rest>(?:\s*[(/;—].*)?)$"
)


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
    sheet.append([header(c, UNITS) for c in table.columns])
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


def cover_figure(value: str) -> tuple[float | int, str, str] | None:
    """The figure a cover value starts with as a number, its number format and the words after it; None when
    the value does not start with a figure ("—", "trung bình 12,5 phút …")."""
    match = LEADING_FIGURE.match(value)
    if match is None:
        return None
    whole = int(match["int"].replace(".", ""))
    unit, rest = match["unit"], match["rest"].strip()
    if unit == " %":
        number = float(f"{whole}.{(match['frac'] or ',0')[1:]}") / 100
        return number, "0.0%", rest
    if match["frac"]:
        decimals = len(match["frac"]) - 1
        return float(f"{whole}.{match['frac'][1:]}"), "0." + "0" * decimals + ('" phút"' if unit else ""), rest
    return whole, '#,##0" phút"' if unit else "#,##0", rest


def _append_figure(cover: Worksheet, label: str, value: str) -> None:
    """A label and its value on the cover: a leading figure as a number with its format (column B), the words
    after it in column C; other values as text."""
    figure = cover_figure(value)
    if figure is None:
        cover.append([label, value])
        return
    number, number_format, rest = figure
    cover.append([label, number, rest or None])
    cover.cell(cover.max_row, 2).number_format = number_format
    cover.cell(cover.max_row, 2).alignment = Alignment(horizontal="left")


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
    cover.column_dimensions["B"].width = 14
    cover.column_dimensions["C"].width = 100
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
                    _append_figure(cover, label, value)
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
