"""The Decree 335 pack as a document (CSV, XLSX, PDF): rules and conversions, a summary per unit with the
quota check, then one page per officer with the monthly series, the year's total and its parts."""

from __future__ import annotations

from datetime import datetime

from hub.reports.decree335 import Decree335Pack, MonthResult, OfficerYear, UnitSummary
from hub.reports.document import Chart, Column, Document, KeyValues, Kind, Paragraphs, Section, Table
from hub.reports.evaluation import CLASS_NAMES, Classification
from hub.reports.evaluation_entries import EntryKind
from hub.reports.labels import LEVEL_NAMES, fmt_num, fmt_pct

MONTH_COLUMNS = (
    Column("Tháng", Kind.TEXT, 0.7),
    Column("Ngày làm việc", Kind.NUMBER, 0.8),
    Column("Được giao", Kind.NUMBER2, 0.8),
    Column("Sản phẩm", Kind.INT, 0.8),
    Column("Sai sót lớn (miễn)", Kind.TEXT, 0.9),
    Column("Chậm (miễn)", Kind.TEXT, 0.8),
    Column("Hài lòng", Kind.TEXT, 0.8),
    Column("Số lượng", Kind.SHARE, 0.8),
    Column("Chất lượng", Kind.SHARE, 0.8),
    Column("Tiến độ", Kind.SHARE, 0.8),
    Column("Nhiệm vụ (HT)", Kind.NUMBER2, 0.9),
    Column("Chung (NN)", Kind.NUMBER2, 0.9),
    Column("Tổng", Kind.NUMBER2, 0.7),
)
SUMMARY_COLUMNS = (
    Column("Đơn vị", Kind.TEXT, 2.2),
    Column("Họ và tên", Kind.TEXT, 1.5),
    Column("Chức vụ", Kind.TEXT, 1.4),
    Column("Mã cán bộ", Kind.TEXT, 0.8),
    Column("Tiêu chí chung", Kind.NUMBER2, 0.8),
    Column("Nhiệm vụ", Kind.NUMBER2, 0.8),
    Column("Tổng điểm", Kind.NUMBER2, 0.8),
    Column("Đề xuất", Kind.TEXT, 1.5),
    Column("Giới hạn 20 %", Kind.TEXT, 1.6),
)


def _month_row(o: OfficerYear, index: int) -> list[str | int | float | None]:
    m = o.months[index]
    i = m.inputs
    satisfied = f"{i.satisfied}/{i.ratings}" if i.ratings else "—"
    return [
        f"{index + 1:02d}",
        m.days_worked,
        m.assigned,
        i.products,
        f"{i.errors} ({i.errors_excused})",
        f"{i.late} ({i.late_excused})",
        satisfied,
        m.quantity,
        m.quality,
        m.progress,
        m.task,
        m.general,
        m.total,
    ]


def _arithmetic(m: MonthResult, deduction: tuple[float, float]) -> str:
    """A month's arithmetic on one short line (the full wording is in the JSON's ``evidence``)."""
    i = m.inputs
    errors = max(0, i.errors - i.errors_excused)
    late = max(0, i.late - i.late_excused)
    assigned = fmt_num(m.assigned, 2)
    return (
        f"{i.month[5:]}: SL {i.products}/{assigned} → {fmt_pct(m.quantity)}; CL ({i.products} −"
        f" {fmt_num(deduction[0], 2)}×{errors})/{assigned} × {fmt_num(m.satisfaction_factor, 3)} →"
        f" {fmt_pct(m.quality)}; TĐ ({i.products} − {fmt_num(deduction[1], 2)}×{late})/{assigned} →"
        f" {fmt_pct(m.progress)}; nhiệm vụ {fmt_num(m.task, 2)}"
    )


