"""What people enter for the staff evaluation under Decree 335/2025/NĐ-CP, signed, in the record.

A supervisor (or the personnel department) enters, per officer:

- ``general``: the general-criteria points of a month (0 to ``general_max``, 30 by default);
- ``days_off``: days of a month the officer did not work (leave, sickness, training);
- ``errors``: products of a month with a major error; ``errors_excused``: of those, the ones whose error a
  competent authority confirmed as due to an objective cause (they lose nothing);
- ``late_excused``: late products of a month with an accepted objective cause (they lose nothing);
- ``transfer``: from a day on, the officer works at another unit (``site``), which sets the norm of their level;
- ``violation``: a listed violation (Decree 335, classification article, clause 4 b–d) that forces
  "Không hoàn thành nhiệm vụ" for the year; ``value`` 0 withdraws it.

Entries are append-only (table ``evaluation_entries``): a later entry for the same officer, kind and month
supersedes an earlier one, which stays visible with its signature. Every entry carries who made it and when;
the API also writes each one to the audit log. The monthly results computed from the record and these
entries are kept in ``evaluation_months`` so that the officer and the supervisor see them as the year goes.
Both tables are in the record (``hub.sqlite_store.SCHEMA``, SQLite or PostgreSQL): an entry made through one
hub worker is read by the reports of every other.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from hub.connection import RecordConnection, connect
from protocol.errors import OneStopError


class EntryError(OneStopError, ValueError):
    """An entry that cannot be accepted; the message says which field and why."""


class EntryKind(StrEnum):
    """What an entry sets."""

    GENERAL = "general"
    DAYS_OFF = "days_off"
    ERRORS = "errors"
    ERRORS_EXCUSED = "errors_excused"
    LATE_EXCUSED = "late_excused"
    TRANSFER = "transfer"
    VIOLATION = "violation"


KIND_NAMES = {
    EntryKind.GENERAL: "Điểm tiêu chí chung",
    EntryKind.DAYS_OFF: "Số ngày không làm việc",
    EntryKind.ERRORS: "Sản phẩm có sai sót lớn",
    EntryKind.ERRORS_EXCUSED: "Sai sót do nguyên nhân khách quan được xác nhận",
    EntryKind.LATE_EXCUSED: "Sản phẩm chậm do nguyên nhân khách quan được chấp nhận",
    EntryKind.TRANSFER: "Điều động, luân chuyển sang đơn vị",
    EntryKind.VIOLATION: "Vi phạm buộc xếp loại không hoàn thành nhiệm vụ",
}


@dataclass(frozen=True, slots=True)
class Entry:
    """One signed entry."""

    seq: int
    at: datetime
    actor: str
    staff: str
    kind: EntryKind
    month: str  # YYYY-MM
    day: date | None
    value: float
    site: str | None
    note: str

    @property
    def label(self) -> str:
        """The kind in Vietnamese."""
        return KIND_NAMES[self.kind]

    def as_json(self) -> dict[str, Any]:
        """The entry as the API returns it."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "staff": self.staff,
            "kind": self.kind.value,
            "label": self.label,
            "month": self.month,
            "day": self.day.isoformat() if self.day else None,
            "value": self.value,
            "site": self.site,
            "note": self.note,
        }


def _month_of(text: str) -> str:
    try:
        parsed = datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise EntryError(f"month: cần dạng YYYY-MM (năm-tháng), nhận được {text!r}") from None
    return f"{parsed.year:04d}-{parsed.month:02d}"


def check_entry(
    kind: str, month: str | None, value: float, day: date | None, site: str | None, general_max: float
) -> tuple[EntryKind, str, float]:
    """The entry's kind, month and value once checked.

    Raises:
        EntryError: a field is missing or out of range (the message names it).
    """
    try:
        chosen = EntryKind(kind)
    except ValueError:
        raise EntryError(f"kind: cần một trong {', '.join(k.value for k in EntryKind)}, nhận được {kind!r}") from None
    if chosen is EntryKind.TRANSFER:
        if day is None or not site:
            raise EntryError("day, site: điều động cần ngày bắt đầu (day) và đơn vị mới (site)")
        return chosen, f"{day.year:04d}-{day.month:02d}", 1.0
    if month is None:
        raise EntryError("month: cần tháng (YYYY-MM)")
    checked = _month_of(month)
    if chosen is EntryKind.GENERAL and not 0 <= value <= general_max:
        raise EntryError(f"value: điểm tiêu chí chung phải từ 0 đến {general_max:g}, nhận được {value:g}")
    if chosen is EntryKind.DAYS_OFF and not 0 <= value <= 31:
        raise EntryError(f"value: số ngày không làm việc phải từ 0 đến 31, nhận được {value:g}")
    if chosen in (EntryKind.ERRORS, EntryKind.ERRORS_EXCUSED, EntryKind.LATE_EXCUSED) and (
        value < 0 or value != int(value)
    ):
        raise EntryError(f"value: số sản phẩm phải là số nguyên ≥ 0, nhận được {value:g}")
    if chosen is EntryKind.VIOLATION and value not in (0, 1):
        raise EntryError(f"value: 1 là ghi nhận vi phạm, 0 là rút lại; nhận được {value:g}")
    return chosen, checked, float(value)


