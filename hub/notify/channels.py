"""The two ways an alert leaves the hub: an e-mail through SMTP, and a JSON POST to a webhook.

Each ``send`` makes one attempt and raises :class:`DeliveryError` when it did not go through; retrying is
the worker's business.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
import urllib.error
import urllib.request
from email.header import Header
from email.mime.text import MIMEText
from email.utils import formataddr, make_msgid

from hub.notify.render import Rendered
from hub.notify.settings import SmtpSettings, WebhookSettings
from protocol.errors import OneStopError

SIGNATURE_HEADER = "X-Onestop-Signature"
DELIVERY_HEADER = "X-Onestop-Delivery"


class DeliveryError(OneStopError, OSError):
    """An attempt to deliver an alert failed (the receiver is down, refused it, or was too slow)."""


def send_email(settings: SmtpSettings, to: str, rendered: Rendered, delivery_id: str) -> str:
    """Send one e-mail; return the server's answer.

    Raises:
        DeliveryError: the server could not be reached or refused the message.
    """
    # MIMEText with Header: the encoded words keep the spaces of a long Vietnamese subject (the newer
    # EmailMessage folding of Python 3.11 loses a space between two encoded words).
    message = MIMEText(rendered.body, "plain", "utf-8")
    message["From"] = formataddr((settings.sender_name, settings.sender), charset="utf-8")
    message["To"] = to
    message["Subject"] = Header(rendered.subject, "utf-8", header_name="Subject").encode()
    message["Message-ID"] = make_msgid(idstring=delivery_id.replace(":", "."), domain="onestop.invalid")
    message[DELIVERY_HEADER] = delivery_id
    try:
        if settings.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_s, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_s)
        with client:
            if settings.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.username:
                client.login(settings.username, settings.password or "")
            refused = client.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(f"SMTP {settings.host}:{settings.port}: {type(error).__name__}: {error}") from error
    if refused:
        raise DeliveryError(f"SMTP refused the recipient: {refused}")
    return "accepted by the SMTP server"


def send_webhook(settings: WebhookSettings, url: str, rendered: Rendered, delivery_id: str, attempt: int) -> str:
    """POST the alert as JSON; return the receiver's status line.

    Raises:
        DeliveryError: the receiver could not be reached, answered other than 2xx, or was too slow.
    """
    body = json.dumps(rendered.json, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "onestop-hub",
        DELIVERY_HEADER: delivery_id,
        "X-Onestop-Attempt": str(attempt),
    }
    secret = settings.secret
    if secret is not None:
        headers[SIGNATURE_HEADER] = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=settings.timeout_s) as response:  # noqa: S310 (configured URL)
            status = int(response.status)
    except urllib.error.HTTPError as error:
        raise DeliveryError(f"webhook answered HTTP {error.code}") from error
    except (OSError, ValueError) as error:
        raise DeliveryError(f"webhook unreachable: {type(error).__name__}: {error}") from error
    if not 200 <= status < 300:
        raise DeliveryError(f"webhook answered HTTP {status}")
    return f"HTTP {status}"