def _officer_section(o: OfficerYear, pack: Decree335Pack, deduction: tuple[float, float]) -> Section:
    section = Section(f"{o.name} ({o.staff}) — {o.position} — {o.site_name}", new_page=True, landscape=True)
    section.blocks.append(
        KeyValues(
            None,
            [
                ("Họ và tên, chức vụ", f"{o.name}, {o.position}"),
                ("Đơn vị cuối năm", f"{o.site_name} ({LEVEL_NAMES.get(o.level, o.level)})"),
                ("Nhóm nhiệm vụ", o.group),
                ("Quy tắc áp dụng", pack.profile.name),
                ("Tiêu chí chung (người nhập)", fmt_num(o.general, 2)),
                ("Kết quả thực hiện nhiệm vụ (hệ thống)", fmt_num(o.task, 2)),
                ("Tổng điểm năm", fmt_num(o.total, 2)),
                ("Đề xuất xếp loại", o.proposal_name),
                *([("Giới hạn 20 % 'xuất sắc'", o.quota_note)] if o.quota_note else []),
            ],
        )
    )
    section.blocks.append(
        Paragraphs(
            None,
            ["HT: điểm do hệ thống tính từ số liệu; NN: điểm do người nhập (giám sát), có chữ ký bên dưới."],
            bullets=False,
        )
    )
    section.blocks.append(
        Table(
            f"Theo dõi hằng tháng — {o.name}",
            list(MONTH_COLUMNS),
            [_month_row(o, k) for k in range(len(o.months))],
            sheet=f"{o.staff}"[:31],
        )
    )
    quarters = o.quarters()
    section.blocks.append(
        Table(
            "Theo quý",
            [
                Column("Quý", Kind.TEXT),
                Column("Nhiệm vụ", Kind.NUMBER2),
                Column("Tiêu chí chung", Kind.NUMBER2),
                Column("Tổng", Kind.NUMBER2),
            ],
            [[f"Quý {q['quarter']}", q["task_points"], q["general_points"], q["total_points"]] for q in quarters],
        )
    )
    section.blocks.append(
        Chart(
            f"Điểm theo tháng — {o.name}",
            [f"{k + 1:02d}" for k in range(len(o.months))],
            [
                ("Nhiệm vụ (hệ thống)", [m.task for m in o.months]),
                ("Tiêu chí chung (người nhập)", [m.general for m in o.months]),
            ],
            kind=Kind.NUMBER,
            maximum=70.0,
        )
    )
    section.blocks.append(Paragraphs("Lý do đề xuất", o.reasons or ["—"]))
    signed = [
        (
            f"{e.label} {pack.unit_names.get(e.site or '', e.site)} từ ngày {e.day:%d/%m/%Y}"
            if e.kind is EntryKind.TRANSFER and e.day
            else f"{e.label}, tháng {e.month}: {fmt_num(e.value, 2)}"
        )
        + f" — nhập bởi {e.actor}, {e.at:%d/%m/%Y %H:%M} UTC"
        + (f"; ghi chú: {e.note}" if e.note else "")
        for e in o.entries
    ]
    section.blocks.append(Paragraphs("Điểm và điều chỉnh do người nhập (có chữ ký)", signed or ["Không có."]))
    evidence = [_arithmetic(m, deduction) for m in o.months if m.task is not None]
    section.blocks.append(
        Paragraphs("Phép tính từng tháng (SL số lượng, CL chất lượng, TĐ tiến độ)", evidence or ["—"])
    )
    return section


def _unit_section(unit: UnitSummary) -> list[Table | KeyValues]:
    counts = unit.counts()
    blocks: list[Table | KeyValues] = [
        KeyValues(
            f"{unit.name} ({LEVEL_NAMES.get(unit.level, unit.level)})",
            [(CLASS_NAMES[Classification(k)], str(v)) for k, v in counts.items()],
        )
    ]
    for check in unit.checks:
        if not check.ranked:
            continue
        rows: list[list[str | int | float | None]] = [
            [name, staff, total, status] for staff, name, total, status in check.ranked
        ]
        blocks.append(
            Table(
                f"{check.scope} — xuất sắc {check.excellent}, tốt {check.good}, giới hạn {check.cap},"
                f" vượt {check.above}",
                [
                    Column("Họ và tên", Kind.TEXT, 1.5),
                    Column("Mã cán bộ", Kind.TEXT, 0.8),
                    Column("Tổng điểm", Kind.NUMBER2, 0.8),
                    Column("Đề xuất cho Hội đồng", Kind.TEXT, 2.0),
                ],
                rows,
            )
        )
    return blocks


def decree335_document(pack: Decree335Pack, generated_at: datetime, scope: str) -> Document:
    """The whole pack."""
    document = Document(
        title="Hồ sơ đánh giá, xếp loại chất lượng công chức Bộ phận Một cửa",
        scope=f"{scope} · {pack.profile.name}",
        period=pack.period.label,
        province=pack.province,
        generated_at=generated_at,
    )
    thresholds = pack.profile.thresholds
    assert thresholds is not None
    rules = Section("Căn cứ và cách quy đổi")
    rules.blocks.append(Paragraphs("Căn cứ", pack.basis))
    rules.blocks.append(Paragraphs("Quy đổi và trọng số (cấu hình)", pack.conversions))
    rules.blocks.append(
        KeyValues(
            "Quy tắc áp dụng cho kỳ",
            [
                ("Tên", pack.profile.name),
                (
                    "Ngưỡng điểm",
                    f"xuất sắc ≥ {fmt_num(thresholds.excellent, 0)}; tốt ≥ {fmt_num(thresholds.good, 0)};"
                    f" hoàn thành ≥ {fmt_num(thresholds.completed, 0)}",
                ),
                ("Nguồn điểm", "Nhiệm vụ: hệ thống tính từ số liệu; tiêu chí chung và điều chỉnh: người nhập."),
            ],
        )
    )
    document.sections.append(rules)
    summary_rows = [
        [
            o.site_name,
            o.name,
            o.position,
            o.staff,
            o.general,
            o.task,
            o.total,
            o.proposal_name,
            o.quota_note or "",
        ]
        for o in pack.officers
    ]
    units = Section("Tổng hợp theo đơn vị và kiểm tra giới hạn 20 %", new_page=True, landscape=True)
    units.blocks.append(Table("Tổng hợp", list(SUMMARY_COLUMNS), summary_rows, main=True))
    for unit in pack.units:
        units.blocks.extend(_unit_section(unit))
    document.sections.append(units)
    deduction = (pack.error_deduction, pack.late_deduction)
    for o in pack.officers:
        document.sections.append(_officer_section(o, pack, deduction))
    return document
