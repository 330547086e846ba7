"""CSV export: the report's main table, UTF-8 with a byte-order mark (so that spreadsheets read the
diacritics), a header row in Vietnamese with the unit of each column, numbers with a decimal point."""

from __future__ import annotations

import csv
import io

from hub.reports.document import Cell, Column, Document, Kind

UNITS = {Kind.SHARE: " (%)", Kind.MINUTES: " (phút)"}


def csv_value(value: Cell, kind: Kind) -> str | int | float:
    """A cell as the CSV holds it: shares in percent, times in minutes, empty for no value."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if kind is Kind.SHARE:
        return round(value * 100, 2)
    if kind is Kind.MINUTES:
        return round(value / 60, 2)
    if kind is Kind.INT:
        return int(round(value))
    return round(value, 4)


def header(column: Column, units: dict[Kind, str] = UNITS) -> str:
    """A column's title with its unit, once: a title that already names it ("Chờ TB (phút)") keeps its own."""
    unit = units.get(column.kind, "")
    return column.title if unit.strip() in column.title else column.title + unit


def to_csv(document: Document) -> bytes:
    """The main table of ``document`` as CSV bytes (an empty file with a header when there is no table)."""
    table = document.main_table()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if table is not None:
        writer.writerow([header(c) for c in table.columns])
        for row in table.rows:
            writer.writerow([csv_value(v, c.kind) for v, c in zip(row, table.columns, strict=True)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
