"""The SMTP connection that the weekly summary and the notifications both send through."""

from __future__ import annotations

import smtplib
import ssl

from core.settings import Settings

SMTP_TIMEOUT = 30


class MailDeliveryError(RuntimeError):
    """E-mail could not be delivered (bad settings or the SMTP server refused)."""


def smtp_connect(settings: Settings) -> smtplib.SMTP:
    """A logged-in connection to ``DEALERBOT_SMTP_*``; ``MailDeliveryError`` when there is none."""
    if not settings.smtp_host:
        raise MailDeliveryError("no SMTP server configured: set DEALERBOT_SMTP_HOST")
    try:
        if settings.smtp_tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=SMTP_TIMEOUT,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT)
            if settings.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
    except (OSError, smtplib.SMTPException) as exc:
        raise MailDeliveryError(
            f"cannot use SMTP server {settings.smtp_host}:{settings.smtp_port} "
            f"({settings.smtp_tls}): {exc}"
        ) from exc
    return smtp
