"""Writes the Grafana dashboards (JSON, InfluxDB 2.x with Flux) from one description, so that every query names
a measurement and a field the hub writes (``hub.sinks.points.MEASUREMENTS``; checked by
``tests/hub/test_grafana_dashboards.py``). Run from the repository root:

    .venv/bin/python dashboards/grafana/build_dashboards.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "influxdb", "uid": "onestop-influxdb"}


def flux(measurement: str, fields: list[str], every: str | None = None, fn: str = "mean", extra: str = "") -> str:
    """A Flux query over one measurement of the selected unit."""
    field_filter = " or ".join(f'r._field == "{f}"' for f in fields)
    query = (
        "from(bucket: v.defaultBucket)\n"
        "  |> range(start: v.timeRangeStart, stop: v.timeRangeStop)\n"
        f'  |> filter(fn: (r) => r._measurement == "{measurement}")\n'
        f"  |> filter(fn: (r) => {field_filter})\n"
        '  |> filter(fn: (r) => r.site == "${site}")\n'
    )
    query += extra
    if every:
        query += f"  |> aggregateWindow(every: {every}, fn: {fn}, createEmpty: false)\n"
    return query


def panel(
    title: str, kind: str, query: str, x: int, y: int, w: int, h: int, unit: str = "none", **extra: Any
) -> dict[str, Any]:
    """One panel with one Flux query."""
    data: dict[str, Any] = {
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "targets": [{"refId": "A", "datasource": DATASOURCE, "query": query}],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
    }
    data.update(extra)
    return data


def dashboard(uid: str, title: str, panels: list[dict[str, Any]], time_from: str) -> dict[str, Any]:
    """A dashboard with the unit picker."""
    for number, item in enumerate(panels, start=1):
        item["id"] = number
    return {
        "uid": uid,
        "title": title,
        "tags": ["onestop"],
        "timezone": "Asia/Ho_Chi_Minh",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": time_from, "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "site",
                    "label": "Đơn vị",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": 'import "influxdata/influxdb/schema"\n'
                    'schema.measurementTagValues(bucket: v.defaultBucket, measurement: "desk_state", tag: "site")',
                    "refresh": 2,
                    "current": {},
                }
            ]
        },
        "panels": panels,
    }


def thresholds(limit: float) -> dict[str, Any]:
    """Green under the limit, red over it."""
    return {"mode": "absolute", "steps": [{"color": "green", "value": None}, {"color": "red", "value": limit}]}


def live() -> dict[str, Any]:
    """The live board: people waiting, waits against the target, alerts, devices."""
    minutes = "  |> map(fn: (r) => ({r with _value: float(v: r._value) / 60.0}))\n"
    panels = [
        panel("Người đang chờ theo quầy", "timeseries", flux("desk_state", ["queue_length"], "1m", "max"), 0, 0, 12, 8),
        panel(
            "Dự báo thời gian chờ và chỉ tiêu (phút)",
            "timeseries",
            flux("desk_state", ["predicted_wait_s", "target_wait_s"], "1m", "max", minutes),
            12,
            0,
            12,
            8,
            "m",
        ),
        panel(
            "Người đầu hàng đã chờ (phút)",
            "timeseries",
            flux("desk_state", ["head_wait_s"], "1m", "max", minutes),
            0,
            8,
            12,
            8,
            "m",
            fieldConfig={"defaults": {"unit": "m", "thresholds": thresholds(15)}, "overrides": []},
        ),
        panel(
            "Cảnh báo",
            "table",
            flux(
                "alert",
                ["raised"],
                None,
                extra='  |> keep(columns: ["_time", "desk", "alert", "severity", "_value"])\n',
            ),
            12,
            8,
            12,
            8,
        ),
        panel(
            "Cán bộ có mặt (1 = có)",
            "state-timeline",
            flux("desk_state", ["staff_present"], "1m", "last"),
            0,
            16,
            12,
            6,
        ),
        panel(
            "Thiết bị tại quầy: nhiệt độ CPU (°C) và tin nhắn chờ gửi",
            "timeseries",
            flux("device_health", ["cpu_temp_c", "spool_depth"], "5m", "max"),
            12,
            16,
            12,
            6,
        ),
        panel("Hàng đợi đo bằng camera", "timeseries", flux("queue", ["length"], "1m", "max"), 0, 22, 24, 6),
    ]
    return dashboard("onestop-live", "Một cửa – trực tiếp", panels, "now-6h")


def figures() -> dict[str, Any]:
    """The day and week figures: waits, share within the target, satisfaction, comments, emotions."""
    minutes = "  |> map(fn: (r) => ({r with _value: float(v: r._value) / 60.0}))\n"
    share = "  |> map(fn: (r) => ({r with _value: float(v: r._value) * 100.0}))\n"
    counted = (
        '  |> pivot(rowKey: ["_time", "desk", "staff", "channel"], columnKey: ["_field"], valueColumn: "_value")\n'
        "  |> filter(fn: (r) => r.counted == 1)\n"
        '  |> map(fn: (r) => ({_time: r._time, desk: r.desk, _field: "satisfied",'
        " _value: float(v: r.satisfied) * 100.0}))\n"
    )
    panels = [
        panel(
            "Thời gian chờ trung bình theo giờ (phút)",
            "timeseries",
            flux("visit", ["wait_s"], "1h", "mean", minutes),
            0,
            0,
            12,
            8,
            "m",
            fieldConfig={"defaults": {"unit": "m", "thresholds": thresholds(15)}, "overrides": []},
        ),
        panel(
            "Tỷ lệ lượt chờ đạt chỉ tiêu theo ngày (%)",
            "timeseries",
            flux("visit", ["within_target"], "1d", "mean", share),
            12,
            0,
            12,
            8,
            "percent",
        ),
        panel(
            "Thời gian giải quyết trung bình theo ngày (phút)",
            "timeseries",
            flux("visit", ["service_s"], "1d", "mean", minutes),
            0,
            8,
            12,
            8,
            "m",
        ),
        panel(
            "Tỷ lệ hài lòng theo ngày (%)",
            "timeseries",
            flux("rating", ["satisfied", "counted"], None, extra=counted)
            + "  |> aggregateWindow(every: 1d, fn: mean, createEmpty: false)\n",
            12,
            8,
            12,
            8,
            "percent",
        ),
        panel("Số lượt đánh giá theo ngày", "barchart", flux("rating", ["score"], "1d", "count"), 0, 16, 12, 8),
        panel(
            "Góp ý theo cảm xúc (số lượt)",
            "barchart",
            flux("feedback", ["sentiment_value"], None, extra='  |> group(columns: ["sentiment"])\n  |> count()\n'),
            12,
            16,
            6,
            8,
        ),
        panel(
            "Cảm xúc trung bình của người dân (−1 đến 1)",
            "timeseries",
            flux("emotion", ["valence"], "1d", "mean"),
            18,
            16,
            6,
            8,
        ),
    ]
    return dashboard("onestop-figures", "Một cửa – số liệu ngày và tuần", panels, "now-7d")


def main() -> int:
    """Write both dashboards."""
    for name, board in (("onestop-live.json", live()), ("onestop-figures.json", figures())):
        (HERE / name).write_text(json.dumps(board, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {name}: {len(board['panels'])} panels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
