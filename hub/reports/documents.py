"""Each report as a document (tables, charts, text) ready for CSV, XLSX and PDF."""

from __future__ import annotations

from datetime import datetime

from hub.reports.aggregate import GroupBy, GroupFigures, PeriodFigures
from hub.reports.decision766 import FULL_POINTS_SHARE, UnitPoints
from hub.reports.document import Cell, Chart, Column, Document, KeyValues, Kind, Paragraphs, Section, Table
from hub.reports.evaluation import (
    CLASS_NAMES,
    COMPONENT_NAMES,
    Classification,
    EvaluationPack,
    OfficerEvaluation,
    describe_times,
)
from hub.reports.forecast import MODEL_NAMES, Forecast
from hub.reports.labels import (
    BY_NAMES,
    LEVEL_NAMES,
    SENTIMENT_NAMES,
    fmt_int,
    fmt_interval,
    fmt_minutes,
    fmt_num,
    fmt_pct,
)
from hub.reports.planning import StaffingPlan

WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")
BASIS_NAMES = {"visit": "theo lần đến", "transaction": "theo lượt giao dịch", "mixed": "hỗn hợp (theo ngày)"}


# -- period figures ------------------------------------------------------------------------------------------

FIGURE_COLUMNS = [
    Column("Tên", Kind.TEXT, 3.2),
    Column("Lượt đến", Kind.INT, 1.0),
    Column("Giao dịch", Kind.INT, 1.0),
    Column("Vắng mặt", Kind.INT, 0.9),
    Column("Chờ TB (phút)", Kind.MINUTES, 0.9),
    Column("Trung vị", Kind.MINUTES, 0.8),
    Column("P90", Kind.MINUTES, 0.8),
    Column("Chờ đạt CT", Kind.SHARE, 0.9),
    Column("Xử lý TB (phút)", Kind.MINUTES, 0.9),
    Column("Xử lý đạt CT", Kind.SHARE, 0.9),
    Column("Đánh giá", Kind.INT, 0.9),
    Column("Hài lòng", Kind.SHARE, 0.9),
    Column("Điểm 766", Kind.NUMBER2, 0.8),
    Column("Nhận xét +/−", Kind.TEXT, 1.0),
    Column("Cảm xúc (số đo)", Kind.TEXT, 1.3),
]


def _figure_row(g: GroupFigures) -> list[Cell]:
    comments = g.comments
    emotion = f"{fmt_num(g.mean_valence, 2)} ({fmt_int(g.emotions)})" if g.emotions else "—"
    return [
        g.name,
        g.visits,
        g.transactions,
        g.no_shows,
        g.wait.mean,
        g.wait.median,
        g.wait.p90,
        g.wait.within_share,
        g.service.mean,
        g.service.within_share,
        g.ratings,
        g.satisfaction_share,
        g.points_766,
        f"{fmt_int(comments['positive'])}/{fmt_int(comments['negative'])}",
        emotion,
    ]


def _summary_pairs(g: GroupFigures) -> list[tuple[str, str]]:
    pairs = [
        ("Lượt đến (được phục vụ)", fmt_int(g.visits) if g.visits is not None else "—"),
        ("Lượt giao dịch", fmt_int(g.transactions)),
        ("Vắng mặt khi gọi", fmt_int(g.no_shows)),
    ]
    if g.waiting:
        pairs.append(("Chưa được gọi (bỏ về hoặc còn chờ)", fmt_int(g.waiting)))
    basis = BASIS_NAMES.get(g.wait_basis or "", "—")
    pairs += [
        (f"Thời gian chờ ({basis})", describe_times(g.wait)),
        ("Thời gian tiếp nhận, xử lý", describe_times(g.service)),
        (
            "Mức độ hài lòng",
            f"{fmt_pct(g.satisfaction_share)} ({fmt_int(g.satisfied)}/{fmt_int(g.ratings)} đánh giá hợp lệ; khoảng"
            f" tin cậy 95 %: {fmt_interval(g.satisfaction_interval)}); {fmt_int(g.ratings_not_counted)} đánh giá"
            " bị gắn cờ không tính",
        ),
        (
            "Điểm hài lòng theo QĐ 766",
            f"{fmt_num(g.points_766, 2)}/6" + (" — không có đánh giá nào" if g.ratings == 0 else ""),
        ),
        (
            "Nhận xét của người dân",
            ", ".join(f"{fmt_int(g.comments[k])} {SENTIMENT_NAMES[k]}" for k in ("positive", "neutral", "negative")),
        ),
        (
            "Cảm xúc (camera, tham khảo)",
            f"trung bình {fmt_num(g.mean_valence, 2)} trên thang −1…1, {fmt_int(g.emotions)} lượt đo"
            if g.emotions
            else "không có số đo",
        ),
    ]
    return pairs


