"""A real hub (uvicorn + FastAPI + MQTT ingest) in a background thread, and an MQTT publisher for tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import uvicorn
from paho.mqtt.enums import CallbackAPIVersion

from devtools.mosquitto import MosquittoBroker, free_port
from hub.api.app import create_app
from hub.config import HubSettings, load_settings
from protocol.messages import Envelope


class HubServer:
    """The hub serving HTTP on a free loopback port."""

    def __init__(
        self,
        broker: MosquittoBroker,
        database: Path | str,
        client_id: str = "hub-test",
        settings: HubSettings | None = None,
    ) -> None:
        # Tests replay days of a fixed date: by default their hub takes messages of any past day.
        base = settings or load_settings().with_overrides(ingest={"max_age_days": 36500})
        self.port = free_port()
        self.settings = base.with_overrides(
            mqtt={"host": broker.host, "port": broker.port, "client_id": client_id},
            database=database if isinstance(database, str) else f"sqlite:///{database}",  # a URL, or a file
            listen=f"127.0.0.1:{self.port}",
        )
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(self.settings), host="127.0.0.1", port=self.port, log_level="warning", proxy_headers=False
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def start(self) -> HubServer:
        """Start and wait until the API answers and the hub is subscribed."""
        self._thread.start()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if self.http.get("/api/v1/health").json()["mqtt_connected"]:  # set by the SUBACK
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("hub did not start within 20 s")

    def stop(self) -> None:
        """Stop serving (the runtime closes in the lifespan)."""
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self.http.close()

    def get(self, path: str, **params: Any) -> Any:
        """GET a JSON document; fail the test on an HTTP error."""
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def counts(self) -> dict[str, int]:
        """The ingest counters."""
        return dict(self.get("/api/v1/health")["ingest"])

    def wait_until(self, condition: Callable[[dict[str, int]], bool], timeout: float = 15) -> dict[str, int]:
        """Poll the ingest counters until ``condition`` holds; return them."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.counts()
            if condition(counts):
                return counts
            if time.monotonic() > deadline:
                raise AssertionError(f"hub counters never satisfied the condition: {counts}")
            time.sleep(0.05)

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


class Publisher:
    """Publishes protocol messages or raw payloads at QoS 1 and waits for the broker's acknowledgements."""

    def __init__(self, broker: MosquittoBroker, client_id: str = "test-publisher") -> None:
        self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        self._client.connect(broker.host, broker.port)
        self._client.loop_start()

    def send(self, messages: Iterable[Envelope]) -> int:
        """Publish messages in order; return how many."""
        infos = [self._client.publish(m.topic, m.to_payload(), qos=1) for m in messages]
        for info in infos:
            info.wait_for_publish(timeout=10)
        return len(infos)

    def send_raw(self, topic: str, payload: bytes | str | dict[str, Any]) -> None:
        """Publish any payload (for malformed input)."""
        data = json.dumps(payload) if isinstance(payload, dict) else payload
        self._client.publish(topic, data, qos=1).wait_for_publish(timeout=10)

    def close(self) -> None:
        """Disconnect (idempotent)."""
        self._client.disconnect()
        self._client.loop_stop()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
