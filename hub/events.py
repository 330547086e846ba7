"""Fan-out of live changes to the server-sent-event clients, safe to call from any thread."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

logger = logging.getLogger(__name__)

CLIENT_QUEUE_SIZE = 2000

Event = tuple[str, str]
# Not an event a browser sees: tells a live stream to end (Broadcaster.end_streams).
END: Event = ("", "")


class Broadcaster:
    """Delivers ``(event name, JSON data)`` pairs to every subscribed client queue on one event loop.

    A client that falls more than ``CLIENT_QUEUE_SIZE`` events behind is sent a ``resync`` event and its
    backlog is dropped: it reloads the live state instead of replaying stale changes.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._clients: set[asyncio.Queue[Event]] = set()

    def subscribe(self) -> asyncio.Queue[Event]:
        """A new client queue (call on the event loop)."""
        client: asyncio.Queue[Event] = asyncio.Queue(maxsize=CLIENT_QUEUE_SIZE)
        self._clients.add(client)
        return client

    def unsubscribe(self, client: asyncio.Queue[Event]) -> None:
        """Forget a client queue (call on the event loop)."""
        self._clients.discard(client)

    @property
    def client_count(self) -> int:
        """Connected stream clients."""
        return len(self._clients)

    def publish(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to every client; callable from any thread."""
        encoded = (event, json.dumps(data, ensure_ascii=False, default=str))
        try:
            self._loop.call_soon_threadsafe(self._fan_out, encoded)
        except RuntimeError:
            logger.debug("event loop closed; live event %s not delivered", event)

    def end_streams(self) -> None:
        """Ask every open live stream to end (the hub is stopping); callable from any thread or a signal
        handler. Their browsers reconnect by themselves (``retry``) to the hub that comes up next."""
        try:
            self._loop.call_soon_threadsafe(self._fan_out, END)
        except RuntimeError:
            logger.debug("event loop closed; no stream to end")

    def _fan_out(self, encoded: Event) -> None:
        for client in list(self._clients):
            try:
                client.put_nowait(encoded)
            except asyncio.QueueFull:
                while not client.empty():
                    client.get_nowait()
                client.put_nowait(END if encoded == END else ("resync", "{}"))