def figures_document(report: PeriodFigures, generated_at: datetime) -> Document:
    """The period report: summary, charts over the period, one row per group, targets and definitions."""
    total = report.total
    document = Document(
        title=f"Báo cáo kết quả Bộ phận Một cửa theo {BY_NAMES[report.by.value]}",
        scope=report.scope,
        period=report.period.label,
        province=report.province,
        generated_at=generated_at,
        landscape=True,
    )
    summary = Section("Tổng hợp", [KeyValues(None, _summary_pairs(total))])
    document.sections.append(summary)
    series = total.series
    if series:
        labels = [p.label for p in series]
        charts = Section("Diễn biến trong kỳ")
        charts.blocks.append(
            Chart("Lượt giao dịch", labels, [("Giao dịch", [float(p.transactions) for p in series])], Kind.INT)
        )
        charts.blocks.append(
            Chart(
                "Tỷ lệ chờ trong chỉ tiêu và tỷ lệ hài lòng",
                labels,
                [
                    ("Chờ đạt chỉ tiêu", [p.within_share for p in series]),
                    ("Hài lòng", [p.satisfied / p.ratings if p.ratings else None for p in series]),
                ],
                Kind.SHARE,
                reference=("Mức hài lòng đủ 6 điểm QĐ 766 (90 %)", FULL_POINTS_SHARE),
                maximum=1.0,
            )
        )
        document.sections.append(charts)
    if report.by is not GroupBy.PROVINCE and report.groups:
        section = Section(f"Theo {BY_NAMES[report.by.value]}", new_page=True)
        if len(report.groups) <= 60:
            section.blocks.append(
                Chart(
                    f"Tỷ lệ chờ trong chỉ tiêu và hài lòng theo {BY_NAMES[report.by.value]}",
                    [g.name for g in report.groups],
                    [
                        ("Chờ đạt chỉ tiêu", [g.wait.within_share for g in report.groups]),
                        ("Hài lòng", [g.satisfaction_share for g in report.groups]),
                    ],
                    Kind.SHARE,
                    reference=("90 %", FULL_POINTS_SHARE),
                    horizontal=True,
                    maximum=1.0,
                )
            )
        rows: list[list[Cell]] = [_figure_row(total)] + [_figure_row(g) for g in report.groups]
        section.blocks.append(
            Table(f"Số liệu theo {BY_NAMES[report.by.value]}", list(FIGURE_COLUMNS), rows, main=True, sheet="Số liệu")
        )
        document.sections.append(section)
    else:
        document.sections[0].blocks.append(
            Table("Số liệu", list(FIGURE_COLUMNS), [_figure_row(total)], main=True, sheet="Số liệu")
        )
    document.sections.append(
        Section(
            "Chỉ tiêu và cách tính",
            [Paragraphs("Chỉ tiêu có hiệu lực trong kỳ", report.targets), Paragraphs("Cách tính", report.notes)],
        )
    )
    return document


# -- Decision 766 -------------------------------------------------------------------------------------------


