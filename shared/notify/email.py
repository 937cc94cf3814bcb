"""E-mail over SMTP (smtplib): one message per notification, to the channel's address."""

from __future__ import annotations

import smtplib
from dataclasses import dataclass
from email.message import EmailMessage

from cronicorn.notify.webhook import Sent

TIMEOUT_S = 10


@dataclass(frozen=True)
class SmtpServer:
    host: str | None  # None: no server configured, e-mail channels cannot deliver
    port: int = 25
    sender: str = "cronicorn@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False


def send_email(server: SmtpServer, to: str, subject: str, text: str) -> Sent:
    """Send one message; a refused recipient or sender is permanent, the rest is retried."""
    if not server.host:
        return Sent("e-mail: no SMTP server configured (CRONICORN_SMTP_HOST)", permanent=False)
    message = EmailMessage()
    message["From"] = server.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(text)
    try:
        with smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_S) as smtp:
            if server.starttls:
                smtp.starttls()
            if server.username:
                smtp.login(server.username, server.password or "")
            smtp.send_message(message)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused) as exc:
        return Sent(f"e-mail: refused: {exc}", permanent=True)
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        return Sent(f"e-mail: {exc.__class__.__name__}: {exc}")
    return Sent(None)
