"""Sending one message with smtplib (blocking: run it in a thread), with errors sorted into transient and
permanent, because only a temporary failure is worth retrying.

smtplib rather than an async client: one mail at a time from one task is all the desk needs, and the standard
library avoids a dependency. Every socket operation is bounded by `timeout_s`.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage


class TransientSmtpError(Exception):
    """The server could not be reached or answered 4xx: try again later."""


class PermanentSmtpError(Exception):
    """The server refused the message for good (5xx): retrying would give the same answer."""


def send_smtp(host: str, port: int, message: EmailMessage, timeout_s: float) -> dict[str, tuple[int, bytes]]:
    """Deliver `message` to the SMTP server at host:port (its From/To headers give the envelope). Returns the
    recipients the server refused while accepting others (the message went out: not worth a retry)."""
    try:
        with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
            smtp.ehlo_or_helo_if_needed()
            if smtp.has_extn("starttls"):
                # Opportunistic TLS: a relay that offers it gets it; the demo's and tests' servers do not.
                smtp.starttls()
                smtp.ehlo()
            refused = smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        raise _by_code(min(codes) if codes else 0, f"recipients refused: {exc.recipients}") from exc
    except smtplib.SMTPResponseException as exc:
        raise _by_code(exc.smtp_code, f"{exc.smtp_code} {exc.smtp_error!r}") from exc
    except (OSError, smtplib.SMTPException) as exc:
        # Connection refused, time-outs, a dropped connection: the server may be back later.
        raise TransientSmtpError(f"{type(exc).__name__}: {exc}") from exc
    return refused


def _by_code(code: int, text: str) -> Exception:
    return PermanentSmtpError(text) if 500 <= code < 600 else TransientSmtpError(text)
