"""Mail over a real SMTP server on loopback (aiosmtpd): recipients, Chinese subject and body, attachments,
bounded retries, and the reminder job's notification rows when a send fails."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from flask import Flask
from smtp_helpers import Inbox, free_port
from sqlalchemy import select

from review_helpers import make_deck
from webapp import jobs
from webapp.db import session_scope
from webapp.mailer import (
    Attachment,
    Message,
    RecordingMailer,
    SmtpMailer,
    mailer_from_config,
    send_with_retry,
)
from webapp.models import Notification

TZ = "Asia/Shanghai"


def body_of(mail: email.message.EmailMessage) -> str:
    # SMTP carries CRLF line ends; compare text as written.
    return mail.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def test_smtp_mailer_sends_chinese_subject_body_and_attachment(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    mailer = SmtpMailer("127.0.0.1", port, sender="tifa@example.edu")
    mailer.send(Message(to=["a@example.edu", "b@example.edu"], subject="提法卡学习周报 2026-W48",
                        body="各位好：\n附件是上周的学习情况。",
                        attachments=[Attachment("学习周报-2026-W48.xlsx", b"PK\x03\x04 fake xlsx")]))
    ((sender, rcpts, mail),) = inbox.received
    assert sender == "tifa@example.edu"
    assert rcpts == ["a@example.edu", "b@example.edu"]
    assert mail["Subject"] == "提法卡学习周报 2026-W48"
    assert "提法卡" in str(mail["From"])
    assert body_of(mail).strip() == "各位好：\n附件是上周的学习情况。"
    (attached,) = list(mail.iter_attachments())
    assert attached.get_filename() == "学习周报-2026-W48.xlsx"
    assert attached.get_content() == b"PK\x03\x04 fake xlsx"


def test_config_picks_smtp_or_recorder() -> None:
    assert isinstance(mailer_from_config({"SMTP_HOST": ""}), RecordingMailer)
    mailer = mailer_from_config({"SMTP_HOST": "mail.example.edu", "SMTP_PORT": 465, "SMTP_SECURITY": "ssl",
                                 "SMTP_USER": "tifa@example.edu", "SMTP_PASSWORD": "x", "SMTP_SENDER": ""})
    assert isinstance(mailer, SmtpMailer)
    assert (mailer.port, mailer.security, mailer.sender) == (465, "ssl", "tifa@example.edu")
    with pytest.raises(ValueError, match="TIFA_SMTP_SECURITY"):
        SmtpMailer("mail.example.edu", security="tls")


def test_failed_send_is_retried_with_bounded_backoff() -> None:
    mailer = SmtpMailer("127.0.0.1", free_port(), timeout=2)  # nothing listens there
    waits: list[float] = []
    result = send_with_retry(mailer, Message(["a@example.edu"], "主题", "正文"), backoff=(2.0, 8.0),
                             sleep=waits.append)
    assert not result.ok
    assert result.attempts == 3
    assert waits == [2.0, 8.0]
    assert "ConnectionRefusedError" in result.error


class FlakyMailer:
    """Fails the first ``failures`` sends, then delivers to ``inner``."""

    delivers = True

    def __init__(self, inner: SmtpMailer, failures: int) -> None:
        self.inner, self.failures = inner, failures

    def send(self, message: Message) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionResetError("connection reset by peer")
        self.inner.send(message)


def test_a_transient_failure_is_retried_then_sent(smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    waits: list[float] = []
    result = send_with_retry(FlakyMailer(SmtpMailer("127.0.0.1", port), failures=1),
                             Message(["a@example.edu"], "主题", "正文"), sleep=waits.append)
    assert (result.ok, result.attempts) == (True, 2)
    assert len(waits) == 1
    assert len(inbox.received) == 1


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=ZoneInfo(TZ)).astimezone(UTC)


def test_reminders_over_smtp(app: Flask, make_user: Callable[..., int], smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    make_user("s1", name="张三", email="s1@example.edu")
    make_user("s2", name="李四", email="s2@example.edu")
    make_deck(app, ["推进{{c1::高质量发展}}", "坚持{{c1::共抓大保护}}、{{c2::不搞大开发}}"])
    mailer = SmtpMailer("127.0.0.1", port, sender="tifa@example.edu")
    with session_scope(app) as db:
        summary = jobs.remind(db, mailer, at(2026, 11, 29, 7, 30), tz=TZ, base_url="https://tifa.example.edu")
    assert summary.startswith("2026-11-29 复习提醒：发送 2")
    by_rcpt = {rcpts[0]: mail for _, rcpts, mail in inbox.received}
    assert set(by_rcpt) == {"s1@example.edu", "s2@example.edu"}
    mail = by_rcpt["s2@example.edu"]
    assert mail["Subject"] == "提法卡：今天有 3 张卡片待复习"
    body = body_of(mail)
    assert body.startswith("李四，您好：")
    assert "https://tifa.example.edu/today" in body
    with session_scope(app) as db:
        rows = db.scalars(select(Notification)).all()
    assert {(r.status, r.attempts, r.day) for r in rows} == {("sent", 1, date(2026, 11, 29))}


def test_reminder_send_failure_is_recorded_not_raised(app: Flask, make_user: Callable[..., int]) -> None:
    make_user("s1", email="s1@example.edu")
    make_deck(app)
    mailer = SmtpMailer("127.0.0.1", free_port(), timeout=2)
    with session_scope(app) as db:
        summary = jobs.remind(db, mailer, at(2026, 11, 29, 7, 30), tz=TZ, sleep=lambda _s: None)
    assert "失败 1" in summary and "ConnectionRefusedError" in summary
    with session_scope(app) as db:
        (row,) = db.scalars(select(Notification)).all()
    assert (row.status, row.attempts) == ("failed", 3)
    assert "ConnectionRefusedError" in row.error
    assert row.sent_at is None


# -- TLS and login --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl CLI)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


class Logins:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:  # noqa: ANN001
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.seen.append((login, password))
        # handled=False: aiosmtpd answers 535 itself (True would mean "already answered").
        return AuthResult(success=(login, password) == ("tifa@example.edu", "s3cret"), handled=False)


def _tls_server(certificate: tuple[Path, Path], implicit: bool, logins: Logins) -> tuple[Controller, Inbox, int]:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(*certificate)
    inbox, port = Inbox(), free_port()
    # aiosmtpd offers AUTH only after STARTTLS unless told the implicit-TLS connection is safe too.
    options = ({"ssl_context": server_context, "auth_require_tls": False} if implicit
               else {"tls_context": server_context, "require_starttls": True})
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=logins, **options)
    controller.start()
    return controller, inbox, port


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_and_login(certificate: tuple[Path, Path], security: str) -> None:
    logins = Logins()
    controller, inbox, port = _tls_server(certificate, security == "ssl", logins)
    try:
        mailer = SmtpMailer("127.0.0.1", port, security=security, user="tifa@example.edu", password="s3cret",
                            timeout=5, context=ssl.create_default_context(cafile=str(certificate[0])))
        mailer.send(Message(["a@example.edu"], "提法卡：加密连接", "正文"))
    finally:
        controller.stop()
    ((_, rcpts, mail),) = inbox.received
    assert rcpts == ["a@example.edu"] and mail["Subject"] == "提法卡：加密连接"
    assert logins.seen == [("tifa@example.edu", "s3cret")]


def test_bad_credentials_are_not_retried(certificate: tuple[Path, Path]) -> None:
    logins = Logins()
    controller, inbox, port = _tls_server(certificate, False, logins)
    try:
        wrong = SmtpMailer("127.0.0.1", port, security="starttls", user="tifa@example.edu", password="wrong",
                           timeout=5, context=ssl.create_default_context(cafile=str(certificate[0])))
        waits: list[float] = []
        result = send_with_retry(wrong, Message(["a@example.edu"], "主题", "正文"), sleep=waits.append)
    finally:
        controller.stop()
    # They will not fix themselves: one attempt, no waiting, the error kept for the jobs page.
    assert (result.ok, result.attempts, waits) == (False, 1, [])
    assert "SMTPAuthenticationError" in result.error
    assert set(logins.seen) == {("tifa@example.edu", "wrong")}
    assert inbox.received == []


def test_untrusted_certificate_is_refused(certificate: tuple[Path, Path]) -> None:
    controller, inbox, port = _tls_server(certificate, False, Logins())
    try:
        mailer = SmtpMailer("127.0.0.1", port, security="starttls", user="tifa@example.edu", password="s3cret",
                            timeout=5)
        with pytest.raises(ssl.SSLCertVerificationError):
            mailer.send(Message(["a@example.edu"], "主题", "正文"))
    finally:
        controller.stop()
    assert inbox.received == []
