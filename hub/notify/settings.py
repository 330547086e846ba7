"""The ``notify:`` section of the hub YAML: who receives which alerts, by e-mail and webhook, and when.

Secrets (the SMTP password, the webhook signing key) come only from the environment.
"""

from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from protocol.messages import AlertType
from protocol.topics import IDENTIFIER_PATTERN, is_identifier

EMAIL_PATTERN = r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmtpSettings(_Strict):
    """The mail server alerts are sent through."""

    host: str = Field(min_length=1, description="SMTP server host name or address.")
    port: int = Field(587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 TLS, 25 plain).")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls, tls (implicit, port 465) or none (only on a trusted network)."
    )
    sender: str = Field(pattern=EMAIL_PATTERN, description="From address, e.g. canhbao@hcc.bacninh.gov.vn.")
    sender_name: str = Field("Giám sát Bộ phận Một cửa", min_length=1, description="From name shown to people.")
    username: str | None = Field(None, description="Login name, when the server asks for one.")
    password_env: str = Field(
        "ONESTOP_HUB_SMTP_PASSWORD", description="Name of the environment variable holding the SMTP password."
    )
    timeout_s: float = Field(15, gt=0, le=300, description="Longest wait for the server in one attempt, seconds.")

    @property
    def password(self) -> str | None:
        """The password, read from the environment (never from the file)."""
        return os.environ.get(self.password_env) or None


class WebhookSettings(_Strict):
    """How alerts are POSTed as JSON to a command centre, a chat bot or an SMS gateway."""

    timeout_s: float = Field(10, gt=0, le=300, description="Longest wait for the receiver in one attempt, seconds.")
    secret_env: str | None = Field(
        None,
        description="Environment variable holding a signing key; when set, each POST carries "
        "X-Onestop-Signature: sha256=<HMAC-SHA256 of the body>.",
    )

    @property
    def secret(self) -> bytes | None:
        """The signing key, read from the environment."""
        value = os.environ.get(self.secret_env) if self.secret_env else None
        return value.encode() if value else None


class RetrySettings(_Strict):
    """Back-off between the attempts of one delivery."""

    first_delay_s: float = Field(10, gt=0, le=3600, description="Pause after the first failed attempt, seconds.")
    max_delay_s: float = Field(900, gt=0, le=24 * 3600, description="Longest pause between attempts, seconds.")
    max_attempts: int = Field(20, ge=1, le=1000, description="Attempts before a delivery is given up as failed.")

    @model_validator(mode="after")
    def _ordered(self) -> RetrySettings:
        if self.first_delay_s > self.max_delay_s:
            raise ValueError(f"first_delay_s {self.first_delay_s} is above max_delay_s {self.max_delay_s}")
        return self

    def delay_after(self, attempts: int) -> float:
        """The pause after ``attempts`` failed attempts (doubling from ``first_delay_s``)."""
        return min(self.max_delay_s, self.first_delay_s * 2 ** max(0, attempts - 1))


class QuietHours(_Strict):
    """Local hours in which non-critical alerts are held, e.g. 21:00 to 07:00 (may span midnight)."""

    start: time = Field(description="Start of the quiet hours, local time HH:MM.")
    end: time = Field(description="End of the quiet hours, local time HH:MM.")

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start}: give two different times")
        return self

    def release_at(self, local_now: datetime) -> datetime | None:
        """When a delivery held now may go out (the end of the quiet hours), or None when it is not quiet."""
        clock = local_now.time().replace(tzinfo=None)
        if self.start < self.end:
            quiet = self.start <= clock < self.end
            end_day = local_now.date()
        else:
            quiet = clock >= self.start or clock < self.end
            end_day = local_now.date() + timedelta(days=1) if clock >= self.start else local_now.date()
        if not quiet:
            return None
        return datetime.combine(end_day, self.end, tzinfo=local_now.tzinfo)


class Escalation(_Strict):
    """Who gets an alert nobody acknowledged in time."""

    to: str = Field(pattern=IDENTIFIER_PATTERN, description="Id of the recipient who gets it (the second person).")
    after_minutes: float = Field(gt=0, le=24 * 60, description="Minutes without acknowledgement before it goes.")


