"""A report as a document: header, sections of paragraphs, tables and charts; rendered as CSV, XLSX or PDF.

Values in tables are kept raw (seconds, shares 0–1, counts), each column saying what it holds, so that the
spreadsheet gets numbers and the PDF gets Vietnamese-formatted text from the same document.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from hub.reports.labels import NO_DATA, fmt_int, fmt_minutes, fmt_num, fmt_pct

Cell = str | int | float | None


class Kind(StrEnum):
    """What a column holds."""

    TEXT = "text"
    INT = "int"
    SHARE = "share"  # 0–1, shown as a percentage
    MINUTES = "minutes"  # seconds, shown as minutes
    NUMBER = "number"  # one decimal
    NUMBER2 = "number2"  # two decimals


@dataclass(frozen=True, slots=True)
class Column:
    """A table column: its Vietnamese title, what it holds, its relative width in the PDF."""

    title: str
    kind: Kind = Kind.TEXT
    width: float = 1.0


def show(value: Cell, kind: Kind) -> str:
    """A cell as the PDF prints it."""
    if value is None:
        return NO_DATA
    if isinstance(value, str):
        return value
    if kind is Kind.INT:
        return fmt_int(value)
    if kind is Kind.SHARE:
        return fmt_pct(value)
    if kind is Kind.MINUTES:
        return fmt_minutes(value).removesuffix(" phút")
    if kind is Kind.NUMBER2:
        return fmt_num(value, 2)
    if kind is Kind.NUMBER:
        return fmt_num(value, 1)
    return str(value)


@dataclass(slots=True)
class Table:
    """Rows under titled columns."""

    title: str
    columns: list[Column]
    rows: list[list[Cell]] = field(default_factory=list)
    main: bool = False  # the table a CSV export holds
    sheet: str | None = None  # XLSX sheet name (the title when absent)


@dataclass(slots=True)
class Chart:
    """Bars per label, one colour per series; an optional reference line (a target)."""

    title: str
    labels: list[str]
    series: list[tuple[str, list[float | None]]]
    kind: Kind = Kind.INT
    reference: tuple[str, float] | None = None
    horizontal: bool = False
    maximum: float | None = None  # fixed top of the axis (100 % for shares)


@dataclass(slots=True)
class Paragraphs:
    """Lines of text under a title; ``bullets`` prefixes each with a dash."""

    title: str | None
    lines: list[str]
    bullets: bool = True


@dataclass(slots=True)
class KeyValues:
    """Pairs of a label and a value with its evidence (the evaluation's figures)."""

    title: str | None
    pairs: list[tuple[str, str]]


Block = Table | Chart | Paragraphs | KeyValues


@dataclass(slots=True)
class Section:
    """A part of the document; ``new_page`` starts it on a new page in the PDF."""

    title: str
    blocks: list[Block] = field(default_factory=list)
    new_page: bool = False
    landscape: bool = False


@dataclass(slots=True)
class Document:
    """A whole report."""

    title: str
    scope: str
    period: str
    province: str
    generated_at: datetime
    sections: list[Section] = field(default_factory=list)
    landscape: bool = False

    def tables(self) -> list[Table]:
        """Every table, in order."""
        return [b for s in self.sections for b in s.blocks if isinstance(b, Table)]

    def charts(self) -> list[Chart]:
        """Every chart, in order."""
        return [b for s in self.sections for b in s.blocks if isinstance(b, Chart)]

    def main_table(self) -> Table | None:
        """The table a CSV export holds: the one marked main, else the first."""
        tables = self.tables()
        return next((t for t in tables if t.main), tables[0] if tables else None)
