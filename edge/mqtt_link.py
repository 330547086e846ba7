"""The desk node's MQTT connection: paho-mqtt 2.x, TLS and a per-device account, a retained ``status``
last will, ``online`` on every connect, exponential back-off, and a refused connection said plainly."""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties

from edge.config import EdgeMqttSettings
from protocol.messages import StatusMessage

logger = logging.getLogger(__name__)

# What an operator should do about the broker's refusal codes.
_REFUSAL_ADVICE = {
    "Not authorized": "check mqtt.username and the password in the environment variable named by mqtt.password_env",
    "Bad user name or password": "check mqtt.username and the password environment variable",
    "Client identifier not valid": "the broker rejects this client id; check site and desk ids",
    "Server unavailable": "the broker is up but not accepting clients; retrying",
}


class MqttLink:
    """One paho client for one desk node; callbacks say when it comes and goes."""

    def __init__(
        self,
        settings: EdgeMqttSettings,
        site: str,
        desk: str,
        on_connected: Callable[[], None] = lambda: None,
        on_disconnected: Callable[[], None] = lambda: None,
    ) -> None:
        self._settings = settings
        self._site = site
        self._desk = desk
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._connected = threading.Event()
        self._closing = False
        self.last_error: str | None = None
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"onestop-edge-{site}-{desk}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        if settings.username:
            self.client.username_pw_set(settings.username, settings.password)
        if settings.tls:
            ca = str(settings.tls_ca_file) if settings.tls_ca_file else None
            cert = str(settings.tls_cert_file) if settings.tls_cert_file else None
            key = str(settings.tls_key_file) if settings.tls_key_file else None
            self.client.tls_set(ca_certs=ca, certfile=cert, keyfile=key, cert_reqs=ssl.CERT_REQUIRED)
        offline = StatusMessage(site=site, desk=desk, online=False)
        self.client.will_set(offline.topic, offline.to_payload(), qos=1, retain=True)
        self.client.reconnect_delay_set(
            min_delay=int(settings.reconnect_min_s), max_delay=int(settings.reconnect_max_s)
        )
        self.client.on_connect = self._handle_connect
        self.client.on_connect_fail = self._handle_connect_fail
        self.client.on_disconnect = self._handle_disconnect

    @property
    def connected(self) -> bool:
        """Whether the broker accepted the connection and it is up."""
        return self._connected.is_set()

    def start(self) -> None:
        """Connect in the background; paho retries with exponential back-off."""
        self.client.connect_async(self._settings.host, self._settings.port, keepalive=self._settings.keepalive_s)
        self.client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until connected, at most ``timeout`` seconds."""
        return self._connected.wait(timeout)

    def close(self, announce_offline: bool = True) -> None:
        """Say offline (a clean stop does not trigger the last will) and disconnect; idempotent."""
        self._closing = True
        if announce_offline and self.connected:
            offline = StatusMessage(site=self._site, desk=self._desk, online=False)
            self.client.publish(offline.topic, offline.to_payload(), qos=1, retain=True).wait_for_publish(timeout=5)
        self.client.disconnect()
        self.client.loop_stop()
        self._connected.clear()

    def _handle_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            advice = _REFUSAL_ADVICE.get(str(reason_code), "retrying with back-off")
            self.last_error = (
                f"broker {self._settings.host}:{self._settings.port} refused the connection: {reason_code}"
            )
            logger.error("%s (%s)", self.last_error, advice)
            return
        self.last_error = None
        online = StatusMessage(site=self._site, desk=self._desk, online=True)
        client.publish(online.topic, online.to_payload(), qos=1, retain=True)
        self._connected.set()
        logger.info("connected to MQTT %s:%s", self._settings.host, self._settings.port)
        self._on_connected()

    def _handle_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        self.last_error = f"cannot reach the broker at {self._settings.host}:{self._settings.port}"
        logger.warning("%s; retrying with back-off, messages wait in the outbox", self.last_error)

    def _handle_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: mqtt.ReasonCode,
        properties: Properties | None,
    ) -> None:
        was_connected = self._connected.is_set()
        self._connected.clear()
        if was_connected and not self._closing:
            logger.warning("lost the MQTT broker (%s); messages wait in the outbox", reason_code)
        self._on_disconnected()
