"""Walk-outs and the wait before the ticket, from the cameras' ``line`` messages: figures with sample sizes.

Pure code. These are the camera's counts, shown beside the ticket-based waits, never mixed into them: a
ticket system sees neither the citizen who left the line nor the time spent in it before the ticket.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from hub.figures import mean, percentile
from hub.store import LineFact

WALKOUT = "walkout"
PRE_TICKET_WAIT = "pre_ticket_wait"


def line_figures(facts: Iterable[LineFact], desk: str | None = None) -> dict[str, Any]:
    """Walk-outs (count, mean time in line) and pre-ticket waits (count, mean, median, 90th percentile)."""
    chosen = [f for f in facts if desk is None or f.desk == desk]
    walkouts = [f.duration_s for f in chosen if f.event == WALKOUT]
    waits = [f.duration_s for f in chosen if f.event == PRE_TICKET_WAIT]
    return {
        "walkouts": len(walkouts),
        "walkout_mean_in_line_s": mean(walkouts),
        "pre_ticket_waits": len(waits),
        "pre_ticket_wait_mean_s": mean(waits),
        "pre_ticket_wait_median_s": percentile(waits, 50),
        "pre_ticket_wait_p90_s": percentile(waits, 90),
    }
