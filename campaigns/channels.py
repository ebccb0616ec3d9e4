"""Ways a message reaches a customer, behind one interface: ``send(customer, subject, body)``.

``customer`` is a ``loyalty.Customer``, or a ``PhoneRecipient`` (a bare phone number) for a
transactional message to someone who is not a customer yet; a channel reads only ``phone`` and
``email`` from it.

E-mail goes through Django's mail backend; SMS through an HTTP gateway whose URL is a template
(``SMS_GATEWAY_URL`` with ``{phone}`` and ``{text}``), off unless ``USE_SMS``; the console channel
logs the message (development, ``NOTIFY_CONSOLE``). A Telegram channel plugs in the same way once the
bot exists. ``channel_for`` picks the first channel that reaches the customer.
"""

import logging
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhoneRecipient:
    """The addressee of a transactional message: a phone number only (no e-mail reaches him)."""

    phone: str
    email: str = ""


class ChannelError(Exception):
    """A send that failed and may succeed later (network, gateway, mail server)."""


class EmailChannel:
    name = "email"

    def reaches(self, customer) -> bool:
        return bool(customer.email)

    def send(self, *, customer, subject: str, body: str) -> None:
        try:
            send_mail(subject, body, None, [customer.email])
        except Exception as exc:  # any backend failure is worth a retry, not a crash
            raise ChannelError(f"e-mail: {exc}") from exc


class SmsChannel:
    name = "sms"

    def reaches(self, customer) -> bool:
        return bool(settings.USE_SMS and getattr(settings, "SMS_GATEWAY_URL", ""))

    def send(self, *, customer, subject: str, body: str) -> None:
        url = settings.SMS_GATEWAY_URL.format(
            phone=urllib.parse.quote(customer.phone), text=urllib.parse.quote(body)
        )
        if not url.startswith(("https://", "http://")):
            raise ChannelError("sms: the gateway URL must be http(s)")
        try:
            with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - scheme checked above
                if response.status >= 400:
                    raise ChannelError(f"sms: gateway answered {response.status}")
        except OSError as exc:
            raise ChannelError(f"sms: {exc}") from exc


class ConsoleChannel:
    name = "console"

    def reaches(self, customer) -> bool:
        return bool(getattr(settings, "NOTIFY_CONSOLE", False))

    def send(self, *, customer, subject: str, body: str) -> None:
        logger.info("message to %s: %s\n%s", customer.phone, subject, body)


CHANNELS = [EmailChannel(), SmsChannel(), ConsoleChannel()]


def channel_for(customer):
    for channel in CHANNELS:
        if channel.reaches(customer):
            return channel
    return None
