"""How far each hub worker's MQTT session has been drained, measured by a probe through the broker's own queue.

With several workers on a shared subscription each worker's session has its own queue at the broker; draining
a deep backlog at different speeds, worker A commits a device's number 8 while numbers 5-7 still wait minutes
deep in worker B's queue. A gap may therefore count toward ``messages_missing`` only once every session of the
group has been drained past the moment the gap opened (hub/loss.py, hub/processor.py ``_missing_alerts``).

The probe: Mosquitto keeps one outgoing queue per client session, shared by all its subscriptions, and delivers
it in order (QoS 1; docs/scaling.md, "Loss with several workers"). Each worker of a group also subscribes,
non-shared, to a topic of its own client id outside the desks' protocol (:func:`probe_topic`) and, at every
tick, publishes a probe there carrying its send time (the hub's clock). When the probe comes back through the
session's queue, everything the broker had queued for that session before it has been received; once the batch
that held it is committed, the session is drained up to the probe's send time. ``hub_workers`` keeps per session
(client id) ``drained_to``, the send time of the newest probe committed, and ``probed_at``, when whoever drains
the session (its worker, or the worker that adopted it, hub/adoption.py) last sent it a probe.
"""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.store import Store

logger = logging.getLogger(__name__)

PROBE_ROOT = "onestop-hub/probe"  # outside onestop/v1/#: not part of the desks' protocol
# A session not probed for this many graces (or probe intervals, when those are longer) counts as drained by
# nobody: its progress no longer holds the group's gaps back.
STALE_GRACES = 3
STALE_PROBES = 10


def probe_topic(client_id: str) -> str:
    """The topic a session's probes travel on (its own client id: no other session receives them)."""
    return f"{PROBE_ROOT}/{client_id}"


def probe_payload(sent: float) -> bytes:
    """A probe: its send time (POSIX seconds, the hub's clock)."""
    return json.dumps({"sent": sent}).encode()


def probe_sent(payload: bytes) -> float | None:
    """The send time a probe carries (None: not a probe this hub sent)."""
    try:
        sent = json.loads(payload)["sent"]
    except (ValueError, TypeError, KeyError):
        return None
    return float(sent) if isinstance(sent, int | float) and math.isfinite(sent) else None


def stale_after_s(grace_s: float, probe_s: float) -> float:
    """How long after its last probe a session counts as drained by nobody.

    Long enough that a worker alive but slow (a batch retried with back-off up to 30 s, a loaded machine) is not
    taken for gone, which would let its queued numbers be judged lost; short enough that the gaps of a session
    whose worker died and was not adopted are reported a few graces late, not never."""
    return max(STALE_GRACES * grace_s, STALE_PROBES * probe_s)


def group_drained(progress: Iterable[tuple[float | None, float | None]], now: float, stale_s: float) -> float:
    """The moment every session of a group still drained by someone has been drained up to (POSIX seconds).

    ``progress`` holds each session's (drained_to, probed_at); a session probed more than ``stale_s`` ago is
    left out, one probed but never drained yet holds everything back; with none left, infinity (the grace alone
    decides)."""
    live = [drained or 0.0 for drained, probed in progress if probed is not None and now - probed <= stale_s]
    return min(live, default=math.inf)


class SessionProgress:
    """Keeps in the record the probes of the sessions one worker drains (its own, and those it adopted)."""

    def __init__(self, store: Store, group: str, lock: threading.Lock) -> None:
        self._store = store
        self._group = group
        self._lock = lock  # the worker's lock: the store's unit of work is the ingest's too

    def probed(self, client_id: str, sent: float) -> None:
        """A probe was sent on ``client_id``'s session at ``sent``."""
        with self._lock:
            self._store.note_session_progress(client_id, self._group, probed_at=sent)

    def drained(self, client_id: str, sent: float) -> None:
        """The batch holding the probe sent at ``sent`` (and so everything queued before it) is committed."""
        with self._lock:
            self._store.note_session_progress(client_id, self._group, drained_to=sent)
