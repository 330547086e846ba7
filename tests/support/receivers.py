"""Real receivers for alert delivery tests: an SMTP server (aiosmtpd) and an HTTP webhook receiver, on loopback."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from devtools.mosquitto import free_port
from tests.support.waiting import wait_for as wait_for  # the alert-delivery tests import it from here


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self._box = box

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd)
        content = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self._box.lock:
            self._box.messages.append((list(envelope.rcpt_tos), message, time.monotonic()))
        return "250 Message accepted for delivery"


class Mailbox:
    """An SMTP server on loopback that keeps every message it accepts."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.lock = threading.Lock()
        self.messages: list[tuple[list[str], EmailMessage, float]] = []
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    def to(self, address: str) -> list[EmailMessage]:
        """Messages addressed to ``address``."""
        with self.lock:
            return [message for rcpts, message, _ in self.messages if address in rcpts]

    def start(self) -> Mailbox:
        """Start accepting mail."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop accepting mail."""
        self._controller.stop()

    def __enter__(self) -> Mailbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


class WebhookReceiver:
    """An HTTP server on loopback that keeps every JSON body POSTed to it, with the headers."""

    def __init__(self, port: int | None = None, delay_s: float = 0.0) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.delay_s = delay_s
        self.lock = threading.Lock()
        self.posts: list[tuple[dict[str, Any], dict[str, str], float]] = []
        self.started = threading.Event()  # a POST came in (set before the receiver's delay)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.started.set()
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                with receiver.lock:
                    receiver.posts.append((json.loads(body), dict(self.headers), time.monotonic()))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server: ThreadingHTTPServer | None = None
        self._handler = Handler
        self._thread: threading.Thread | None = None

    def bodies(self, **match: Any) -> list[dict[str, Any]]:
        """Bodies whose fields equal ``match``."""
        with self.lock:
            return [body for body, _, _ in self.posts if all(body.get(k) == v for k, v in match.items())]

    def start(self) -> WebhookReceiver:
        """Start listening."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