class EntryStore:
    """Append-only entries and the stored monthly results, in the record, through a connection of its own
    (``Store.connect()``; a path: an SQLite record file)."""

    def __init__(
        self, record: RecordConnection | Path, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        from hub.sqlite_store import SHARED_SCHEMA  # here: hub.sqlite_store imports hub.config

        self._conn = connect(record, tables=SHARED_SCHEMA) if isinstance(record, Path) else record

    def add(
        self,
        actor: str,
        staff: str,
        kind: str,
        month: str | None,
        value: float,
        general_max: float,
        day: date | None = None,
        site: str | None = None,
        note: str = "",
    ) -> Entry:
        """Check and append an entry signed by ``actor``; returns it (committed before this returns).

        Raises:
            EntryError: a field is missing or out of range.
        """
        if not staff:
            raise EntryError("staff: cần mã công chức")
        if not actor:
            raise EntryError("actor: mục nhập phải có người ký")
        chosen, checked_month, checked_value = check_entry(kind, month, value, day, site, general_max)
        at = self._clock().astimezone(UTC)
        with self._lock:
            seq = self._conn.insert(
                "INSERT INTO evaluation_entries (at, actor, staff, kind, month, day, value, site, note) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    at.isoformat(),
                    actor,
                    staff,
                    chosen.value,
                    checked_month,
                    day.isoformat() if day else None,
                    checked_value,
                    site,
                    note,
                ),
            )
        return Entry(seq, at, actor, staff, chosen, checked_month, day, checked_value, site, note)

    def entries(self, year: int | None = None, staff: str | None = None) -> list[Entry]:
        """Entries in the order they were made, optionally of one year and one officer."""
        with self._lock:
            return read_entries(self._conn, year, staff)

    def store_months(self, rows: Iterable[tuple[str, str, str, dict[str, Any]]]) -> None:
        """Keep the latest monthly results: (staff, month, profile, result)."""
        at = self._clock().astimezone(UTC).isoformat()
        with self._lock, self._conn.transaction():
            self._conn.executemany(
                "INSERT OR REPLACE INTO evaluation_months (staff, month, profile, computed_at, result) "
                "VALUES (?, ?, ?, ?, ?)",
                [
                    (staff, month, profile, at, json.dumps(result, ensure_ascii=False, sort_keys=True))
                    for staff, month, profile, result in rows
                ],
            )

    def stored_months(self, staff: str, year: int) -> list[dict[str, Any]]:
        """The stored monthly results of an officer in a year, by month."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT month, profile, computed_at, result FROM evaluation_months "
                "WHERE staff = ? AND month LIKE ? ORDER BY month",
                (staff, f"{year:04d}-%"),
            ).fetchall()
        return [
            {"month": month, "profile": profile, "computed_at": at, **json.loads(result)}
            for month, profile, at, result in rows
        ]

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()


def read_entries(
    conn: RecordConnection | sqlite3.Connection, year: int | None = None, staff: str | None = None
) -> list[Entry]:
    """Entries from any connection to the record taking SQLite's dialect (an empty list when none was ever made)."""
    clauses: list[str] = []
    args: list[Any] = []
    if year is not None:
        clauses.append("month LIKE ?")
        args.append(f"{year:04d}-%")
    if staff is not None:
        clauses.append("staff = ?")
        args.append(staff)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    try:
        rows = conn.execute(
            f"SELECT seq, at, actor, staff, kind, month, day, value, site, note FROM evaluation_entries {where} "
            "ORDER BY seq",
            args,
        ).fetchall()
    except sqlite3.OperationalError as error:
        if "no such table" in str(error):
            return []
        raise
    return [
        Entry(
            int(seq),
            datetime.fromisoformat(at),
            actor,
            staff_,
            EntryKind(kind),
            month,
            date.fromisoformat(day) if day else None,
            float(value),
            site,
            note,
        )
        for seq, at, actor, staff_, kind, month, day, value, site, note in rows
    ]