def decision766_document(
    points: list[UnitPoints], province: str, period: str, generated_at: datetime, scope: str
) -> Document:
    """Points per unit with the warnings for units without ratings."""
    document = Document(
        title="Điểm mức độ hài lòng theo Quyết định 766/QĐ-TTg",
        scope=scope,
        period=period,
        province=province,
        generated_at=generated_at,
    )
    warnings = [f"{p.name}: {p.warning}" for p in points if p.warning]
    section = Section("Điểm theo đơn vị")
    section.blocks.append(
        Paragraphs(
            None,
            [
                "Điểm = 6 × min(1; tỷ lệ hài lòng ÷ 90 %); đơn vị không có đánh giá nào được 0 điểm. Chỉ tính đánh"
                " giá hợp lệ; hài lòng là mức từ ngưỡng cấu hình trở lên.",
            ],
            bullets=False,
        )
    )
    if warnings:
        section.blocks.append(Paragraphs("Cảnh báo: đơn vị không có đánh giá", warnings))
    if len(points) <= 60:
        section.blocks.append(
            Chart(
                "Điểm hài lòng (tối đa 6)",
                [p.name for p in points],
                [("Điểm", [p.points for p in points])],
                Kind.NUMBER2,
                horizontal=True,
                maximum=6.0,
            )
        )
    section.blocks.append(
        Table(
            "Điểm theo đơn vị",
            [
                Column("Đơn vị", Kind.TEXT, 4),
                Column("Cấp", Kind.TEXT, 1.2),
                Column("Giao dịch", Kind.INT),
                Column("Đánh giá", Kind.INT),
                Column("Hài lòng", Kind.INT),
                Column("Tỷ lệ hài lòng", Kind.SHARE),
                Column("Điểm", Kind.NUMBER2),
                Column("Cảnh báo", Kind.TEXT, 2.5),
            ],
            [
                [
                    p.name,
                    LEVEL_NAMES.get(p.level, p.level),
                    p.transactions,
                    p.ratings,
                    p.satisfied,
                    p.share,
                    p.points,
                    p.warning or "",
                ]
                for p in points
            ],
            main=True,
        )
    )
    document.sections.append(section)
    return document


# -- evaluation -----------------------------------------------------------------------------------------------

SUMMARY_COLUMNS = [
    Column("Cán bộ", Kind.TEXT, 1.1),
    Column("Đơn vị", Kind.TEXT, 2.6),
    Column("Lĩnh vực chính", Kind.TEXT, 1.5),
    Column("Hồ sơ", Kind.INT, 0.8),
    Column("Định mức", Kind.INT, 0.8),
    Column("Chờ đạt CT", Kind.SHARE, 0.8),
    Column("Xử lý đạt CT", Kind.SHARE, 0.8),
    Column("Đánh giá", Kind.INT, 0.8),
    Column("Hài lòng", Kind.SHARE, 0.8),
    Column("Cận dưới 95 %", Kind.SHARE, 0.8),
    Column("Điểm", Kind.NUMBER, 0.7),
    Column("Hạng trong lĩnh vực", Kind.TEXT, 0.9),
    Column("Đề xuất", Kind.TEXT, 2.0),
]


def _summary_row(o: OfficerEvaluation) -> list[Cell]:
    interval = o.satisfaction_interval
    rank = f"{o.rank_in_field}/{o.ranked_in_field}" if o.rank_in_field else "—"
    return [
        o.staff,
        o.site_name,
        o.service_name,
        o.received,
        o.norm,
        o.wait.within_share,
        o.handling.within_share,
        o.ratings,
        o.satisfaction_share,
        interval[0] if interval else None,
        o.score,
        rank,
        o.proposal_name,
    ]


