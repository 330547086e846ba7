"""The camera's view of the line in the period report: walk-outs and waits before the ticket per unit or desk,
beside the ticket-based waits of the same group, each with its sample size.

The camera counts exist per unit and desk only (a line has no service field or officer), so a report by field
or officer shows them for the whole scope.
"""

from __future__ import annotations

from typing import Any

from hub.config import HubSettings
from hub.figures import mean, percentile
from hub.reports.aggregate import Filters, GroupBy, GroupFigures, PeriodFigures, group_name
from hub.reports.document import Cell, Column, Kind, Paragraphs, Section, Table
from hub.reports.periods import Period
from hub.reports.record import Record, RecordConnection

LINE_COLUMNS = [
    Column("Tên", Kind.TEXT, 3.2),
    Column("Bỏ về (camera)", Kind.INT, 1.0),
    Column("Chờ trước lấy số TB", Kind.MINUTES, 1.1),
    Column("P90", Kind.MINUTES, 0.8),
    Column("Số lượt đo", Kind.INT, 0.9),
    Column("Chờ theo số TB", Kind.MINUTES, 1.1),
    Column("Lượt giao dịch", Kind.INT, 1.0),
]
LINE_NOTES = [
    "Bỏ về: người đứng trong vùng xếp hàng của camera ít nhất thời gian tối thiểu của thiết bị rồi rời đi mà"
    " không đến quầy và không lấy số. Chờ trước khi lấy số: từ lúc vào hàng đến lúc tới máy lấy số (chỉ ở nơi"
    " máy lấy số nằm trong vùng xếp hàng). Camera chỉ gửi số đếm và thời lượng, không gửi hình ảnh.",
    "Số liệu camera đứng bên cạnh thời gian chờ theo số thứ tự, không cộng vào: hệ thống xếp số không thấy"
    " người bỏ về và thời gian đứng chờ trước khi có số.",
]


def _key_columns(by: GroupBy) -> list[str]:
    return {GroupBy.UNIT: ["site"], GroupBy.DESK: ["site", "desk"]}.get(by, [])


def line_rows(record: Record, period: Period, by: GroupBy, filters: Filters) -> dict[tuple[str, ...], dict[str, Any]]:
    """Walk-outs and pre-ticket waits per group key (the empty key: the whole scope)."""
    keys = _key_columns(by)
    terms, args = ["day BETWEEN ? AND ?"], [period.first.isoformat(), period.last.isoformat()]
    for column, value in (("site", filters.site), ("desk", filters.desk)):
        if value is not None:
            terms.append(f"{column} = ?")
            args.append(value)
    sql = f"SELECT {', '.join([*keys, 'event', 'duration_s'])} FROM line_events WHERE {' AND '.join(terms)}"

    def read(conn: RecordConnection) -> list[tuple[Any, ...]]:
        if not conn.has_table("line_events"):  # a record made before the camera's line was kept
            return []
        result: list[tuple[Any, ...]] = conn.execute(sql, args).fetchall()
        return result

    groups: dict[tuple[str, ...], dict[str, list[float]]] = {}
    for row in record.run(read)[0]:
        key = tuple(row[: len(keys)])
        for target in {key, ()}:
            bucket = groups.setdefault(target, {"walkout": [], "pre_ticket_wait": []})
            bucket.setdefault(row[-2], []).append(row[-1])
    return {
        key: {
            "walkouts": len(b["walkout"]),
            "walkout_mean_in_line_s": mean(b["walkout"]),
            "pre_ticket_waits": len(b["pre_ticket_wait"]),
            "pre_ticket_wait_mean_s": mean(b["pre_ticket_wait"]),
            "pre_ticket_wait_p90_s": percentile(b["pre_ticket_wait"], 90),
        }
        for key, b in groups.items()
    }


def line_section(
    record: Record, settings: HubSettings, report: PeriodFigures, filters: Filters
) -> tuple[list[dict[str, Any]], Section | None]:
    """JSON rows and the document section; no section when no camera counted anything in the period."""
    by = report.by if report.by in (GroupBy.UNIT, GroupBy.DESK) else GroupBy.PROVINCE
    rows = line_rows(record, report.period, by, filters)
    if not rows:
        return [], None
    tickets: dict[tuple[str, ...], GroupFigures] = {}
    if by is report.by:
        tickets = {tuple(str(k) for k in g.key): g for g in report.groups}
    listed: list[dict[str, Any]] = []
    cells: list[list[Cell]] = []
    for key in [(), *sorted(k for k in rows if k)]:
        line = rows.get(key)
        if line is None:
            continue
        group = report.total if key == () else tickets.get(key)
        name = report.total.name if key == () else group_name(settings, by, key)
        listed.append({"key": list(key), "name": name, **line})
        cells.append(
            [
                name,
                line["walkouts"],
                line["pre_ticket_wait_mean_s"],
                line["pre_ticket_wait_p90_s"],
                line["pre_ticket_waits"],
                group.wait.mean if group else None,
                group.transactions if group else None,
            ]
        )
    section = Section(
        "Hàng chờ theo camera: bỏ về và chờ trước khi lấy số",
        [
            Table("Hàng chờ theo camera", list(LINE_COLUMNS), cells, sheet="Hàng chờ camera"),
            Paragraphs("Cách tính", LINE_NOTES),
        ],
    )
    return listed, section
