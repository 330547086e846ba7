"""``onestop-hub report …`` on a record, and the reports API of a running hub fed over MQTT."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

from hub.cli import main
from protocol.messages import RatingChannel, RatingMessage, TicketEvent, TicketMessage
from tests.hub.reports.conftest import RecordBuilder
from tests.support.hub_server import HubServer, Publisher


def test_the_command_line_writes_the_report_file(builder: RecordBuilder, tmp_path: Path) -> None:
    builder.minutes("bn-kinh-bac", "2025-04-01", "1", 5, 5, "cb-1")
    builder.save()
    out = tmp_path / "diem.csv"
    code = main(
        ["report", "decision766", "--period", "2025-04", "--database", builder.url, "--format", "csv", "-o", str(out)]
    )
    assert code == 0
    rows = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 1 + 9  # header and the nine units of the sample province
    assert "Không có đánh giá nào" in rows[2][-1]


def test_a_bad_period_is_refused_with_the_forms_accepted(builder: RecordBuilder, capsys: object) -> None:
    builder.save()
    code = main(
        ["report", "figures", "--period", "last month", "--database", builder.url, "--format", "json", "-o", "-"]
    )
    assert code == 2


def test_the_hub_serves_reports_while_it_ingests(hub: HubServer, broker: object) -> None:
    day = datetime.now().astimezone() - timedelta(days=1)
    start = day.replace(hour=8, minute=0, second=0, microsecond=0)
    messages = []
    for n in range(3):
        issued = start + timedelta(minutes=10 * n)
        for event, moment in (
            (TicketEvent.ISSUED, issued),
            (TicketEvent.CALLED, issued + timedelta(minutes=4 * n)),
            (TicketEvent.FINISHED, issued + timedelta(minutes=4 * n + 6)),
        ):
            messages.append(
                TicketMessage(
                    id=f"t{n}-{event.value}",
                    ts=moment,
                    site="bn-tien-du",
                    desk="q01",
                    event=event,
                    ticket=f"{n}",
                    staff=None if event is TicketEvent.ISSUED else "cb-7",
                    service="dat-dai",
                )
            )
    messages.append(
        RatingMessage(
            id="r1",
            ts=start + timedelta(hours=1),
            site="bn-tien-du",
            desk="q01",
            score=4,
            ticket="0",
            staff="cb-7",
            channel=RatingChannel.BUTTON,
        )
    )
    with Publisher(broker, client_id="reports-test") as publisher:  # type: ignore[arg-type]
        publisher.send(messages)
    hub.wait_until(lambda c: c["accepted"] >= len(messages))
    local_day = start.astimezone(hub.settings.zone).date().isoformat()
    report = hub.get("/api/v1/reports/figures", period=local_day, by="officer", site="bn-tien-du")
    (officer,) = report["groups"]
    assert officer["key"] == ["cb-7"] and officer["transactions"] == 3
    assert officer["wait"]["mean"] == 4 * 60  # waits 0, 4 and 8 minutes
    assert officer["ratings"] == 1 and officer["points_766"] == 6
    pdf = hub.http.get("/api/v1/reports/decision766", params={"period": local_day, "format": "pdf"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert 'filename="diem-766-tinh-' in pdf.headers["content-disposition"]
    refused = hub.http.get("/api/v1/reports/figures", params={"period": "someday"})
    assert refused.status_code == 422 and "not understood" in refused.json()["detail"]