def _officer_section(o: OfficerEvaluation, pack: EvaluationPack) -> Section:
    section = Section(f"Cán bộ {o.staff} — {o.site_name}", new_page=True)
    mix = ", ".join(
        f"{pack.services.get(code, code or '(không rõ)')}: {fmt_int(count)}"
        for code, count in sorted(o.service_mix.items(), key=lambda item: -item[1])
    )
    interval = o.satisfaction_interval
    section.blocks.append(
        KeyValues(
            None,
            [
                (
                    "Đơn vị, cấp",
                    f"{o.site_name} ({o.level})" + (f"; làm việc tại {o.sites} đơn vị" if o.sites > 1 else ""),
                ),
                (
                    "Lĩnh vực chính (nhóm so sánh)",
                    f"{o.service_name}; {o.peers} cán bộ khác cùng lĩnh vực; cơ cấu hồ sơ: {mix}",
                ),
                (
                    "Thời gian tiếp nhận hồ sơ",
                    f"{o.first_day:%d/%m/%Y} – {o.last_day:%d/%m/%Y} (ngày tiếp nhận đầu tiên và cuối cùng)"
                    if o.first_day and o.last_day
                    else "—",
                ),
                (
                    "Hồ sơ tiếp nhận",
                    f"{fmt_int(o.received)} (định mức {fmt_num(o.norm, 0)}–{fmt_num(o.norm_max, 0)}); vắng mặt khi gọi:"
                    f" {fmt_int(o.no_shows)}",
                ),
                ("Thời gian chờ của người dân", describe_times(o.wait)),
                ("Thời gian tiếp nhận, xử lý", describe_times(o.handling)),
                (
                    "Mức độ hài lòng",
                    f"{fmt_pct(o.satisfaction_share)} ({fmt_int(o.satisfied)}/{fmt_int(o.ratings)} đánh giá hợp lệ),"
                    f" khoảng tin cậy 95 %: {fmt_interval(interval)}; {fmt_int(o.ratings_not_counted)} đánh giá bị gắn"
                    " cờ không tính",
                ),
                (
                    "Nhận xét",
                    ", ".join(
                        f"{fmt_int(o.comments[k])} {SENTIMENT_NAMES[k]}" for k in ("positive", "neutral", "negative")
                    ),
                ),
                (
                    "Cảm xúc người dân (tham khảo)",
                    (
                        f"trung bình {fmt_num(o.mean_valence, 2)} (thang −1…1) trên {fmt_int(o.emotions)} lượt đo"
                        if o.emotions
                        else "không có số đo"
                    )
                    + "; trọng số trong đề xuất: "
                    + fmt_num(pack.weights["emotion"], 2)
                    + ". Xem lưu ý về cảm xúc.",
                ),
            ],
        )
    )
    section.blocks.append(
        Chart(
            "Điểm thành phần (0–100) và ngưỡng 'Hoàn thành tốt'",
            [c.label for c in o.components if c.weight > 0],
            [("Điểm", [c.score for c in o.components if c.weight > 0])],
            Kind.NUMBER,
            reference=(f"Ngưỡng 'Hoàn thành tốt' ({fmt_num(pack.thresholds['good'], 0)})", pack.thresholds["good"]),
            horizontal=True,
            maximum=100.0,
        )
    )
    section.blocks.append(
        KeyValues(
            "Điểm thành phần và chứng cứ",
            [
                (
                    f"{c.label} (trọng số {fmt_num(c.weight, 2)})",
                    f"{fmt_num(c.score, 1) if c.score is not None else 'không chấm'} — {c.evidence}",
                )
                for c in o.components
            ],
        )
    )
    rank = (
        f"; hạng {o.rank_in_field}/{o.ranked_in_field} trong lĩnh vực {o.service_name}"
        if o.rank_in_field
        else "; không xếp hạng (chưa đủ đánh giá hoặc hồ sơ)"
    )
    section.blocks.append(
        KeyValues(
            "Đề xuất",
            [
                ("Điểm tổng hợp", f"{fmt_num(o.score, 1)}/100{rank}" if o.score is not None else "—"),
                ("Đề xuất xếp loại (tham khảo)", o.proposal_name),
                *[("Lưu ý", reason) for reason in o.reasons],
            ],
        )
    )
    return section


