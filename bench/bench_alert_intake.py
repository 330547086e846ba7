"""A tick's storm of alerts taken for delivery on PostgreSQL: what a hub catching up on the country pays.

A worker that judges 17,000 desks at once (every desk's node silent while the hub was down, or every unit's
wait at risk) takes thousands of alerts in one transaction (``hub/notify/outbox.py`` ``take_alerts_in``): each
continues or closes the open alert of its desk and kind, and its deliveries are queued. This bench takes
``--alerts`` raised alerts, then as many clears of them, each in one transaction of the worker's store, on a
private PostgreSQL (``devtools.postgres``), and compares each with the bare write of the same number of rows
into the same table in one statement, in the same run (the baseline: what the rows cost without the intake's
reads and checks).

Run: ``.venv/bin/python bench/bench_alert_intake.py [--alerts 17000]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from devtools.postgres import PostgresServer  # noqa: E402
from hub.config import load_settings  # noqa: E402
from hub.runtime import HubRuntime  # noqa: E402
from hub.store import open_store  # noqa: E402
from protocol.messages import AlertMessage, AlertState, AlertType  # noqa: E402


def storm(count: int, now: datetime) -> list[AlertMessage]:
    """``count`` node_offline alerts, five desks a unit (the country's shape)."""
    return [
        AlertMessage(
            site=f"u{i // 5:04d}",
            desk=f"q{i % 5}",
            ts=now,
            alert=AlertType.NODE_OFFLINE,
            severity="warning",
            message="Thiết bị tại quầy mất kết nối.",
        )
        for i in range(count)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=17000, help="alerts in the storm (the country: 17,000)")
    args = parser.parse_args()
    now = datetime.now(UTC)
    raised = storm(args.alerts, now)
    cleared = [a.model_copy(update={"id": f"{a.id}-c", "state": AlertState.CLEARED}) for a in raised]
    with PostgresServer() as server:
        url = server.create_database()
        settings = load_settings().with_overrides(mqtt={"client_id": "hub-a", "shared_group": "g"}, database=url)
        runtime = HubRuntime(settings)
        store, take = runtime.store, runtime.processor.take_alerts
        assert take is not None
        bare_store = open_store(server.create_database())  # the baseline on a record of its own
        began = time.perf_counter()
        with bare_store.transaction():
            for i, alert in enumerate(raised):
                bare_store.write(
                    "INSERT INTO notify_alerts (alert_id, root_id, site, desk, kind, state, ts, day, payload) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (alert.id, alert.id, alert.site, alert.desk, alert.alert.value, "raised", str(i), "", "{}"),
                )
        bare = time.perf_counter() - began
        bare_store.close()
        for name, alerts in (("raised", raised), ("cleared", cleared)):
            began = time.perf_counter()
            with store.transaction():
                take(alerts)
            taken = time.perf_counter() - began
            print(
                f"{len(alerts):,} alerts {name} taken in one transaction: {taken:.2f} s; "
                f"the bare write of as many rows {bare:.2f} s; ratio {taken / bare:.1f}"
            )
        runtime.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
