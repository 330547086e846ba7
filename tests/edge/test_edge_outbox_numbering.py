"""The outbox numbers what it hands to the broker: numbers survive a restart and are never reused, a row
keeps its number on every resend, a new spool file starts a new stream, and what the full spool drops was
never numbered (so it is never counted as lost by the hub) but is counted in the spool itself."""

from __future__ import annotations

import json
from pathlib import Path

from edge.outbox import Spool, numbered
from protocol.messages import HeartbeatMessage, TicketEvent, TicketMessage, parse_message

SITE, DESK = "bn-hcc", "q01"


def ticket(n: int) -> TicketMessage:
    return TicketMessage(site=SITE, desk=DESK, event=TicketEvent.ISSUED, ticket=f"{n:04d}")


def beat() -> HeartbeatMessage:
    return HeartbeatMessage(site=SITE, desk=DESK, uptime_s=1.0, spool_depth=0)


def put(spool: Spool, message: TicketMessage | HeartbeatMessage) -> int:
    return spool.put(message.kind.value, message.topic, message.to_payload())


def test_numbers_survive_restarts_and_are_never_reused(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox.db", max_messages=100)
    rows = [put(spool, ticket(n)) for n in range(5)]
    assert spool.number(rows[:3]) == {rows[0]: 1, rows[1]: 2, rows[2]: 3}
    stream = spool.stream
    spool.remove(rows[:2])  # acknowledged
    spool.close()

    again = Spool(tmp_path / "outbox.db", max_messages=100)
    assert again.stream == stream
    pending = again.after(0, 10)
    assert [(r.seq, r.number) for r in pending] == [(rows[2], 3), (rows[3], None), (rows[4], None)]
    assert again.number([rows[3], rows[4]]) == {rows[3]: 4, rows[4]: 5}
    again.remove(rows[2:])
    later = put(again, ticket(9))
    assert again.number([later]) == {later: 6}
    again.close()

    fresh = Spool(tmp_path / "reinstalled.db", max_messages=100)  # a node set up from scratch
    first = put(fresh, ticket(1))
    assert fresh.number([first]) == {first: 1} and fresh.stream != stream
    fresh.close()


def test_the_numbered_payload_is_the_message_with_seq_and_stream(tmp_path: Path) -> None:
    message = ticket(7)
    payload = numbered(message.to_payload(), 12, "abc")
    assert payload == numbered(message.to_payload(), 12, "abc")  # a resend is the same bytes
    parsed = parse_message(message.topic, payload)
    assert (parsed.seq, parsed.stream, parsed.id) == (12, "abc", message.id)
    assert json.loads(payload) == {**json.loads(message.to_payload()), "seq": 12, "stream": "abc"}


def test_the_full_spool_drops_only_unnumbered_rows_and_counts_them(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "outbox.db", max_messages=4)
    early = [put(spool, beat()) for _ in range(2)]
    spool.number(early)  # handed to the broker, not yet acknowledged
    for _ in range(3):
        put(spool, beat())
    put(spool, ticket(1))  # never dropped
    kept = spool.after(0, 10)
    assert [r.seq for r in kept[:2]] == early, "a numbered row may be on its way: it is not dropped"
    assert spool.depth == 4 and spool.dropped == 2
    later = put(spool, beat())  # drops the oldest unnumbered heartbeat, which the publisher had just read
    assert spool.number([kept[2].seq, later]) == {later: 3}, "a row dropped meanwhile takes no number"
    spool.close()
    reopened = Spool(tmp_path / "outbox.db", max_messages=4)
    assert reopened.dropped == 3  # kept in the spool file
    reopened.close()
