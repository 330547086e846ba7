"""PDF export with fpdf2: Vietnamese text in an embedded DejaVu Sans (subset), the unit and the period in the
header of every page, tables that repeat their header across pages, and bar charts drawn as vector graphics.

The font is looked up in ``ONESTOP_REPORT_FONT_DIR``, then Debian's ``fonts-dejavu-core``
(/usr/share/fonts/truetype/dejavu), then the copy matplotlib ships when it is installed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import TableCellFillMode

from hub.reports.document import Chart, Column, Document, KeyValues, Kind, Paragraphs, Section, Table, show
from hub.reports.labels import fmt_int, fmt_num
from protocol.errors import OneStopError

FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts/dejavu")
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189), (140, 86, 75)]
GREY = (110, 110, 110)
# The product as a reader of the report knows it (the dashboard's title).
PRODUCT = "Giám sát Bộ phận Một cửa"


class FontMissingError(OneStopError, FileNotFoundError):
    """No font with Vietnamese glyphs was found."""


def font_dir() -> Path:
    """The folder holding DejaVu Sans and DejaVu Sans Bold.

    Raises:
        FontMissingError: none of the known places has them; the text says how to install them.
    """
    candidates = [os.environ.get("ONESTOP_REPORT_FONT_DIR", ""), *FONT_DIRS]
    try:  # matplotlib, when present, ships DejaVu Sans
        import matplotlib  # type: ignore[import-not-found,unused-ignore]

        candidates.append(str(Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf"))
    except ImportError:
        pass
    for candidate in candidates:
        if candidate and all((Path(candidate) / name).is_file() for name in FONT_FILES):
            return Path(candidate)
    raise FontMissingError(
        "DejaVu Sans not found (needed for Vietnamese text in PDF reports): install Debian's fonts-dejavu-core "
        "(apt-get install fonts-dejavu-core) or set ONESTOP_REPORT_FONT_DIR to a folder holding "
        + " and ".join(FONT_FILES)
    )


class _Pdf(FPDF):
    def __init__(self, document: Document) -> None:
        super().__init__(orientation="L" if document.landscape else "P", unit="mm", format="A4")
        self.document = document
        folder = font_dir()
        self.add_font("DejaVu", "", str(folder / FONT_FILES[0]))
        self.add_font("DejaVu", "B", str(folder / FONT_FILES[1]))
        self.set_auto_page_break(auto=True, margin=15)
        self.set_margins(12, 12, 12)
        self.alias_nb_pages("{total_pages}")
        self.set_title(f"{document.title} – {document.scope} – {document.period}")
        self.set_author(PRODUCT)
        self.set_creation_date(document.generated_at)

    def header(self) -> None:
        d = self.document
        self.set_font("DejaVu", "B", 12)
        self.set_text_color(0, 0, 0)
        self.cell(0, 6, d.title, new_x="LMARGIN", new_y="NEXT")
        self.set_font("DejaVu", "B", 9.5)
        self.cell(0, 5, f"{d.scope} — {d.period}", new_x="LMARGIN", new_y="NEXT")
        self.set_font("DejaVu", "", 7.5)
        self.set_text_color(*GREY)
        self.cell(0, 4, f"Tỉnh {d.province} · lập lúc {d.generated_at:%H:%M %d/%m/%Y}", new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(180, 180, 180)
        self.line(self.l_margin, self.get_y() + 1, self.w - self.r_margin, self.get_y() + 1)
        self.ln(3)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font("DejaVu", "", 7.5)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{PRODUCT} — Trang {self.page_no()}/{{total_pages}}", align="C")
        self.set_text_color(0, 0, 0)

    @property
    def usable(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def room(self, height: float) -> None:
        """Start a new page unless ``height`` mm still fit."""
        if self.get_y() + height > self.h - self.b_margin:
            self.add_page(orientation=_orientation(self))


def _orientation(pdf: FPDF) -> str:
    current = pdf.cur_orientation
    return str(getattr(current, "value", current))


def _section_title(pdf: _Pdf, title: str) -> None:
    pdf.room(14)
    pdf.set_font("DejaVu", "B", 10.5)
    pdf.cell(0, 7, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8.5)


def _paragraphs(pdf: _Pdf, block: Paragraphs) -> None:
    if block.title:
        pdf.room(10)
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(0, 5, block.title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 8.5)
    for line in block.lines:
        pdf.multi_cell(0, 4.3, f"• {line}" if block.bullets else line, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1.5)


def _lines(pdf: _Pdf, width: float, text: str) -> int:
    lines = pdf.multi_cell(width, 4.2, text, dry_run=True, output="LINES")
    return max(1, len(lines))  # type: ignore[arg-type]


def _key_values(pdf: _Pdf, block: KeyValues) -> None:
    if block.title:
        pdf.room(12)
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(0, 5, block.title, new_x="LMARGIN", new_y="NEXT")
    label_width = 56.0
    value_width = pdf.usable - label_width
    for label, value in block.pairs:
        pdf.set_font("DejaVu", "B", 8.2)
        label_lines = _lines(pdf, label_width - 2, label)
        pdf.set_font("DejaVu", "", 8.2)
        value_lines = _lines(pdf, value_width, value)
        pdf.room(4.2 * max(label_lines, value_lines) + 1)
        y = pdf.get_y()
        pdf.set_font("DejaVu", "B", 8.2)
        pdf.multi_cell(label_width - 2, 4.2, label, align="L", new_x="LMARGIN", new_y="NEXT")
        label_end = pdf.get_y()
        pdf.set_xy(pdf.l_margin + label_width, y)
        pdf.set_font("DejaVu", "", 8.2)
        pdf.multi_cell(value_width, 4.2, value, align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_y(max(label_end, pdf.get_y()) + 0.8)
    pdf.ln(1)


def distinctive_labels(labels: Sequence[str]) -> list[str]:
    """The labels without the words they all begin with ("Trung tâm Phục vụ hành chính công phường Kinh Bắc",
    "… tỉnh Bắc Ninh" → "phường Kinh Bắc", "tỉnh Bắc Ninh"); each keeps at least its last word."""
    words = [label.split() for label in labels]
    if len(words) < 2:
        return list(labels)
    shared = 0
    while all(len(w) > shared + 1 for w in words) and len({w[shared] for w in words}) == 1:
        shared += 1
    return [" ".join(w[shared:]) for w in words]


def _chart_labels(pdf: _Pdf, labels: Sequence[str], width: float) -> list[str]:
    """Labels that fit ``width``: when some do not, the words shared by all go first, then a label that is
    still too wide loses its beginning, not its end (where unit names differ)."""
    if all(pdf.get_string_width(label) <= width for label in labels):
        return list(labels)
    return [_fit_tail(pdf, label, width) for label in distinctive_labels(labels)]


def _fit_tail(pdf: _Pdf, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width("…" + text) > width:
        text = text[1:]
    return "…" + text


def _fit(pdf: _Pdf, text: str, width: float) -> str:
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _table(pdf: _Pdf, block: Table) -> None:
    if block.title:
        pdf.room(16)
        pdf.set_font("DejaVu", "B", 9)
        pdf.cell(0, 5, block.title, new_x="LMARGIN", new_y="NEXT")
    if not block.rows:
        pdf.set_font("DejaVu", "", 8.5)
        pdf.cell(0, 5, "(không có số liệu)", new_x="LMARGIN", new_y="NEXT")
        return
    total = sum(c.width for c in block.columns)
    widths = [pdf.usable * c.width / total for c in block.columns]
    size = 7.2 if len(block.columns) > 8 else 8
    pdf.set_font("DejaVu", "", size)
    pdf.set_draw_color(190, 190, 190)
    pdf.set_fill_color(245, 247, 250)
    pdf.set_line_width(0.15)
    aligns = tuple("LEFT" if c.kind is Kind.TEXT else "RIGHT" for c in block.columns)
    with pdf.table(
        col_widths=tuple(widths),
        text_align=aligns,
        line_height=size * 0.5,
        cell_fill_color=(245, 247, 250),
        cell_fill_mode=TableCellFillMode.ROWS,
        headings_style=_headings_style(),
        repeat_headings=1,
        padding=0.8,
        first_row_as_headings=True,
    ) as grid:
        header = grid.row()
        for column in block.columns:
            header.cell(column.title, align="CENTER")
        for values in block.rows:
            row = grid.row()
            for value, column, width in zip(values, block.columns, widths, strict=True):
                text = show(value, column.kind)
                row.cell(text if column.kind is Kind.TEXT else _fit(pdf, text, width - 2))
    pdf.ln(2)


def _headings_style() -> object:
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD", fill_color=(220, 230, 241))


def _axis_max(chart: Chart, values: Sequence[float]) -> float:
    if chart.maximum is not None:
        return chart.maximum
    top = max([*values, chart.reference[1] if chart.reference else 0.0, 0.0])
    if top <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(top))
    for step in (1, 2, 2.5, 5, 10):
        if step * magnitude >= top * 1.05:
            return step * magnitude
    return top * 1.1


def _tick(value: float, kind: Kind) -> str:
    if kind is Kind.SHARE:
        return f"{fmt_num(value * 100, 0)} %"
    if kind is Kind.MINUTES:
        return fmt_num(value / 60, 0)
    if kind is Kind.INT:
        return fmt_int(value)
    return fmt_num(value, 1)


def _legend(pdf: _Pdf, chart: Chart, x: float, y: float) -> None:
    pdf.set_font("DejaVu", "", 7)
    for i, (name, _) in enumerate(chart.series):
        pdf.set_fill_color(*COLOURS[i % len(COLOURS)])
        pdf.rect(x, y + 1, 3, 3, style="F")
        pdf.set_xy(x + 4, y)
        pdf.cell(pdf.get_string_width(name) + 2, 5, name)
        x += pdf.get_string_width(name) + 10
    if chart.reference:
        pdf.set_draw_color(200, 30, 30)
        pdf.set_dash_pattern(dash=1.2, gap=0.8)
        pdf.line(x, y + 2.5, x + 6, y + 2.5)
        pdf.set_dash_pattern()
        pdf.set_xy(x + 7, y)
        pdf.cell(0, 5, chart.reference[0])


def _chart(pdf: _Pdf, chart: Chart) -> None:
    values = [v for _, series in chart.series for v in series if v is not None]
    if chart.horizontal:
        _horizontal_chart(pdf, chart, values)
        return
    height = 52.0
    pdf.room(height + 22)
    pdf.set_font("DejaVu", "B", 9)
    pdf.cell(0, 5, chart.title, new_x="LMARGIN", new_y="NEXT")
    top_y = pdf.get_y() + 2
    left = pdf.l_margin + 14
    width = pdf.usable - 16
    top = _axis_max(chart, values)
    pdf.set_font("DejaVu", "", 6.5)
    pdf.set_draw_color(215, 215, 215)
    for i in range(5):
        y = top_y + height - height * i / 4
        pdf.line(left, y, left + width, y)
        pdf.set_xy(pdf.l_margin, y - 2)
        pdf.cell(13, 4, _tick(top * i / 4, chart.kind), align="R")
    count = max(1, len(chart.labels))
    slot = width / count
    bar = slot * 0.8 / max(1, len(chart.series))
    every = max(1, math.ceil(count / 16))
    labels = _chart_labels(pdf, chart.labels, slot * every)
    for i, label in enumerate(labels):
        for s, (_, series) in enumerate(chart.series):
            value = series[i]
            if value is None:
                continue
            h = height * min(1.0, max(0.0, value / top))
            pdf.set_fill_color(*COLOURS[s % len(COLOURS)])
            pdf.rect(left + i * slot + slot * 0.1 + s * bar, top_y + height - h, bar, h, style="F")
        if i % every == 0:
            pdf.set_xy(left + i * slot, top_y + height + 0.5)
            pdf.cell(slot * every, 3.5, label, align="L" if every > 1 else "C")
    if chart.reference:
        y = top_y + height - height * min(1.0, chart.reference[1] / top)
        pdf.set_draw_color(200, 30, 30)
        pdf.set_dash_pattern(dash=1.2, gap=0.8)
        pdf.line(left, y, left + width, y)
        pdf.set_dash_pattern()
    _legend(pdf, chart, left, top_y + height + 4.5)
    pdf.set_y(top_y + height + 11)


def _horizontal_chart(pdf: _Pdf, chart: Chart, values: Sequence[float]) -> None:
    row = 4.2 if len(chart.series) == 1 else 2.6 * len(chart.series) + 1
    label_width = 62.0
    pdf.room(min(60.0, row * len(chart.labels)) + 16)
    pdf.set_font("DejaVu", "B", 9)
    pdf.cell(0, 5, chart.title, new_x="LMARGIN", new_y="NEXT")
    top = _axis_max(chart, values)
    left = pdf.l_margin + label_width
    width = pdf.usable - label_width - 14
    pdf.set_font("DejaVu", "", 6.8)
    labels = _chart_labels(pdf, chart.labels, label_width - 2)
    for i, label in enumerate(labels):
        pdf.room(row + 8)
        y = pdf.get_y()
        pdf.set_font("DejaVu", "", 6.8)
        pdf.set_xy(pdf.l_margin, y)
        pdf.cell(label_width - 1, row, label, align="R")
        bar = (row - 0.8) / len(chart.series)
        for s, (_, series) in enumerate(chart.series):
            value = series[i]
            if value is None:
                continue
            w = width * min(1.0, max(0.0, value / top))
            pdf.set_fill_color(*COLOURS[s % len(COLOURS)])
            pdf.rect(left, y + 0.4 + s * bar, w, bar, style="F")
            pdf.set_xy(left + w + 0.5, y + s * bar)
            pdf.set_font("DejaVu", "", 5.8)
            pdf.cell(12, bar + 0.4, _tick(value, chart.kind))
        if chart.reference:
            x = left + width * min(1.0, chart.reference[1] / top)
            pdf.set_draw_color(200, 30, 30)
            pdf.line(x, y, x, y + row)
        pdf.set_y(y + row)
    _legend(pdf, chart, left, pdf.get_y() + 1)
    pdf.set_y(pdf.get_y() + 8)


def _section(pdf: _Pdf, section: Section, first: bool) -> None:
    orientation = "L" if section.landscape or pdf.document.landscape else "P"
    if first or section.new_page or orientation != _orientation(pdf):
        pdf.add_page(orientation=orientation)
    if section.title:
        _section_title(pdf, section.title)
    for block in section.blocks:
        if isinstance(block, Paragraphs):
            _paragraphs(pdf, block)
        elif isinstance(block, KeyValues):
            _key_values(pdf, block)
        elif isinstance(block, Table):
            _table(pdf, block)
        elif isinstance(block, Chart):
            _chart(pdf, block)


def to_pdf(document: Document) -> bytes:
    """``document`` as PDF bytes.

    Raises:
        FontMissingError: no DejaVu Sans to write Vietnamese with.
    """
    pdf = _Pdf(document)
    for index, section in enumerate(document.sections):
        _section(pdf, section, first=index == 0)
    if not document.sections:
        pdf.add_page()
    return bytes(pdf.output())


def column_widths(columns: Sequence[Column]) -> list[float]:
    """Relative widths of columns (for callers that lay out their own tables)."""
    return [c.width for c in columns]
