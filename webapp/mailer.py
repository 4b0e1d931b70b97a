"""Outgoing mail: SMTP when TIFA_SMTP_HOST is set, otherwise a recorder (reminders show in the app).

``send_with_retry`` retries a failed send a bounded number of times with exponential backoff
and reports the last error instead of raising, so a mail server outage never stops a job.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any, Protocol

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@dataclass
class Attachment:
    filename: str
    content: bytes
    maintype: str = XLSX_TYPE[0]
    subtype: str = XLSX_TYPE[1]


@dataclass
class Message:
    to: list[str]
    subject: str
    body: str
    attachments: list[Attachment] = field(default_factory=list)


class Mailer(Protocol):
    #: False for a mailer that only records (mail not configured): notifications say 'recorded'.
    delivers: bool

    def send(self, message: Message) -> None:
        """Send one message or raise."""


class RecordingMailer:
    """Keeps messages in memory instead of sending them (mail not configured; tests)."""

    delivers = False

    def __init__(self) -> None:
        self.messages: list[Message] = []

    def send(self, message: Message) -> None:
        self.messages.append(message)


class SmtpMailer:
    """One SMTP connection per message (jobs send a few hundred mails a day at most)."""

    delivers = True

    def __init__(self, host: str, port: int = 25, security: str = "none", user: str = "", password: str = "",
                 sender: str = "", timeout: float = 30.0, context: ssl.SSLContext | None = None) -> None:
        if security not in ("none", "starttls", "ssl"):
            raise ValueError(f"TIFA_SMTP_SECURITY 应为 none、starttls 或 ssl，而不是 {security!r}")
        self.host, self.port, self.security = host, port, security
        self.user, self.password, self.timeout = user, password, timeout
        self.context = context  # None: the system's trusted CAs and hostname checks
        self.sender = sender or (user if "@" in user else f"tifa@{host}")

    def build(self, message: Message) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = formataddr(("提法卡", self.sender))
        mail["To"] = ", ".join(message.to)
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        mail.set_content(message.body, charset="utf-8")
        for item in message.attachments:
            mail.add_attachment(item.content, maintype=item.maintype, subtype=item.subtype,
                                filename=item.filename)
        return mail

    def send(self, message: Message) -> None:
        mail = self.build(message)
        context = self.context or ssl.create_default_context()
        if self.security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=context)
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(mail, from_addr=self.sender, to_addrs=message.to)


def mailer_from_config(config: Mapping[str, Any]) -> Mailer:
    """SmtpMailer when SMTP_HOST is configured, else a RecordingMailer."""
    if not config.get("SMTP_HOST"):
        return RecordingMailer()
    return SmtpMailer(config["SMTP_HOST"], int(config.get("SMTP_PORT") or 25), config.get("SMTP_SECURITY") or "none",
                      config.get("SMTP_USER") or "", config.get("SMTP_PASSWORD") or "",
                      config.get("SMTP_SENDER") or "")


@dataclass
class SendResult:
    ok: bool
    attempts: int
    error: str = ""


#: Seconds to wait before the 2nd and 3rd attempt.
BACKOFF = (2.0, 8.0)


def send_with_retry(mailer: Mailer, message: Message, backoff: tuple[float, ...] = BACKOFF,
                    sleep: Callable[[float], None] = time.sleep) -> SendResult:
    """Send, retrying after each delay in ``backoff``; never raises for mail errors."""
    error = ""
    for attempt in range(1, len(backoff) + 2):
        try:
            mailer.send(message)
            return SendResult(True, attempt)
        except (smtplib.SMTPException, OSError) as exc:
            error = f"{exc.__class__.__name__}: {exc}"
            # A refused recipient or bad credentials will not fix themselves: stop early.
            if isinstance(exc, smtplib.SMTPRecipientsRefused | smtplib.SMTPAuthenticationError):
                return SendResult(False, attempt, error)
        if attempt <= len(backoff):
            sleep(backoff[attempt - 1])
    return SendResult(False, len(backoff) + 1, error)