def evaluation_document(pack: EvaluationPack, generated_at: datetime, scope: str) -> Document:
    """The pack: rules and weights, the summary of every officer, then one page per officer."""
    document = Document(
        title="Hồ sơ minh chứng đánh giá cán bộ Bộ phận Một cửa",
        scope=scope,
        period=pack.period.label,
        province=pack.province,
        generated_at=generated_at,
    )
    weights = pack.weights
    counts = {c: sum(1 for o in pack.officers if o.proposal is c) for c in Classification}
    undecided = sum(1 for o in pack.officers if o.proposal is None)
    rules = Section("Nguyên tắc đánh giá")
    rules.blocks.append(Paragraphs("Nguyên tắc công bằng", pack.rules))
    rules.blocks.append(
        KeyValues(
            "Trọng số và ngưỡng (cấu hình)",
            [
                *[(COMPONENT_NAMES[name], fmt_num(weight, 2)) for name, weight in weights.items()],
                (
                    "Ngưỡng điểm",
                    f"xuất sắc ≥ {fmt_num(pack.thresholds['excellent'], 0)};"
                    f" tốt ≥ {fmt_num(pack.thresholds['good'], 0)};"
                    f" hoàn thành ≥ {fmt_num(pack.thresholds['completed'], 0)}",
                ),
                ("Số đánh giá tối thiểu để chấm hài lòng", fmt_int(pack.min_ratings)),
                ("Số hồ sơ tối thiểu để đề xuất", fmt_int(pack.min_transactions)),
            ],
        )
    )
    rules.blocks.append(Paragraphs("Lưu ý về cảm xúc của người dân", [pack.emotion_caveat], bullets=False))
    rules.blocks.append(Paragraphs("Lưu ý về nhận xét", [pack.sentiment_caveat], bullets=False))
    rules.blocks.append(Paragraphs("Chỉ tiêu có hiệu lực trong kỳ", pack.targets))
    rules.blocks.append(
        KeyValues(
            "Kết quả đề xuất",
            [
                *[(CLASS_NAMES[c], fmt_int(n)) for c, n in counts.items()],
                ("Chưa đủ dữ liệu để đề xuất", fmt_int(undecided)),
            ],
        )
    )
    document.sections.append(rules)
    document.sections.append(
        Section(
            "Tổng hợp theo cán bộ",
            [Table("Tổng hợp", list(SUMMARY_COLUMNS), [_summary_row(o) for o in pack.officers], main=True)],
            new_page=True,
            landscape=True,
        )
    )
    for o in pack.officers:
        document.sections.append(_officer_section(o, pack))
    return document


# -- forecast and staffing -----------------------------------------------------------------------------------


def _floats(values: list[int]) -> list[float | None]:
    return [float(v) for v in values]


def forecast_document(
    forecasts: list[Forecast], services: dict[str, str], province: str, scope: str, generated_at: datetime
) -> Document:
    """Arrivals per hour for the coming days per field, with each model's back-test error."""
    first_day = forecasts[0].days[0] if forecasts else None
    last_day = forecasts[0].days[-1] if forecasts else None
    period = f"Từ {first_day:%d/%m/%Y} đến {last_day:%d/%m/%Y}" if first_day and last_day else "—"
    document = Document("Dự báo lượt người dân đến theo giờ", scope, period, province, generated_at, landscape=True)
    errors = Table(
        "Sai số kiểm định ngược (các tuần gần nhất)",
        [
            Column("Lĩnh vực", Kind.TEXT, 2),
            Column("Mô hình", Kind.TEXT, 3),
            Column("WAPE", Kind.SHARE),
            Column("MAE (lượt/giờ)", Kind.NUMBER2),
            Column("Số tuần", Kind.INT),
            Column("Chọn", Kind.TEXT, 0.6),
        ],
    )
    main = Table("Dự báo", [Column("Lĩnh vực", Kind.TEXT, 2), Column("Ngày", Kind.TEXT, 1.2)], main=True)
    section = Section("Dự báo theo lĩnh vực")
    for f in forecasts:
        name = services.get(f.service or "", f.service or "(không rõ)")
        first, last = f.hours
        if not main.rows:
            main.columns += [Column(f"{h}h", Kind.NUMBER) for h in range(first, last + 1)]
            main.columns.append(Column("Cả ngày", Kind.NUMBER))
        for b in f.backtests:
            errors.rows.append([name, MODEL_NAMES[b.model], b.wape, b.mae, b.weeks, "✓" if b.model == f.model else ""])
        for i, day in enumerate(f.days):
            hours = [float(f.arrivals[i, h]) for h in range(first, last + 1)]
            main.rows.append([name, f"{WEEKDAYS[day.weekday()]} {day:%d/%m}", *hours, sum(hours)])
        section.blocks.append(
            Chart(
                f"{name}: lượt đến dự báo theo giờ, {f.days[0]:%d/%m/%Y} ({MODEL_NAMES[f.model]}; WAPE"
                f" {fmt_pct(f.chosen.wape)})",
                [f"{h}h" for h in range(first, last + 1)],
                [("Lượt đến", [float(f.arrivals[0, h]) for h in range(first, last + 1)])],
                Kind.NUMBER,
            )
        )
    section.blocks += [errors, main]
    section.blocks.append(
        Paragraphs(
            "Cách dự báo",
            [
                "Mô hình cơ sở: cùng giờ của tuần trước. Các mô hình khác: trung bình cùng giờ các tuần; trung bình có"
                " trọng số (tuần gần nặng hơn); tổng ngày × phân bố theo giờ.",
                "Mỗi mô hình được kiểm định ngược trên các tuần gần nhất (dự báo từng tuần từ số liệu trước nó); chọn"
                " mô hình có WAPE nhỏ nhất (tổng sai số tuyệt đối ÷ tổng lượt thực tế, trong giờ làm việc).",
                "Mô hình không biết ngày lễ, Tết.",
            ],
        )
    )
    document.sections.append(section)
    return document


