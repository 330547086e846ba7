"""Alert delivery: subscriptions, e-mail and webhook channels, quiet hours, escalation, retries, delivery log."""

from hub.notify.service import Notifier
from hub.notify.settings import NotifySettings

__all__ = ["Notifier", "NotifySettings"]
