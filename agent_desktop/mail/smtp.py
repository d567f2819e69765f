"""Sending one message with smtplib (blocking: run it in a thread), with errors sorted into transient and
permanent, because only a temporary failure is worth retrying.

smtplib rather than an async client: one mail at a time from one task is all the desk needs, and the standard
library avoids a dependency. Every socket operation is bounded by `timeout_s`.

TLS (`[mail] tls`): `require` (the default) refuses to send in the clear, `starttls` upgrades when the server offers
it (an attacker on the path can strip the offer), `none` never upgrades (a sink on the same host, as in the demo). An upgrade always checks the server's certificate
and name against the system's trust store: escalation mails carry citizens' contact data.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from typing import Literal

TlsMode = Literal["starttls", "none", "require"]


class TransientSmtpError(Exception):
    """The server could not be reached or answered 4xx: try again later."""


class PermanentSmtpError(Exception):
    """The server refused the message for good (5xx): retrying would give the same answer."""


def send_smtp(
    host: str,
    port: int,
    message: EmailMessage,
    timeout_s: float,
    tls: TlsMode = "require",
    context: ssl.SSLContext | None = None,
) -> dict[str, tuple[int, bytes]]:
    """Deliver `message` to the SMTP server at host:port (its From/To headers give the envelope). Returns the
    recipients the server refused while accepting others (the message went out: not worth a retry). `context`
    replaces the system's trust store (tests, a private CA)."""
    try:
        with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
            smtp.ehlo_or_helo_if_needed()
            if tls != "none" and smtp.has_extn("starttls"):
                # Without a context smtplib would encrypt but accept any certificate: a man in the middle
                # would read the mail.
                smtp.starttls(context=context or ssl.create_default_context())
                smtp.ehlo()
            elif tls == "require":
                # Transient, not permanent: the relay's configuration may be fixed, and the mail must not be lost.
                raise TransientSmtpError(
                    f"{host}:{port} does not offer STARTTLS and [mail] tls = 'require': the mail is not sent in "
                    "the clear (escalations carry citizens' contact data); give the relay TLS, or set "
                    "tls = 'none' only for a relay on this host"
                )
            refused = smtp.send_message(message)
    except smtplib.SMTPNotSupportedError as exc:
        # A non-ASCII address and a server without SMTPUTF8: every retry would be refused the same way.
        raise PermanentSmtpError(f"{type(exc).__name__}: {exc}") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise _by_code(min(codes) if codes else 0, f"recipients refused: {exc.recipients}") from exc
    except smtplib.SMTPResponseException as exc:
        raise _by_code(exc.smtp_code, f"{exc.smtp_code} {exc.smtp_error!r}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        # Connection refused, time-outs, a dropped connection, a certificate that does not verify: the server
        # (or its certificate) may be fixed later.
        raise TransientSmtpError(f"{type(exc).__name__}: {exc}") from exc
    return refused


def _by_code(code: int, text: str) -> Exception:
    return PermanentSmtpError(text) if 500 <= code < 600 else TransientSmtpError(text)