class Recipient(_Strict):
    """A supervisor (or a system) that receives alerts."""

    id: str = Field(pattern=IDENTIFIER_PATTERN, description="Short id, e.g. gd-kinh-bac.")
    name: str = Field(min_length=1, description="Name shown in the delivery log, e.g. Nguyễn Văn An.")
    email: str | None = Field(None, pattern=EMAIL_PATTERN, description="E-mail address, when alerts go by mail.")
    webhook: str | None = Field(
        None, pattern=r"^https?://\S+$", description="URL alerts are POSTed to as JSON, when they go by webhook."
    )
    sites: list[str] | None = Field(
        None, description="Unit ids subscribed to; all units when absent; [] for escalations only."
    )
    kinds: list[AlertType] | None = Field(None, description="Alert kinds subscribed to; all when absent.")
    cleared: bool = Field(False, description="Also send when an alert ends.")
    quiet_hours: QuietHours | None = Field(None, description="Hold non-critical alerts during these local hours.")
    escalation: Escalation | None = Field(None, description="Pass unacknowledged alerts on to a second person.")

    @field_validator("sites")
    @classmethod
    def _unit_ids(cls, value: list[str] | None) -> list[str] | None:
        bad = [site for site in value or [] if not is_identifier(site)]
        if bad:
            raise ValueError(f"not unit ids: {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _a_channel(self) -> Recipient:
        if self.email is None and self.webhook is None:
            raise ValueError("give an email address, a webhook URL or both")
        return self

    def wants(self, site: str, kind: AlertType) -> bool:
        """Whether this recipient subscribed to this unit and kind."""
        return (self.sites is None or site in self.sites) and (self.kinds is None or kind in self.kinds)

    @property
    def channels(self) -> list[str]:
        """The channels this recipient is reached on: ``email``, ``webhook``."""
        return [name for name, address in (("email", self.email), ("webhook", self.webhook)) if address]


class NotifySettings(_Strict):
    """Alert delivery: recipients, channels, retry, and which kinds are critical."""

    recipients: list[Recipient] = Field(default_factory=list, description="Who receives alerts; none: nobody.")
    smtp: SmtpSettings | None = Field(None, description="Mail server; needed when a recipient has an email.")
    webhook: WebhookSettings = Field(default_factory=WebhookSettings, description="Webhook POST settings.")
    retry: RetrySettings = Field(default_factory=RetrySettings, description="Back-off between attempts.")
    critical_kinds: list[AlertType] = Field(
        default_factory=lambda: [AlertType.WAIT_TARGET_BROKEN],
        description="Kinds that go out even in quiet hours; the others wait for the quiet hours to end.",
    )
    catch_up_minutes: float = Field(
        10, ge=0, le=24 * 60, description="At start-up, alerts of the last minutes that no delivery saw are sent."
    )
    dashboard_url: str | None = Field(
        None, pattern=r"^https?://\S+$", description="The dashboard's address, linked from each e-mail."
    )
    lease_s: float = Field(
        300,
        gt=0,
        le=24 * 3600,
        description="How long a hub worker holds a delivery it is sending; a worker that dies mid-send leaves it "
        "to another after this. At least twice the longest channel timeout.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> NotifySettings:
        ids = [r.id for r in self.recipients]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"recipient ids repeated: {', '.join(repeated)}")
        for recipient in self.recipients:
            if recipient.escalation is None:
                continue
            if recipient.escalation.to not in ids:
                raise ValueError(
                    f"recipient {recipient.id}: escalation.to {recipient.escalation.to!r} is not a recipient id"
                )
            if recipient.escalation.to == recipient.id:
                raise ValueError(f"recipient {recipient.id}: escalation.to names the recipient itself")
        if self.smtp is None and any(r.email for r in self.recipients):
            raise ValueError("a recipient has an email address but there is no smtp section")
        longest = max(self.webhook.timeout_s, self.smtp.timeout_s if self.smtp else 0)
        if self.lease_s < 2 * longest:
            raise ValueError(
                f"lease_s {self.lease_s:g} is below twice the longest channel timeout ({longest:g} s): a slow attempt "
                "could be taken over and sent twice by another hub worker"
            )
        return self

    def recipient(self, recipient_id: str) -> Recipient | None:
        """The recipient with this id."""
        return next((r for r in self.recipients if r.id == recipient_id), None)
