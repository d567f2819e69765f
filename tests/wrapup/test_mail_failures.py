"""The outbox when a row cannot be sent: a mail that cannot even be built or whose send fails in an unforeseen way
is marked failed once and the next rows still go out; a server without SMTPUTF8 is a permanent refusal. And
STARTTLS checks the server's certificate ([mail] tls)."""

from __future__ import annotations

import logging
import ssl
from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization

from agent_desktop.mail import MailSettings, Outbox, OutgoingMail, PermanentSmtpError, TransientSmtpError
from agent_desktop.mail.smtp import send_smtp
from agent_desktop.store.store import Store
from tests.helpers.certs import self_signed
from tests.helpers.net import free_port
from tests.wrapup.desks import SmtpSink, _Collect

FROM = "desk@centre.example.be"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(tmp_path / "desk.db")
    yield store
    await store.close()


def _outbox(store: Store, send, port: int = 25) -> Outbox:
    # The sinks here offer no TLS (that refusal is tested in tests/secure/test_mail_tls_default.py).
    return Outbox(store, MailSettings("127.0.0.1", port, FROM, 3.0, tls="none"), send=send)


def _mail(subject: str = "Escalatie", to: str = "team@example.be") -> OutgoingMail:
    return OutgoingMail(kind="escalation", to=(to,), subject=subject, body="Vraag van de burger")


async def test_a_mail_that_cannot_be_built_fails_and_the_next_goes_out(store: Store) -> None:
    sent: list[EmailMessage] = []
    outbox = _outbox(store, lambda host, port, message, timeout_s, tls="starttls": sent.append(message))
    bad = await outbox.enqueue(
        _mail(subject="Escalatie\nBcc: iedereen@example.be")
    )  # a header may not hold a newline
    good = await outbox.enqueue(_mail())
    assert await outbox.send_due() == 1
    assert [m["Subject"] for m in sent] == ["Escalatie"]
    row = await outbox.get(bad)
    assert row["status"] == "failed" and row["attempts"] == 1 and row["last_error"]
    assert (await outbox.get(good))["status"] == "sent"
    assert await outbox._next_wait() == outbox._retry.max_s  # nothing due: no busy loop


async def test_an_unforeseen_send_error_fails_the_row_and_is_logged_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def send(host: str, port: int, message: EmailMessage, timeout_s: float, tls: str = "starttls") -> dict:
        if "ö" in message["To"]:
            raise UnicodeEncodeError("ascii", "jörg", 1, 2, "ordinal not in range(128)")
        return {}

    outbox = _outbox(store, send)
    bad = await outbox.enqueue(_mail(to="jörg@example.be"))
    good = await outbox.enqueue(_mail())
    with caplog.at_level(logging.ERROR, logger="agent_desktop.mail.outbox"):
        assert await outbox.send_due() == 1
        assert await outbox.send_due() == 0  # the failed row is not tried again
    failed = await outbox.get(bad)
    assert failed["status"] == "failed" and "UnicodeEncodeError" in failed["last_error"]
    assert (await outbox.get(good))["status"] == "sent"
    assert len([r for r in caplog.records if f"mail {bad}" in r.getMessage()]) == 1


async def test_no_smtputf8_is_a_permanent_refusal(store: Store) -> None:
    handler = _Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False, ready_timeout=10)
    controller.start()
    try:
        message = _message()
        message.replace_header("To", "jörg@exämple.be")
        with pytest.raises(PermanentSmtpError):
            send_smtp("127.0.0.1", port, message, 3.0, tls="none")
        outbox = _outbox(store, send_smtp, port)
        mail_id = await outbox.enqueue(_mail(to="jörg@exämple.be"))
        assert await outbox.send_due() == 0
        assert (await outbox.get(mail_id))["status"] == "failed"  # not queued for a retry that cannot succeed
        assert handler.messages == []
    finally:
        controller.stop()


# -- STARTTLS ---------------------------------------------------------------------------------------------


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that no default trust store knows."""
    cert, key = self_signed("smtp.test", ip="127.0.0.1")
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path):
    """aiosmtpd on 127.0.0.1 offering STARTTLS with a self-signed certificate; yields (port, cert, handler)."""
    cert, key = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = _Collect()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, ready_timeout=10)
    controller.start()
    try:
        yield port, cert, handler
    finally:
        controller.stop()


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"] = FROM
    message["To"] = "team@example.be"
    message["Subject"] = "Escalatie"
    message.set_content("Jan Janssens, 0471 23 45 67")
    return message


def test_starttls_checks_the_server_certificate(tls_server) -> None:
    port, _cert, handler = tls_server
    with pytest.raises(TransientSmtpError, match="CERTIFICATE_VERIFY_FAILED"):
        send_smtp("127.0.0.1", port, _message(), 3.0)
    assert handler.messages == []  # nothing went out over an unchecked connection


def test_starttls_with_a_trusted_certificate_delivers(tls_server) -> None:
    port, cert, handler = tls_server
    send_smtp("127.0.0.1", port, _message(), 3.0, context=ssl.create_default_context(cafile=str(cert)))
    assert [m["Subject"] for m in handler.messages] == ["Escalatie"]


def test_tls_none_sends_in_the_clear_even_when_offered(tls_server) -> None:
    port, _cert, handler = tls_server
    send_smtp("127.0.0.1", port, _message(), 3.0, tls="none")
    assert len(handler.messages) == 1


def test_tls_require_refuses_a_server_without_starttls() -> None:
    sink = SmtpSink().start()
    try:
        with pytest.raises(TransientSmtpError, match="STARTTLS"):
            send_smtp("127.0.0.1", sink.port, _message(), 3.0, tls="require")
        assert sink.messages == []
    finally:
        sink.stop()