def staffing_document(plan: StaffingPlan, province: str, generated_at: datetime) -> Document:
    """Desks to open per hour and field, with the Erlang C figures and its assumptions."""
    document = Document(
        "Số quầy cần mở theo giờ (mô hình Erlang C)",
        plan.site_name,
        f"Ngày {plan.day:%d/%m/%Y}",
        province,
        generated_at,
        landscape=True,
    )
    first, last = plan.hours
    hours = list(range(first, last + 1))
    per_hour = plan.desks_per_hour()
    head = Section("Kết luận")
    head.blocks.append(
        KeyValues(
            None,
            [
                ("Chỉ tiêu", plan.target_text),
                ("Xác suất chờ trong chỉ tiêu cần đạt", fmt_pct(plan.probability, 0)),
                ("Số quầy cần mở nhiều nhất", f"{max(per_hour.values(), default=0)} (cộng các lĩnh vực)"),
            ],
        )
    )
    head.blocks.append(
        Chart(
            "Số quầy cần mở theo giờ",
            [f"{h}h" for h in hours],
            [(p.service_name, _floats([p.hours[h - first].desks or 0 for h in hours])) for p in plan.services][:5],
            Kind.INT,
        )
    )
    table = Table(
        "Theo lĩnh vực và giờ",
        [
            Column("Lĩnh vực", Kind.TEXT, 2),
            Column("Giờ", Kind.TEXT, 0.6),
            Column("Lượt đến dự báo", Kind.NUMBER),
            Column("Xử lý TB (phút)", Kind.MINUTES),
            Column("Tải (Erlang)", Kind.NUMBER2),
            Column("Quầy cần mở", Kind.INT),
            Column("Xác suất phải chờ", Kind.SHARE),
            Column("Chờ TB (phút)", Kind.MINUTES),
            Column("Chờ trong CT", Kind.SHARE),
            Column("Hiệu suất quầy", Kind.SHARE),
            Column("Ghi chú", Kind.TEXT, 1.5),
        ],
        main=True,
    )
    notes = []
    for p in plan.services:
        cv = f"CV đo được {fmt_num(p.service_cv, 2)}" if p.service_cv is not None else "chưa đủ số đo riêng lĩnh vực"
        notes.append(
            f"{p.service_name}: xử lý trung bình {fmt_minutes(p.mean_service_s)} trên {fmt_int(p.measured)} hồ sơ"
            f" ({cv}); {p.configured_desks} quầy được cấu hình; dự báo: {MODEL_NAMES[p.forecast.model]}, WAPE"
            f" {fmt_pct(p.forecast.chosen.wape)}."
        )
        for h in p.hours:
            a = h.answer
            table.rows.append(
                [
                    p.service_name,
                    f"{h.hour}h",
                    h.arrivals,
                    p.mean_service_s,
                    a.load if a else None,
                    a.servers if a else None,
                    a.wait_probability if a else None,
                    a.mean_wait_s if a else None,
                    a.within_target if a else None,
                    a.occupancy if a else None,
                    h.problem or "",
                ]
            )
    document.sections.append(head)
    document.sections.append(Section("Chi tiết", [Paragraphs("Số liệu dùng để tính", notes), table]))
    document.sections.append(
        Section(
            "Giả định của mô hình Erlang C và khi nào không còn đúng",
            [
                Paragraphs(
                    None,
                    [
                        "P(chờ > t) = C(c, a) × e^(−(c − a)·t / s), với a = λ·s (Erlang), C là công thức Erlang C; số"
                        " quầy cần mở là số c nhỏ nhất để P(chờ ≤ chỉ tiêu) đạt xác suất yêu cầu.",
                        *plan.assumptions,
                    ],
                )
            ],
        )
    )
    return document
