"""What the InfluxDB sink writes, and the map outline the dashboard ships (pure, no server)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from hub.config import load_settings
from hub.sinks.points import (
    MEASUREMENTS,
    MessagePoints,
    SinkPoint,
    ns,
    point_from_desk_view,
    points_from_message,
    points_from_transactions,
)

GEO = Path(__file__).resolve().parents[2] / "dashboards" / "web" / "geo"


def test_line_protocol_escapes_and_types() -> None:
    point = SinkPoint("queue", {"site": "bn hcc", "desk": "q,1"}, {"length": 4, "est_wait_s": 840.0}, 17)
    assert point.to_line() == "queue,desk=q\\,1,site=bn\\ hcc est_wait_s=840.0,length=4i 17"


def test_a_rating_says_whether_it_counts_and_satisfies() -> None:
    out = MessagePoints()
    settings = load_settings()
    base = {"site": "bn-hcc", "desk": "q01", "ts": "2026-11-20T08:17:02+07:00", "channel": "button"}
    points_from_message(1001, "rating", {**base, "score": 3}, out, "2026-11-20", settings.rating.satisfied_min_for)
    points_from_message(
        1002, "rating", {**base, "score": 4, "flags": ["burst"]}, out, "2026-11-20", settings.rating.satisfied_min_for
    )
    first, second = out.points
    assert first.fields == {"score": 3, "satisfied": 1, "counted": 1}
    assert second.fields["counted"] == 0
    # Two ratings in the same instant stay two points.
    assert first.ts_ns != second.ts_ns and first.ts_ns == ns(datetime(2026, 11, 20, 1, 17, 2, tzinfo=UTC)) + 1


def test_a_ticket_event_asks_for_its_visit_and_ended_transactions_become_visit_points() -> None:
    out = MessagePoints()
    data = {"site": "bn-hcc", "desk": "q01", "ts": "2026-11-20T08:06:00+07:00", "event": "called", "ticket": "A012"}
    points_from_message(5, "ticket", data, out, "2026-11-20", lambda levels: 3)
    assert out.visits == {("bn-hcc", "2026-11-20", "A012")}
    rows = [
        {
            "seq": 0,
            "desk": "q01",
            "staff": "cb-1",
            "service": "dat-dai",
            "called_at": "2026-11-20T01:06:00+00:00",
            "ended_at": "2026-11-20T01:16:00+00:00",
            "end_reason": "finished",
            "wait_s": 1200.0,
            "service_s": 600.0,
        },
        {
            "seq": 1,
            "desk": "q02",
            "staff": "cb-2",
            "service": None,
            "called_at": "2026-11-20T01:20:00+00:00",
            "ended_at": None,
            "end_reason": None,
            "wait_s": 60.0,
            "service_s": None,
        },
    ]
    (point,) = points_from_transactions("bn-hcc", rows, 900)
    assert point.measurement == "visit"
    assert point.tags == {"site": "bn-hcc", "desk": "q01", "service": "dat-dai", "staff": "cb-1", "end": "finished"}
    assert point.fields == {"wait_s": 1200.0, "service_s": 600.0, "no_show": 0, "within_target": 0}


def test_every_point_uses_documented_fields_and_tags() -> None:
    view = {
        "site": "bn-hcc",
        "desk": "q01",
        "queue_length": 3,
        "head_wait_s": 100.0,
        "predicted_wait_s": 700.0,
        "target_wait_s": 900.0,
        "state": "at_risk",
        "staff_present": True,
        "ratings_today": 2,
        "satisfaction_share_today": 0.5,
    }
    point = point_from_desk_view(view, datetime(2026, 11, 20, tzinfo=UTC))
    assert point.fields["state_level"] == 1
    spec = MEASUREMENTS[point.measurement]
    assert set(point.fields) <= set(spec["fields"]) and set(point.tags) <= set(spec["tags"])


def inside(lon: float, lat: float, ring: list[list[float]]) -> bool:
    crossings = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
        if (y1 > lat) != (y2 > lat) and lon < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
            crossings = not crossings
    return crossings


def test_the_shipped_outline_holds_every_unit_of_the_sample_province() -> None:
    index = json.loads((GEO / "index.json").read_text(encoding="utf-8"))
    entry = next(p for p in index["provinces"] if p["name"] == "Bắc Ninh")
    outline = json.loads((GEO / entry["file"]).read_text(encoding="utf-8"))
    rings = [ring for polygon in outline["features"][0]["geometry"]["coordinates"] for ring in polygon]
    for site in load_settings().sites:
        assert any(inside(site.lon, site.lat, ring) for ring in rings), site.id
